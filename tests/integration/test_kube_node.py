"""A REAL kubelet runs pods through cri-dockerd on the node's Docker, in one of the lab's
unprivileged systemd host containers (issue 17, stage 2; tests/kube/README.md, "Stage 2").

The node is a systemd container made exactly as the lab and Molecule make one
(playbooks/vars/systemd_host.yml: explicit capability list, no --privileged, cgroup v1, host cgroup
namespace, its devices: /dev/kmsg for the kubelet's OOM watcher; its read-only mounts of the
builds at /opt/jc-kube, /opt/jc-kube-node and /opt/jc-runc) plus /var/lib/docker on a volume, Debian's
docker.io (Docker 20.10, the node's Docker), and the kernel tunables the kubelet insists on shown
to it inside the container (bind-mounted files over /proc/sys, never written to the machine).

jc-kube's kubelet (tests/kube, Kubernetes 1.30.14, the pinned k3s release's) runs standalone with
static pods, cri-dockerd v0.3.14 (k3s's own --docker path) in front of that Docker, and CNI's
bridge/host-local/loopback/portmap for pod networking (tests/kube-node, built by
tests/harness/kube-node-build.sh). What the kubelet reports about its pods is read from its own
API (/pods on port 10250).

The image-store question of issue 17, for real: with k3s on Docker, an image `docker load`ed on
the node runs with imagePullPolicy: Never; one imported into containerd's image store (what
`k3s ctr images import` / the old airgap default did) is not seen by Docker, so its pod stays
Waiting with reason ErrImageNeverPull.
"""

import json
import os
import ssl
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.kube, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
KUBE_BUILD = ROOT / "tests" / "harness" / "kube-build.sh"
NODE_BUILD = ROOT / "tests" / "harness" / "kube-node-build.sh"
HOST_VARS = yaml.safe_load((ROOT / "playbooks" / "vars" / "systemd_host.yml").read_text())
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
NODE = "edgeai-jc-kube-node-%s" % WORKER
NODE_NAME = "kube-node"
JC_RUNC = ROOT / "tests" / "kube-node" / "jc-runc"
VOLUME = NODE + "-docker"
PAUSE = "edgeai-jc-test/kube-node-pause:%s" % WORKER
LOADED = "edgeai-jc-test/kube-node-workload:docker-load"
IMPORTED = "edgeai-jc-test/kube-node-workload:ctr-import"
# The values kubelet's container manager requires (pkg/kubelet/cm setupKernelTunables, with
# protectKernelDefaults: true it only checks them). They are machine-wide, so they are never set.
TUNABLES = {"vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10", "kernel/panic_on_oops": "1"}

KUBELET_CONFIG = {
    "apiVersion": "kubelet.config.k8s.io/v1beta1",
    "kind": "KubeletConfiguration",
    "cgroupDriver": "cgroupfs",
    "failSwapOn": False,
    "cgroupsPerQOS": False,
    "enforceNodeAllocatable": [],
    "localStorageCapacityIsolation": False,
    "protectKernelDefaults": True,
    "staticPodPath": "/etc/kubernetes/manifests",
    "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
    "authorization": {"mode": "AlwaysAllow"},
}
CNI_CONFIG = {
    "cniVersion": "1.0.0",
    "name": "jc-pods",
    "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.42.1.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}


def run(*args, check=True, timeout=600, **kwargs):
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode:
        raise AssertionError("%s failed (%d): %s" % (" ".join(args[:4]), proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    return proc


def node(*command, check=True, timeout=600, **kwargs):
    return run("docker", "exec", "-i", NODE, *command, check=check, timeout=timeout, **kwargs)


def built(script, what):
    path = Path(run(str(script), "--path").stdout.strip())
    if not path.exists():
        raise AssertionError("%s is not built for the current sources (%s): run %s (make bootstrap does)"
                             % (what, path, script.relative_to(ROOT)))
    return path


def image(tmp, tag, cmd):
    """A one-binary image (tests/kube-node/pause) made with docker import: no registry needed."""
    archive = tmp / ("%s.tar" % tag.replace("/", "_").replace(":", "_"))
    with tarfile.open(archive, "w") as tar:
        tar.add(str(built(NODE_BUILD, "cri-dockerd") / "pause"), arcname="pause")
    changes = ['ENTRYPOINT ["/pause"]'] + (['CMD %s' % json.dumps(cmd)] if cmd else [])
    run("docker", "import", *sum((["--change", c] for c in changes), []), str(archive), tag)
    return tag


def kubelet_pods(address):
    """The pods as the kubelet itself reports them (GET /pods, anonymous as configured)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen("https://%s:10250/pods" % address, context=context, timeout=10) as response:
        # Static pods are named <manifest's name>-<node name>.
        return {pod["metadata"]["name"][:-len(NODE_NAME) - 1]: pod for pod in json.load(response)["items"]}


@pytest.fixture(scope="module")
def kube_node(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kube-node")
    kubelet_binary = built(KUBE_BUILD, "jc-kube")
    node_dir = built(NODE_BUILD, "cri-dockerd")
    run("docker", "rm", "-f", NODE, check=False)
    run("docker", "volume", "rm", "-f", VOLUME, check=False)
    caps = sum((["--cap-add", cap] for cap in HOST_VARS["systemd_host_capabilities"]), [])
    opts = sum((["--security-opt", opt] for opt in HOST_VARS["systemd_host_security_opts"]), [])
    # systemd_host_volumes, rendered: the plain list plus the builds at the paths the recipe mounts
    # them (/opt/jc-kube, /opt/jc-kube-node, /opt/jc-runc; read-only), and systemd_host_devices.
    vols = sum((["-v", vol] for vol in HOST_VARS["systemd_host_base_volumes"] + [
        "%s:/opt/jc-kube:ro" % kubelet_binary.parent, "%s:/opt/jc-kube-node:ro" % node_dir,
        "%s:/opt/jc-runc:ro" % JC_RUNC]), [])
    devices = sum((["--device", device] for device in HOST_VARS["systemd_host_devices"]), [])
    tmpfs = sum((["--tmpfs", path] for path in HOST_VARS["systemd_host_tmpfs"]), [])
    run("docker", "run", "-d", "--name", NODE, "--hostname", "kube-node", "--cap-drop", "ALL", *caps, *opts,
        "--cgroupns=host", *vols, *tmpfs, *devices, "-v", "%s:/var/lib/docker" % VOLUME,
        "--label", "edgeai.jc.owner=pytest-kube-node", HOST_VARS["systemd_host_images"]["amd64"], "/lib/systemd/systemd")
    try:
        for _ in range(60):
            state = node("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        node("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
             "--no-install-recommends docker.io iptables >/dev/null", timeout=900)
        node("sh", "-c", "for _ in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")
        # The node's Docker runs containers through jc-runc (runc, negative OOM scores clamped to 0).
        node("sh", "-c", "cat > /etc/docker/daemon.json && systemctl restart docker", input=json.dumps(
            {"runtimes": {"jc-runc": {"path": "/opt/jc-runc"}}, "default-runtime": "jc-runc"}))
        node("sh", "-c", "for _ in $(seq 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")
        node("mkdir", "-p", "/etc/cni/net.d", "/etc/kubernetes/manifests", "/run/jc-sysctl")
        node("sh", "-c", "cat > /etc/cni/net.d/10-jc-pods.conflist", input=json.dumps(CNI_CONFIG))
        node("sh", "-c", "cat > /etc/kubernetes/kubelet.yaml", input=yaml.safe_dump(KUBELET_CONFIG))
        for key, value in TUNABLES.items():
            shown = "/run/jc-sysctl/" + key.replace("/", "_")
            node("sh", "-c", 'echo %s > %s; [ "$(cat /proc/sys/%s)" = %s ] || mount --bind %s /proc/sys/%s'
                 % (value, shown, key, value, shown, key))
        # The images: the sandbox's pause and one workload image docker-loaded, one ctr-imported.
        image(tmp, PAUSE, None)
        image(tmp, LOADED, ["image loaded with docker load runs"])
        image(tmp, IMPORTED, ["image imported with ctr runs"])
        with open(tmp / "docker-load.tar", "wb") as out:
            subprocess.run(["docker", "save", PAUSE, LOADED], stdout=out, check=True, timeout=300)
        with open(tmp / "docker-load.tar", "rb") as archive:
            subprocess.run(["docker", "exec", "-i", NODE, "docker", "load"], stdin=archive, check=True,
                           capture_output=True, timeout=300)
        with open(tmp / "ctr-import.tar", "wb") as out:
            subprocess.run(["docker", "save", IMPORTED], stdout=out, check=True, timeout=300)
        run("docker", "cp", str(tmp / "ctr-import.tar"), "%s:/root/ctr-import.tar" % NODE)
        node("ctr", "-n", "k8s.io", "images", "import", "/root/ctr-import.tar")
        node("systemd-run", "--unit=cri-docker", "/opt/jc-kube-node/cri-dockerd",
             "--container-runtime-endpoint=unix:///run/cri-dockerd.sock", "--network-plugin=cni",
             "--cni-bin-dir=/opt/jc-kube-node/cni", "--cni-conf-dir=/etc/cni/net.d", "--pod-infra-container-image=" + PAUSE)
        # The kubelet refuses to start until the CRI socket answers (seen under load: it started first
        # and exited 1), so wait for the socket, and restart it on failure as kubeadm's unit does.
        node("sh", "-c", "for _ in $(seq 120); do [ -S /run/cri-dockerd.sock ] && exit 0; sleep 0.5; done; "
             "echo 'cri-dockerd made no socket in 60 s' >&2; exit 1")
        node("systemd-run", "--unit=kubelet", "--property=Restart=on-failure", "--property=RestartSec=2",
             "/opt/jc-kube/jc-kube", "kubelet", "--v=2",
             "--config=/etc/kubernetes/kubelet.yaml", "--container-runtime-endpoint=unix:///run/cri-dockerd.sock",
             "--hostname-override=" + NODE_NAME)
        for name, tag in (("image-docker-load", LOADED), ("image-ctr-import", IMPORTED)):
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                   "spec": {"containers": [{"name": "workload", "image": tag, "imagePullPolicy": "Never"}]}}
            node("sh", "-c", "cat > /etc/kubernetes/manifests/%s.yaml" % name, input=yaml.safe_dump(pod))
        address = run("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                      NODE).stdout.split()[0]
        yield address
    finally:
        logs = node("sh", "-c", "journalctl -u kubelet -u cri-docker --no-pager | tail -n 60", check=False)
        print(logs.stdout[-6000:])
        run("docker", "rm", "-f", NODE, check=False)
        run("docker", "volume", "rm", "-f", VOLUME, check=False)
        for tag in (PAUSE, LOADED, IMPORTED):
            run("docker", "rmi", "-f", tag, check=False)


def wait_for(address, check, seconds=240):
    last = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            last = kubelet_pods(address)
            if check(last):
                return last
        except OSError as error:
            last = error
        time.sleep(3)
    raise AssertionError("the kubelet did not get there in %ds; last answer: %s" % (seconds, str(last)[:3000]))


def container_status(pod):
    return (pod.get("status", {}).get("containerStatuses") or [{}])[0]


def test_a_docker_loaded_image_runs_with_image_pull_policy_never(kube_node):
    pods = wait_for(kube_node, lambda pods: "running" in container_status(pods.get("image-docker-load", {})).get("state", {}))
    pod = pods["image-docker-load"]
    assert pod["status"]["phase"] == "Running"
    assert container_status(pod)["image"].endswith(LOADED.split("/", 1)[1])
    # A pod IP from the CNI bridge's range: the sandbox went through bridge + host-local.
    assert pod["status"]["podIP"].startswith("10.42.1."), pod["status"]
    logs = node("sh", "-c", "docker logs $(docker ps -q --filter label=io.kubernetes.pod.name=%s "
                "--filter label=io.kubernetes.container.name=workload)" % pod["metadata"]["name"])
    assert "image loaded with docker load runs" in logs.stdout + logs.stderr


def test_an_image_imported_into_containerd_is_not_found_with_docker(kube_node):
    pods = wait_for(kube_node, lambda pods: "waiting" in container_status(pods.get("image-ctr-import", {})).get("state", {})
                    and container_status(pods["image-ctr-import"])["state"]["waiting"].get("reason") == "ErrImageNeverPull")
    waiting = container_status(pods["image-ctr-import"])["state"]["waiting"]
    assert waiting["reason"] == "ErrImageNeverPull"
    assert IMPORTED in waiting["message"]
    # The image IS on the node, in containerd's store (where `k3s ctr images import` puts it).
    assert "docker.io/" + IMPORTED in node("ctr", "-n", "k8s.io", "images", "ls", "-q").stdout.split()
