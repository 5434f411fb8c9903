"""Behaviour of roles/nfs_server/files/jc_dataset.py (dataset generation, manifest, verify)."""

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "nfs_server" / "files" / "jc_dataset.py"
_spec = importlib.util.spec_from_file_location("jc_dataset", SCRIPT)
jc_dataset = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jc_dataset)


def run(capsys, *argv):
    rc = jc_dataset.main([str(a) for a in argv])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, "every command prints exactly one JSON line"
    return rc, json.loads(out[0])


@pytest.fixture
def small_set(tmp_path, capsys):
    rc, result = run(capsys, "generate", tmp_path, "--count", 6, "--width", 64, "--height", 48, "--jobs", 1)
    assert rc == 0
    return tmp_path, result


def test_generate_writes_count_jpegs_and_manifest(small_set):
    root, result = small_set
    images = sorted(p.name for p in root.glob("*.jpg"))
    assert images == ["img_%06d.jpg" % i for i in range(6)]
    assert result["changed"] is True and result["count"] == 6
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["bytes"] == sum(p.stat().st_size for p in root.glob("*.jpg"))


def test_generated_files_are_valid_jpegs_of_the_requested_size(small_set):
    from PIL import Image

    root, _ = small_set
    with Image.open(root / "img_000003.jpg") as img:
        assert img.format == "JPEG" and img.size == (64, 48) and img.mode == "RGB"


def test_generate_again_with_same_parameters_changes_nothing(small_set, capsys):
    root, first = small_set
    mtimes = {p: p.stat().st_mtime_ns for p in root.iterdir()}
    rc, second = run(capsys, "generate", root, "--count", 6, "--width", 64, "--height", 48, "--jobs", 1)
    assert rc == 0 and second["changed"] is False and second["sha256"] == first["sha256"]
    assert mtimes == {p: p.stat().st_mtime_ns for p in root.iterdir()}


def test_generation_is_deterministic_for_a_seed(tmp_path, capsys):
    _, a = run(capsys, "generate", tmp_path / "a", "--count", 3, "--width", 32, "--height", 32, "--jobs", 1)
    _, b = run(capsys, "generate", tmp_path / "b", "--count", 3, "--width", 32, "--height", 32, "--jobs", 1)
    _, c = run(capsys, "generate", tmp_path / "c", "--count", 3, "--width", 32, "--height", 32,
               "--seed", 7, "--jobs", 1)
    assert a["sha256"] == b["sha256"] != c["sha256"]


def test_smaller_regeneration_removes_stale_images(small_set, capsys):
    root, _ = small_set
    rc, result = run(capsys, "generate", root, "--count", 2, "--width", 64, "--height", 48, "--jobs", 1)
    assert rc == 0 and result["count"] == 2
    assert sorted(p.name for p in root.glob("*.jpg")) == ["img_000000.jpg", "img_000001.jpg"]


def test_manifest_digest_covers_sorted_path_and_checksum_lines(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.JPG").write_bytes(b"bbb")
    (tmp_path / "sub" / "a.jpeg").write_bytes(b"aa")
    (tmp_path / "notes.txt").write_text("not an image")
    rc, result = run(capsys, "manifest", tmp_path)
    assert rc == 0 and result["count"] == 2 and result["bytes"] == 5
    lines = "".join(
        "%s\t%s\n" % (path, hashlib.sha256(data).hexdigest())
        for path, data in sorted([("b.JPG", b"bbb"), ("sub/a.jpeg", b"aa")])
    )
    assert result["sha256"] == hashlib.sha256(lines.encode()).hexdigest()


def test_manifest_rewrite_reports_unchanged(small_set, capsys):
    root, _ = small_set
    rc, result = run(capsys, "manifest", root)
    assert rc == 0 and result["changed"] is False


def test_verify_passes_on_an_intact_dataset(small_set, capsys):
    root, _ = small_set
    rc, result = run(capsys, "verify", root)
    assert rc == 0 and result["ok"] is True and result["problems"] == []


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda root: (root / "img_000002.jpg").unlink(), "1 file(s) missing, e.g. img_000002.jpg"),
        (lambda root: (root / "extra.jpg").write_bytes(b"x"), "1 file(s) not in the manifest, e.g. extra.jpg"),
        (lambda root: (root / "img_000001.jpg").write_bytes(b"truncated"), "img_000001.jpg: 9 bytes"),
    ],
    ids=["missing-file", "extra-file", "truncated-file"],
)
def test_verify_names_what_is_wrong(small_set, capsys, damage, expected):
    root, _ = small_set
    damage(root)
    rc, result = run(capsys, "verify", root)
    assert rc == 1 and result["ok"] is False
    assert any(expected in problem for problem in result["problems"]), result["problems"]


def test_verify_detects_same_size_corruption_only_with_checksums(small_set, capsys):
    root, _ = small_set
    path = root / "img_000004.jpg"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert run(capsys, "verify", root, "--quick")[0] == 0
    rc, result = run(capsys, "verify", root)
    assert rc == 1 and "img_000004.jpg: sha256 differs" in result["problems"][0]


def test_missing_directory_is_a_clear_error(tmp_path, capsys):
    rc, result = run(capsys, "manifest", tmp_path / "nope")
    assert rc == 2 and "does not exist" in result["error"]


def test_verify_without_manifest_says_how_to_make_one(tmp_path, capsys):
    rc, result = run(capsys, "verify", tmp_path)
    assert rc == 2 and "jc_dataset.py manifest" in result["error"]


def test_corrupt_manifest_is_a_clear_error(small_set, capsys):
    root, _ = small_set
    (root / "manifest.json").write_text("{not json")
    rc, result = run(capsys, "verify", root)
    assert rc == 2 and "not valid JSON" in result["error"]
