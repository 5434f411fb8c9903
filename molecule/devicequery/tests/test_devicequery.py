"""Verify edgeai.jetson_cluster.devicequery on the target (testinfra).

The module only reads; what it leaves behind is what the docker CLI test double recorded: the
command line the module promises. And a failing deviceQuery run directly on the host (not
through a playbook) fails the module with deviceQuery's own message.
"""

from testinfra.modules.ansible import AnsibleException

FIXTURES = "/opt/dq-test-fixtures"
MODULE = "edgeai.jetson_cluster.devicequery"


def run_module(host, args):
    # testinfra raises AnsibleException only when the result says "failed", which
    # `ansible --tree` (what testinfra reads) no longer writes with ansible-core 2.19.
    try:
        return host.ansible(MODULE, args, check=False)
    except AnsibleException as exc:
        return exc.result


def test_docker_was_run_with_rm_runtime_and_image(host):
    calls = host.file(FIXTURES + "/docker-argv.log").content_string.splitlines()
    assert "run --rm --runtime nvidia dq-fixture/devicequery:1" in calls
    # check mode may look the image up first; nothing else may have been asked of docker
    assert set(calls) <= {
        "run --rm --runtime nvidia dq-fixture/devicequery:1",
        "image inspect dq-fixture/devicequery:1",
    }


def test_failing_devicequery_fails_with_its_message(host):
    result = run_module(
        host,
        "command='%s/bin/deviceQuery %s/captures/jetson_orin_cuda12_8_fail35.txt'" % (FIXTURES, FIXTURES),
    )
    # "msg" is only set by fail_json; a passing or reported (fail_on_error=false) run has none
    assert result["msg"] == (
        "cudaGetDeviceCount returned 35 -> CUDA driver version is insufficient for CUDA runtime version"
    )
    assert (result["passed"], result["error_code"], result["rc"]) == (False, 35, 1)
