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


# ---- the real Kubernetes API the k3s double runs (jc-kube; real kubelets or kwok play the nodes)

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KUBECONFIG = os.path.join(EPHEMERAL, "kube", "jetson-cluster.yaml")


def core_api(kubeconfig=KUBECONFIG):
    """CoreV1Api through the kubeconfig the k3s_server role fetched to the controller."""
    from kubernetes import client, config
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))


def api_nodes(kubeconfig=KUBECONFIG):
    return {item.metadata.name: item for item in core_api(kubeconfig).list_node().items}


def is_ready(item):
    return [c.status for c in item.status.conditions or [] if c.type == "Ready"] == ["True"]


def taints(item):
    """(key, value, effect) of the taints the roles and k3s configure (not the node lifecycle
    controller's node.kubernetes.io/* ones)."""
    return [(t.key, t.value, t.effect) for t in item.spec.taints or [] if not t.key.startswith("node.kubernetes.io/")]


def addresses(item, kind="InternalIP"):
    return [a.address for a in item.status.addresses or [] if a.type == kind]
