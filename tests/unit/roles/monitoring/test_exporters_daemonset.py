"""roles/monitoring/templates/exporters-daemonset.yaml.j2: the exporters as a Kubernetes DaemonSet,
rendered by ansible-playbook with the role's defaults (tests/helpers/k3s_render.py) and validated
like the benchmark's Job: kubernetes-validate's strict schema for the Kubernetes versions k3s ships
(and applied server-side to a real API server in tests/integration/test_kube_controlplane.py)."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from k3s_render import ROLES, render

KUBERNETES_VERSIONS = ["1.25.0", "1.31.0", "1.37.0"]
SETTINGS = {"role_path": str(ROLES / "monitoring"), "monitoring_kubernetes_gpu_exporter_image": "example/jc-py:1"}


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    out, _ = render(tmp_path_factory.mktemp("daemonset"), "monitoring", "jetson-master",
                    ["exporters-daemonset.yaml"], SETTINGS)
    return {doc["kind"]: doc for doc in yaml.safe_load_all((out / "exporters-daemonset.yaml").read_text())}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kind", ["ConfigMap", "DaemonSet"])
def test_manifests_pass_strict_schema_validation(manifests, kind, version):
    kubernetes_validate.validate(manifests[kind], desired_version=version, strict=True)


def test_the_program_and_parser_are_the_collections_own_files(manifests):
    data = manifests["ConfigMap"]["data"]
    assert data["jc_gpu_exporter.py"].strip() == (ROLES / "monitoring" / "files" / "jc_gpu_exporter.py").read_text().strip()
    parser = (ROLES.parent / "plugins" / "module_utils" / "telemetry.py").read_text()
    assert data["jc_telemetry.py"].strip() == parser.strip()


def test_exporters_listen_on_the_hosts_network_at_the_ports_prometheus_scrapes(manifests):
    defaults = yaml.safe_load((ROLES / "monitoring" / "defaults" / "main.yml").read_text())
    pod = manifests["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    ports = {c["name"]: c["ports"][0]["containerPort"] for c in pod["containers"]}
    assert ports == {"node-exporter": defaults["monitoring_node_exporter_port"],
                     "jc-gpu-exporter": defaults["monitoring_gpu_exporter_port"]}
    assert "--port=9401" in pod["containers"][1]["command"]


def test_every_node_runs_it_and_the_thermal_zone_collector_is_off(manifests):
    pod = manifests["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    node_exporter = pod["containers"][0]
    assert "--no-collector.thermal_zone" in node_exporter["args"]
    assert "--collector.textfile.directory=/host/var/lib/prometheus/node-exporter" in node_exporter["args"]


def test_the_gpu_exporter_runs_the_configmaps_program_in_the_given_image(manifests):
    container = manifests["DaemonSet"]["spec"]["template"]["spec"]["containers"][1]
    assert container["image"] == "example/jc-py:1"
    assert container["command"][:2] == ["python3", "/opt/jc_gpu_exporter/jc_gpu_exporter.py"]
    assert {"name": "program", "mountPath": "/opt/jc_gpu_exporter", "readOnly": True} in container["volumeMounts"]
    assert container["resources"]["limits"]["memory"] == "64Mi"
