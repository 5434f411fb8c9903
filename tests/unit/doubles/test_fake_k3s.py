"""The k3s test double reads the config files the roles write exactly as a YAML parser does.

The Molecule scenarios trust the double's record of what "k3s" was given; these tests pin its
small config reader (it runs where PyYAML is not installed) to the real YAML meaning of every
golden config.yaml, and make sure it stops on YAML it cannot read instead of guessing.
"""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest
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
