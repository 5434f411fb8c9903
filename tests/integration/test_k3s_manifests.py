"""Every Kubernetes object the k3s roles apply, validated against the Kubernetes JSON schemas
of the version the pinned k3s release runs (kubernetes-validate, strict: unknown fields fail).

The objects are rendered from the roles' templates with their defaults (k3s_render.py), both
as shipped and with every GPU variable set, so a template that only breaks for some settings
still fails here.
"""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from k3s_render import render

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.k3s_release import parse_version

ROOT = Path(__file__).resolve().parents[2]

# Every template k3s_server applies with kubernetes.core.k8s (tasks/gpu.yml).
MANIFESTS = ["gpu/runtimeclass.yaml", "gpu/nvidia-device-plugin.yaml"]
CUSTOM_GPU = {
    "k3s_server_gpu_runtime_class_name": "nvidia-tegra",
    "k3s_server_gpu_runtime_handler": "nvidia",
    "k3s_server_gpu_device_plugin_namespace": "nvidia-device-plugin",
    "k3s_server_gpu_device_plugin_image": "registry.lan:5000/nvidia/k8s-device-plugin:v0.14.4",
    "k3s_server_gpu_device_plugin_node_selector": {"node-type": "worker", "kubernetes.io/arch": "arm64"},
    "k3s_server_gpu_device_plugin_tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Equal", "value": "true",
         "effect": "NoSchedule"},
    ],
    "k3s_server_gpu_device_plugin_env": {"FAIL_ON_INIT_ERROR": False, "DEVICE_LIST_STRATEGY": "envvar"},
}
EMPTY_ENV = {"k3s_server_gpu_device_plugin_env": {}}
GPU_VARIABLES = sorted(CUSTOM_GPU)


@pytest.fixture(scope="module", params=["defaults", "custom", "empty-env"])
def rendered(request, tmp_path_factory):
    extra = {"defaults": {}, "custom": CUSTOM_GPU, "empty-env": EMPTY_ENV}[request.param]
    out, resolved = render(tmp_path_factory.mktemp(request.param), "k3s_server", "jetson-master",
                           MANIFESTS, extra, resolve=["k3s_server_version"] + GPU_VARIABLES)
    objects = [yaml.safe_load((out / name).read_text()) for name in MANIFESTS]
    return objects, resolved


def test_every_manifest_holds_one_object(rendered):
    objects, _ = rendered
    assert all(isinstance(obj, dict) and obj.get("kind") for obj in objects)


@pytest.mark.parametrize("index", range(len(MANIFESTS)), ids=MANIFESTS)
def test_manifest_is_valid_for_the_pinned_kubernetes(rendered, index):
    objects, resolved = rendered
    kubernetes = parse_version(resolved["k3s_server_version"])["kubernetes"]
    used = kubernetes_validate.validate(objects[index], kubernetes, strict=True)
    # The schemas used are those of the pinned release's minor version.
    assert used == ".".join(kubernetes.split(".")[:2])


def test_device_plugin_env_values_are_strings(rendered):
    objects, _ = rendered
    env = objects[1]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert all(isinstance(item["value"], str) for item in env)


def test_runtime_class_follows_the_variables(rendered):
    (runtime_class, _), resolved = rendered
    assert (runtime_class["metadata"]["name"], runtime_class["handler"]) == (
        resolved["k3s_server_gpu_runtime_class_name"], resolved["k3s_server_gpu_runtime_handler"])


def test_device_plugin_follows_the_variables(rendered):
    (_, daemonset), resolved = rendered
    pod = daemonset["spec"]["template"]["spec"]
    assert (daemonset["metadata"]["namespace"], pod["nodeSelector"], pod["tolerations"],
            pod["containers"][0]["image"]) == (
        resolved["k3s_server_gpu_device_plugin_namespace"],
        resolved["k3s_server_gpu_device_plugin_node_selector"],
        resolved["k3s_server_gpu_device_plugin_tolerations"],
        resolved["k3s_server_gpu_device_plugin_image"])


def test_device_plugin_env_follows_the_variable(rendered):
    (_, daemonset), resolved = rendered
    env = daemonset["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {item["name"]: item["value"] for item in env} == {
        name: str(value) for name, value in resolved["k3s_server_gpu_device_plugin_env"].items()}
