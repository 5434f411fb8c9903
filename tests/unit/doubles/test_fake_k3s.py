"""The k3s test double reads the config files the roles write as k3s would, and no more.

The Molecule scenarios trust the double's record of what "k3s" was given; these tests pin its
small config reader (it runs where PyYAML is not installed) to the real YAML meaning of every
golden config.yaml, and make sure it stops on YAML it cannot read instead of guessing. The
double as make_fixtures.py builds it refuses keys and flags that the pinned k3s release does
not have (so a misspelt key fails a test instead of doing nothing, as in real k3s), and, like
k3s started with --docker, has no containerd for `k3s ctr`.
"""

import gzip
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import yaml

ROOT = Path(__file__).resolve().parents[3]
GOLDEN_CONFIGS = sorted((ROOT / "tests" / "fixtures" / "k3s").glob("*/config.yaml.golden"))


def load_double():
    path = str(ROOT / "tests" / "doubles" / "k3s" / "fake-k3s")
    loader = importlib.machinery.SourceFileLoader("fake_k3s", path)
    spec = importlib.util.spec_from_loader("fake_k3s", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


FAKE_K3S = load_double()


def test_there_are_golden_configs_to_read():
    assert len(GOLDEN_CONFIGS) >= 4


@pytest.mark.parametrize("path", GOLDEN_CONFIGS, ids=lambda path: path.parent.name)
def test_double_reads_a_role_config_like_yaml(path):
    text = path.read_text()
    assert FAKE_K3S.parse_config(text) == yaml.safe_load(text)


def test_double_reads_indented_lists_too():
    text = "node-label:\n  - node-type=worker\n  - camera=csi\ndocker: true\n"
    assert FAKE_K3S.parse_config(text) == yaml.safe_load(text)


def test_double_refuses_nested_maps():
    with pytest.raises(SystemExit):
        FAKE_K3S.parse_config("kubelet:\n  max-pods: 30\n")


def test_double_refuses_to_run_unbuilt():
    # The template in the repository has no version: only make_fixtures.py output runs.
    with pytest.raises(SystemExit):
        FAKE_K3S.main(["k3s", "--version"])


# ---------------------------------------------------------------- the pinned release's flags

sys.path.insert(0, str(ROOT / "tests" / "doubles" / "k3s"))
import make_fixtures  # noqa: E402  (tests/doubles/k3s is not a package)

FLAGS = json.loads((ROOT / "tests" / "doubles" / "k3s" / "k3s-flags.json").read_text())
GOLDEN_BY_COMMAND = [(path, "server" if path.parent.name.startswith("server") else "agent")
                     for path in GOLDEN_CONFIGS]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The double as make_fixtures.py builds it for the nodes: version, arch and flags baked in."""
    path = tmp_path_factory.mktemp("double") / "k3s"
    machine = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}[platform.machine()]
    path.write_text(make_fixtures.build_double("v1.30.14+k3s1", machine))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def built_module(built):
    loader = importlib.machinery.SourceFileLoader("fake_k3s_built", str(built))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("fake_k3s_built", loader))
    loader.exec_module(module)
    return module


def run_double(built, *args, env=None):
    return subprocess.run([sys.executable, str(built)] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=dict(os.environ, **(env or {})), timeout=60, check=False)


def test_flag_list_names_its_release_and_source():
    assert FLAGS["k3s_version"] == "v1.30.14+k3s1"
    assert "k3s-io/k3s pkg/cli/cmds/server.go" in FLAGS["source"]


@pytest.mark.parametrize("path, command", GOLDEN_BY_COMMAND, ids=[path.parent.name for path, _ in GOLDEN_BY_COMMAND])
def test_every_key_the_roles_write_is_a_flag_of_the_release(built_module, path, command):
    config = built_module.parse_config(path.read_text())
    built_module.check_settings(command, str(path), config, {})  # exits on an unknown key


@pytest.mark.parametrize("command, key", [("agent", "node-taints"), ("server", "cluster-cidrs"),
                                          ("agent", "tls-san"), ("server", "nodeip")])
def test_a_config_key_that_is_no_flag_stops_the_double(built, tmp_path, command, key):
    config = tmp_path / "config.yaml"
    config.write_text("%s: x\n" % key)
    result = run_double(built, command, "--config", str(config))
    assert result.returncode == 1
    assert "%r is not a flag of `k3s %s` v1.30.14+k3s1" % (key, command) in result.stderr


def test_a_command_line_flag_that_is_no_flag_stops_the_double(built, tmp_path):
    result = run_double(built, "server", "--config", str(tmp_path / "absent.yaml"), "--node-taints", "a=b:NoSchedule")
    assert result.returncode == 1
    assert "flag provided but not defined: -node-taints" in result.stderr


def test_a_boolean_flag_refuses_other_values(built, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("docker: enabled\n")
    result = run_double(built, "agent", "--config", str(config))
    assert result.returncode == 1 and "invalid boolean value 'enabled' for flag -docker" in result.stderr


def test_appending_keys_and_short_aliases_are_flags_too(built_module):
    built_module.check_settings("server", "config.yaml", {"node-label+": ["a=b"], "d": "/srv/k3s"}, {"o": ["k.yaml"]})


# ---------------------------------------------------------------- what the double honours (the real control plane)


# The custom configs carry extra_config keys: flannel-backend and kubelet-arg cannot be honoured
# (no flannel, no kubelet: kwok plays the nodes), so the double refuses them instead of ignoring them.
REFUSED = {"server-default": "", "agent-default": "", "server-custom": "flannel-backend", "agent-custom": "kubelet-arg"}


@pytest.mark.parametrize("path, command", GOLDEN_BY_COMMAND, ids=[path.parent.name for path, _ in GOLDEN_BY_COMMAND])
def test_the_double_honours_what_the_roles_write_and_refuses_what_it_cannot(built_module, path, command, capsys):
    config = built_module.parse_config(path.read_text())
    settings = dict((key.rstrip("+"), value) for key, value in config.items())
    if not REFUSED[path.parent.name]:
        built_module.check_honoured(command, settings)
        return
    with pytest.raises(SystemExit):
        built_module.check_honoured(command, settings)
    assert "cannot honour %s (k3s %s)" % (REFUSED[path.parent.name], command) in capsys.readouterr().err


@pytest.mark.parametrize("command, line", [("server", "flannel-backend: none"), ("server", "disable-scheduler: true"),
                                           ("agent", "kubelet-arg: [max-pods=30]"), ("server", "protect-kernel-defaults: true")])
def test_a_k3s_setting_the_double_cannot_honour_stops_it_loudly(built, tmp_path, command, line):
    config = tmp_path / "config.yaml"
    config.write_text(line.replace("[max-pods=30]", "\n  - max-pods=30") + "\n")
    result = run_double(built, command, "--config", str(config), env={"K3S_DOUBLE_JC_KUBE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "the k3s test double cannot honour %s (k3s %s)" % (line.split(":")[0], command) in result.stderr


def test_the_server_stops_loudly_without_the_real_components(built, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("node-taint:\n  - node-role.kubernetes.io/control-plane=true:NoSchedule\n")
    result = run_double(built, "server", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                        env={"K3S_DOUBLE_JC_KUBE_DIR": str(tmp_path / "absent")})
    assert result.returncode == 1
    assert "%s/jc-kube is missing" % (tmp_path / "absent") in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("text, taint", [
    ("node-role.kubernetes.io/control-plane=true:NoSchedule",
     {"key": "node-role.kubernetes.io/control-plane", "value": "true", "effect": "NoSchedule"}),
    ("dedicated:NoExecute", {"key": "dedicated", "effect": "NoExecute"})])
def test_node_taints_in_k3s_syntax_become_node_taints(built_module, text, taint):
    assert built_module.parse_taint(text) == taint


@pytest.mark.parametrize("text", ["gpu=true", "gpu=true:NoScheduled"])
def test_a_malformed_node_taint_stops_the_double(built_module, text):
    with pytest.raises(SystemExit):
        built_module.parse_taint(text)


def test_the_first_service_address_is_the_api_servers(built_module):
    assert built_module.first_service_ip("10.53.0.0/16") == "10.53.0.1"
    assert built_module.first_service_ip("10.43.0.0/16") == "10.43.0.1"


# ---------------------------------------------------------------- ctr: no containerd with --docker


def test_ctr_fails_like_k3s_when_k3s_runs_on_docker(built, tmp_path):
    # docker: true -> k3s starts no containerd -> /run/k3s/containerd/containerd.sock is absent.
    # This is what the old gpu_workloads default (containerd store) ran into on every board.
    socket_path = tmp_path / "containerd.sock"
    result = run_double(built, "ctr", "--address", str(socket_path), "--namespace", "k8s.io", "images", "import",
                        str(tmp_path / "image.tar"))
    assert result.returncode == 1
    assert result.stderr.startswith('ctr: failed to dial "%s": context deadline exceeded' % socket_path)
    assert "connect: no such file or directory" in result.stderr


def test_ctr_imports_into_k3s_containerd_and_crictl_finds_it(built, tmp_path):
    # docker: false -> k3s runs its containerd (the double listens on its socket).
    socket_path = tmp_path / "containerd.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(4)
    archive = tmp_path / "image.tar"
    archive.write_bytes(gzip.decompress(make_fixtures.image_archive("v1.30.14+k3s1", "arm64")))
    env = {"K3S_DATA_DIR": str(tmp_path / "data"), "CONTAINER_RUNTIME_ENDPOINT": "unix://%s" % socket_path}
    try:
        imported = run_double(built, "ctr", "-a", str(socket_path), "-n", "k8s.io", "images", "import", str(archive),
                              env=env)
        inspected = run_double(built, "crictl", "inspecti", "--output", "json", "k3s-test-double/pause:v1.30.14-k3s1",
                               env=env)
    finally:
        listener.close()
    assert imported.returncode == 0, imported.stderr
    assert inspected.returncode == 0, inspected.stderr
    with tarfile.open(str(archive)) as handle:
        config_name = json.load(handle.extractfile("manifest.json"))[0]["Config"]
        expected = "sha256:" + hashlib.sha256(handle.extractfile(config_name).read()).hexdigest()
    assert json.loads(inspected.stdout)["status"]["id"] == expected


def test_crictl_does_not_find_an_image_that_was_not_imported(built, tmp_path):
    socket_path = tmp_path / "containerd.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(4)
    try:
        result = run_double(built, "crictl", "inspecti", "jc-infer:latest",
                            env={"K3S_DATA_DIR": str(tmp_path), "CONTAINER_RUNTIME_ENDPOINT": str(socket_path)})
    finally:
        listener.close()
    assert result.returncode == 1 and 'no such image "jc-infer:latest" present' in result.stderr


# ---- which plays a node: a real kubelet (docker: true, builds mounted, same arch, jc-runc) or kwok


def test_elf_arch_reads_the_machine_of_real_binaries(tmp_path):
    # /bin/sh of the machine running the tests, and a 20-byte header of an aarch64 ELF.
    assert FAKE_K3S.elf_arch("/bin/sh") == {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine())
    arm64 = tmp_path / "arm64"
    arm64.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\xb7\x00")
    assert FAKE_K3S.elf_arch(str(arm64)) == "arm64"
    text = tmp_path / "script"
    text.write_text("#!/bin/sh\n")
    assert FAKE_K3S.elf_arch(str(text)) is None
    (tmp_path / "short").write_bytes(b"\x7fELF\x02")  # a truncated header
    assert FAKE_K3S.elf_arch(str(tmp_path / "short")) is None
    assert FAKE_K3S.elf_arch(str(tmp_path / "missing")) is None


def test_without_docker_true_kwok_plays_the_node():
    mode, why = FAKE_K3S.node_mode({"docker": False}, {})
    assert (mode, "docker: true" in why) == ("kwok", True)


def test_without_the_kube_node_build_kwok_plays_the_node(monkeypatch, tmp_path):
    monkeypatch.setattr(FAKE_K3S, "JC_KUBE_DIR", str(tmp_path / "jc-kube"))
    monkeypatch.setattr(FAKE_K3S, "JC_KUBE_NODE_DIR", str(tmp_path / "jc-kube-node"))
    mode, why = FAKE_K3S.node_mode({"docker": True}, {})
    assert mode == "kwok"
    assert str(tmp_path / "jc-kube-node" / "cri-dockerd") in why and "not mounted" in why


def _amd64_builds(monkeypatch, tmp_path):
    """Both builds mounted, their binaries x86-64 ELF headers (what node_mode reads)."""
    for path in ("jc-kube/jc-kube", "node/cri-dockerd", "node/cni/bridge", "node/pause"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00\x3e\x00")
        (tmp_path / path).chmod(0o755)
    monkeypatch.setattr(FAKE_K3S, "JC_KUBE_DIR", str(tmp_path / "jc-kube"))
    monkeypatch.setattr(FAKE_K3S, "JC_KUBE_NODE_DIR", str(tmp_path / "node"))


def test_a_build_of_another_architecture_leaves_the_node_to_kwok(monkeypatch, tmp_path):
    _amd64_builds(monkeypatch, tmp_path)
    monkeypatch.setattr(FAKE_K3S, "DOUBLE_ARCH", "arm64")
    assert FAKE_K3S.node_mode({"docker": True}, {}) == ("kwok", "the kube-node build is amd64, this node is arm64")


def test_a_node_docker_without_jc_runc_leaves_the_node_to_kwok(monkeypatch, tmp_path):
    _amd64_builds(monkeypatch, tmp_path)
    monkeypatch.setattr(FAKE_K3S, "DOUBLE_ARCH", "amd64")
    answers = {"runc": (200, {"DefaultRuntime": "runc", "CgroupDriver": "cgroupfs"}),
               "jc-runc": (200, {"DefaultRuntime": "jc-runc", "CgroupDriver": "cgroupfs"})}
    monkeypatch.setattr(FAKE_K3S, "docker_api", lambda method, path: answers["runc"])
    mode, why = FAKE_K3S.node_mode({"docker": True}, {})
    assert mode == "kwok" and "default runtime is runc, not jc-runc" in why
    monkeypatch.setattr(FAKE_K3S, "docker_api", lambda method, path: answers["jc-runc"])
    docker = {}
    assert FAKE_K3S.node_mode({"docker": True}, docker)[0] == "kubelet"
    assert docker["cgroup_driver"] == "cgroupfs"


def test_kubelet_labels_are_node_label_plus_k3s_own():
    labels = FAKE_K3S.kubelet_labels({"node-ip": "172.30.40.11", "node-label": ["node-type=worker"]}, "agent1")
    assert labels.split(",") == ["k3s.io/hostname=agent1", "k3s.io/internal-ip=172.30.40.11",
                                 "node-type=worker", "node.kubernetes.io/instance-type=k3s"]


@given(st.binary(max_size=64))
@settings(max_examples=200)
def test_elf_arch_never_raises_on_any_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("elf") / "binary"
    path.write_bytes(data)
    assert FAKE_K3S.elf_arch(str(path)) in (None, "amd64", "arm64", "arm")
