"""What the GPU check leaves behind (molecule/jetson_base_gpu): nothing but the images.

Converge itself asserts the check's verdicts (PASS accepted by the whole role, CUDA error 35 refused by it with its reason).
"""

testinfra_hosts = ["jb-gpu"]


def test_devicequery_containers_are_removed(host):
    with host.sudo():
        assert host.check_output("docker ps --all --quiet --filter name=jetson-base-devicequery") == ""


def test_stand_in_images_are_still_there(host):
    with host.sudo():
        images = host.check_output("docker images --format '{{.Repository}}:{{.Tag}}'").splitlines()
    assert "jb-gpu/devicequery-fake:pass" in images
    assert "jb-gpu/devicequery-fake:fail35" in images
