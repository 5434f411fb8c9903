"""tests/harness/kube-build.sh keys the jc-kube build by content: what the binary is made of
(Go sources, go.mod, go.sum, the script, the Go version) changes the key and so the cache path;
anything else in tests/kube (docs, the kubelet probe) does not. Runs the real script with --path
on a copy of the tree (no build)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def tree(tmp_path):
    for part in ("tests/harness/kube-build.sh", "tests/harness/lib.sh"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(str(ROOT / part), str(tmp_path / part))
    shutil.copytree(str(ROOT / "tests" / "kube"), str(tmp_path / "tests" / "kube"))
    return tmp_path


def cache_path(tree, cache):
    return subprocess.run([str(tree / "tests/harness/kube-build.sh"), "--path"], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True,
                          env={"PATH": "/usr/local/go/bin:/usr/bin:/bin", "HOME": str(tree),
                               "EDGEAI_JC_KUBE_CACHE": str(cache)}).stdout.strip()


def test_path_is_in_the_machine_cache_and_stable(tree, tmp_path):
    first = cache_path(tree, tmp_path / "cache")
    assert Path(first).parent.parent == tmp_path / "cache" and Path(first).name == "jc-kube"
    assert cache_path(tree, tmp_path / "cache") == first
    assert not (tmp_path / "cache").exists()  # --path builds nothing


@pytest.mark.parametrize("changed, rebuilds", [
    ("main.go", True), ("go.sum", True), ("kwok/go.mod", True), ("README.md", False), ("kubelet-probe.sh", False),
])
def test_only_what_the_binary_is_made_of_changes_the_key(tree, tmp_path, changed, rebuilds):
    before = cache_path(tree, tmp_path / "cache")
    with open(str(tree / "tests" / "kube" / changed), "a") as handle:
        handle.write("\n// changed\n")
    assert (cache_path(tree, tmp_path / "cache") != before) == rebuilds
