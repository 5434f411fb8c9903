"""Each cluster_* value is defined once: in roles/cluster, with no fallbacks elsewhere."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEFAULTS = ROOT / "roles" / "cluster" / "defaults" / "main.yml"
SPECS = ROOT / "roles" / "cluster" / "meta" / "argument_specs.yml"
# Where the collection's Ansible code lives (not the tests: they may set values on purpose).
SOURCES = [path for pattern in ("roles/**/*.yml", "roles/**/*.j2", "playbooks/**/*.yml", "site.yml")
           for path in ROOT.glob(pattern)]
# hostvars[other].cluster_node_ip reads another host's inventory, where no role default applies:
# that lookup may guard against an unset value; a host's own cluster_* variables may not.
FALLBACK = re.compile(r"(?<![.\w])cluster_[a-z_]+\s*\|\s*default\(")
DEFINITION = re.compile(r"^(cluster_[a-z_]+):", re.MULTILINE)


def _readers():
    """Roles whose own files read a cluster_* variable."""
    roles = set()
    for path in ROOT.glob("roles/*/**/*"):
        if path.is_file() and path.suffix in (".yml", ".j2") and re.search(r"\bcluster_[a-z_]+\b", path.read_text()):
            roles.add(path.relative_to(ROOT / "roles").parts[0])
    return sorted(roles - {"cluster"})


def test_no_cluster_fallbacks_anywhere():
    found = ["%s: %s" % (path.relative_to(ROOT), line.strip())
             for path in SOURCES for line in path.read_text().splitlines() if FALLBACK.search(line)]
    assert found == []


def test_each_cluster_default_is_defined_once():
    definitions = {}
    for path in SOURCES:
        if path.parts[-3:-1] == ("cluster", "defaults") or "meta" in path.parts:
            continue
        for name in DEFINITION.findall(path.read_text()):
            definitions.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert definitions == {}
    names = DEFINITION.findall(DEFAULTS.read_text())
    assert len(names) == len(set(names))


def test_defaults_and_argument_specs_agree():
    defaults = yaml.safe_load(DEFAULTS.read_text())
    options = yaml.safe_load(SPECS.read_text())["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults)
    for name, value in defaults.items():
        assert options[name]["default"] == value, name


def test_the_example_inventory_sets_only_known_cluster_variables():
    defaults = yaml.safe_load(DEFAULTS.read_text())
    inventory = yaml.safe_load((ROOT / "inventory" / "example" / "group_vars" / "all" / "network.yml").read_text())
    assert {name for name in inventory if name.startswith("cluster_")} <= set(defaults)


@pytest.mark.parametrize("role", _readers())
def test_every_reader_depends_on_the_cluster_role(role):
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
    dependencies = [dep["role"] if isinstance(dep, dict) else dep for dep in meta.get("dependencies") or []]
    assert "edgeai.jetson_cluster.cluster" in dependencies
