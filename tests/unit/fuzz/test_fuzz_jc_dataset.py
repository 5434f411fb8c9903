"""Fuzzing the dataset manifest reader of roles/nfs_server/files/jc_dataset.py with Hypothesis.

The seed is a real manifest: the one `jc_dataset.py generate` writes for a small dataset, next to
its images. Mutated as JSON (values replaced deep inside, keys dropped or added) and as bytes,
`verify` returns a list of problems or raises DatasetError with a message, and the command line
exits 0, 1 or 2 with one JSON line; never a traceback."""

import contextlib
import importlib.util
import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz_strategies import mutated_bytes, mutated_json

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "nfs_server" / "files" / "jc_dataset.py"
_spec = importlib.util.spec_from_file_location("jc_dataset_fuzzed", SCRIPT)
jc_dataset = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jc_dataset)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    jc_dataset.generate(str(root), 4, 16, 12, 80, 0, 1)
    return root


@pytest.fixture(scope="module")
def seed(dataset):
    return json.loads((dataset / "manifest.json").read_text())


def verify_or_clear_error(root):
    try:
        problems = jc_dataset.verify(str(root))
    except jc_dataset.DatasetError as exc:
        assert str(exc).strip()
        return None
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)
    return problems


def run_cli(root):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = jc_dataset.main(["verify", str(root)])
    lines = out.getvalue().strip().splitlines()
    assert rc in (0, 1, 2) and len(lines) == 1
    return rc, json.loads(lines[0])


def with_manifest(dataset, tmp_path_factory, data):
    root = tmp_path_factory.mktemp("copy")
    for image in dataset.glob("*.jpg"):
        shutil.copy(image, root / image.name)
    (root / "manifest.json").write_bytes(data)
    return root


def test_the_seed_verifies(dataset):
    assert verify_or_clear_error(dataset) == []
    assert run_cli(dataset)[0] == 0


@given(data=st.data())
def test_mutated_manifest_values(dataset, seed, tmp_path_factory, data):
    manifest = data.draw(mutated_json(seed))
    root = with_manifest(dataset, tmp_path_factory, json.dumps(manifest).encode())
    problems = verify_or_clear_error(root)
    rc, out = run_cli(root)
    assert rc == (2 if problems is None else 1 if problems else 0), out
    if problems is None:
        assert set(out) == {"error"}


@given(data=st.data())
def test_mutated_manifest_bytes(dataset, tmp_path_factory, data):
    raw = data.draw(mutated_bytes((dataset / "manifest.json").read_bytes()))
    root = with_manifest(dataset, tmp_path_factory, raw)
    verify_or_clear_error(root)
    run_cli(root)


@given(value=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
# Found by the tests above: values of the wrong type raised TypeError or KeyError.
@example(value=b'{"version": 1, "count": 1, "bytes": 1, "sha256": "", "files": [null]}')
@example(value=b'{"version": 1, "count": null, "bytes": 1, "sha256": "", "files": []}')
@example(value=b'{"version": 1, "count": 1, "bytes": 1, "sha256": "", "files": [{"path": "img_000000.jpg"}]}')
@example(value=b"[" * 100000)
def test_arbitrary_manifest(dataset, tmp_path_factory, value):
    root = with_manifest(dataset, tmp_path_factory, value)
    verify_or_clear_error(root)
    run_cli(root)
