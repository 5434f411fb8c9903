"""Helpers for the k3s scenarios' testinfra checks (molecule/k3s_*/tests)."""

import hashlib
import json
import os

import testinfra
import yaml

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
RELEASES = os.path.join(EPHEMERAL, "k3s-release")
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane=true:NoSchedule"


def node(name):
    """A testinfra host for one of the scenario's containers, by inventory name."""
    return testinfra.get_host("ansible://" + name, ansible_inventory=INVENTORY)


def read_yaml(host, path):
    return yaml.safe_load(host.file(path).content_string)


def read_json(host, path):
    return json.loads(host.file(path).content_string)


def digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def env_file(host, path):
    """KEY="value" lines of a systemd EnvironmentFile, as a dict."""
    values = {}
    for line in host.file(path).content_string.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key] = value[1:-1] if value[:1] == value[-1:] == '"' else value
    return values


def release_sha256(version, arch, name):
    """The sha256 the fake release's checksum list gives for a file."""
    with open(os.path.join(RELEASES, version, "sha256sum-%s.txt" % arch)) as handle:
        for line in handle:
            digest_, file_name = line.split()
            if file_name == name:
                return digest_
    raise AssertionError("%s not in the fake release's sha256sum-%s.txt" % (name, arch))
