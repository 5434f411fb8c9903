"""tests/harness/kube-node-build.sh keys the node-side build (cri-dockerd, CNI plugins, pause) by
content, like kube-build.sh: the Go sources, go.mod and go.sum under tests/kube-node, the script
and the Go version change the key and so the cache path; jc-runc (copied into the node as it is)
and jc-kube's sources (tests/kube, its own key) do not. Runs the real script with --path on a copy
of the tree (no build)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def tree(tmp_path):
    for part in ("tests/harness/kube-node-build.sh", "tests/harness/lib.sh", "tests/kube/main.go"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(str(ROOT / part), str(tmp_path / part))
    shutil.copytree(str(ROOT / "tests" / "kube-node"), str(tmp_path / "tests" / "kube-node"))
    return tmp_path


def cache_path(tree, cache):
    return subprocess.run([str(tree / "tests/harness/kube-node-build.sh"), "--path"], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True,
                          env={"PATH": "/usr/local/go/bin:/usr/bin:/bin", "HOME": str(tree),
                               "EDGEAI_JC_KUBE_NODE_CACHE": str(cache)}).stdout.strip()


def test_path_is_in_the_machine_cache_and_stable(tree, tmp_path):
    first = cache_path(tree, tmp_path / "cache")
    assert Path(first).parent == tmp_path / "cache"
    assert cache_path(tree, tmp_path / "cache") == first
    assert not (tmp_path / "cache").exists()  # --path builds nothing


@pytest.mark.parametrize("changed, rebuilds", [
    ("kube-node/cri/main.go", True), ("kube-node/cri/go.sum", True), ("kube-node/cni/go.mod", True),
    ("kube-node/pause/main.go", True), ("kube-node/jc-runc", False), ("kube/main.go", False),
])
def test_only_what_the_binaries_are_made_of_changes_the_key(tree, tmp_path, changed, rebuilds):
    before = cache_path(tree, tmp_path / "cache")
    with open(str(tree / "tests" / changed), "a") as handle:
        handle.write("\n// changed\n")
    assert (cache_path(tree, tmp_path / "cache") != before) == rebuilds
