"""The gpu_workloads templates, rendered by Ansible's own templar with the role's defaults and vars.

The indexed Job manifest must have the reference build's shape and pass kubernetes-validate's
strict schema (no unknown fields) for the Kubernetes versions k3s ships; the Dockerfile must
build on either base.
"""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from role_files import role_yaml, trusted

ROLE = Path(__file__).resolve().parents[3] / "roles" / "gpu_workloads"
KUBERNETES_VERSIONS = ["1.25.0", "1.31.0", "1.37.0"]


def render(template, **overrides):
    # The cluster_* defaults (roles/cluster, a dependency of the role), then the role's own.
    variables = role_yaml(ROLE.parent / "cluster" / "defaults" / "main.yml")
    variables.update(role_yaml(ROLE / "defaults" / "main.yml"))
    variables.update(role_yaml(ROLE / "vars" / "main.yml"))
    variables.update({
        "groups": {"all": ["master", "worker1", "worker2", "worker3"],
                   "k3s_agents": ["worker1", "worker2", "worker3"]},
        "ansible_managed": "Ansible managed",
        "ansible_play_hosts_all": ["master", "worker1", "worker2", "worker3"],
        "gpu_workloads_run_workload": "synthetic",
        "gpu_workloads_run_jobs": 3,
    })
    variables.update(overrides)
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trusted((ROLE / "templates" / template).read_text()))


def job(**overrides):
    return yaml.safe_load(render("inference-job.yaml.j2", **overrides))


def env_of(manifest):
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item["value"] for item in container["env"] if "value" in item}


VARIANTS = {
    "synthetic": {},
    "files": {"gpu_workloads_run_workload": "files"},
    "gpu-runtime-class-weights": {"gpu_workloads_gpu_request": True, "gpu_workloads_runtime_class": "nvidia",
                                  "gpu_workloads_weights": "/weights/resnet50.pth",
                                  "gpu_workloads_extra_env": {"OMP_NUM_THREADS": 4}},
    "files-capped-single": {"gpu_workloads_run_workload": "files", "gpu_workloads_run_jobs": 1,
                            "gpu_workloads_files_max_images": 500, "gpu_workloads_spread_pods": False},
}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_job_passes_strict_schema_validation(variant, version):
    kubernetes_validate.validate(job(**VARIANTS[variant]), desired_version=version, strict=True)


@pytest.mark.parametrize("jobs", [1, 3])
def test_job_is_indexed_with_one_completion_per_worker(jobs):
    spec = job(gpu_workloads_run_jobs=jobs)["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", jobs, jobs)


def test_pods_run_the_local_image_on_workers_only():
    pod = job()["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["nodeSelector"] == {"node-type": "worker"}
    assert (container["image"], container["imagePullPolicy"]) == ("edgeai-jc/jc-infer:0.1.0", "Never")


def test_failed_pod_is_not_retried():
    manifest = job()
    assert manifest["spec"]["backoffLimit"] == 0 and manifest["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_synthetic_job_environment():
    assert env_of(job()) == {
        "WORKLOAD_MODE": "synthetic", "TOTAL_JOBS": "3", "TOTAL_IMAGES": "1200", "IMAGE_DIR": "/data/images",
        "BATCH_SIZE": "auto", "PRECISION": "auto", "DECODE": "auto", "NUM_WORKERS": "auto", "DEVICE": "auto",
        "WARMUP_BATCHES": "2", "METRICS_TEXTFILE_DIR": "/var/lib/prometheus/node-exporter",
    }


@pytest.mark.parametrize(
    "cap, expected",
    [(0, None), (500, "500")],
    ids=["all-files", "capped"],
)
def test_files_job_caps_images_only_when_asked(cap, expected):
    env = env_of(job(gpu_workloads_run_workload="files", gpu_workloads_files_max_images=cap))
    assert (env["WORKLOAD_MODE"], env.get("TOTAL_IMAGES")) == ("files", expected)


def test_files_job_mounts_the_dataset_claim_read_only():
    pod = job(gpu_workloads_run_workload="files")["spec"]["template"]["spec"]
    volume = [v for v in pod["volumes"] if v["name"] == "dataset"][0]
    mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "dataset"][0]
    assert volume["persistentVolumeClaim"] == {"claimName": "nfs-images", "readOnly": True}
    assert (mount["mountPath"], mount["readOnly"]) == ("/data/images", True)


def test_synthetic_job_mounts_no_dataset():
    pod = job()["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["dshm", "metrics"]


def test_pods_know_their_node_and_write_metrics_into_node_exporters_textfile_directory():
    pod = job()["spec"]["template"]["spec"]
    env = {item["name"]: item for item in pod["containers"][0]["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    volume = [v for v in pod["volumes"] if v["name"] == "metrics"][0]
    mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "metrics"][0]
    assert volume["hostPath"] == {"path": "/var/lib/prometheus/node-exporter", "type": "DirectoryOrCreate"}
    assert mount["mountPath"] == env["METRICS_TEXTFILE_DIR"]["value"] == volume["hostPath"]["path"]


def test_no_metrics_directory_means_no_metrics_mount():
    pod = job(gpu_workloads_metrics_textfile_dir="")["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["dshm"] and "METRICS_TEXTFILE_DIR" not in env_of(job(
        gpu_workloads_metrics_textfile_dir=""))


def test_dataset_claim_follows_the_cluster_variable():
    pod = job(gpu_workloads_run_workload="files", cluster_dataset_pvc="images-v2")["spec"]["template"]["spec"]
    assert pod["volumes"][1]["persistentVolumeClaim"]["claimName"] == "images-v2"


@pytest.mark.parametrize(
    "overrides, has_gpu_limit, runtime_class",
    [
        ({}, False, None),
        ({"gpu_workloads_gpu_request": True}, True, None),
        ({"gpu_workloads_runtime_class": "nvidia"}, False, "nvidia"),
    ],
    ids=["default-off", "gpu-request", "runtime-class"],
)
def test_gpu_request_and_runtime_class_are_opt_in(overrides, has_gpu_limit, runtime_class):
    pod = job(**overrides)["spec"]["template"]["spec"]
    limits = pod["containers"][0].get("resources", {}).get("limits", {})
    assert ("nvidia.com/gpu" in limits, pod.get("runtimeClassName")) == (has_gpu_limit, runtime_class)


def test_pods_spread_one_per_node_by_their_run_label():
    pod_template = job()["spec"]["template"]
    constraint = pod_template["spec"]["topologySpreadConstraints"][0]
    assert constraint["labelSelector"]["matchLabels"] == {"edgeai.jc/run": pod_template["metadata"]["labels"]["edgeai.jc/run"]}
    assert (constraint["maxSkew"], constraint["whenUnsatisfiable"]) == (1, "DoNotSchedule")


def test_job_lands_in_the_cluster_namespace():
    assert job(cluster_namespace="bench")["metadata"]["namespace"] == "bench"


def test_extra_environment_values_become_strings():
    assert env_of(job(gpu_workloads_extra_env={"OMP_NUM_THREADS": 4}))["OMP_NUM_THREADS"] == "4"


# --- Dockerfile ----------------------------------------------------------------------------

def test_jetson_dockerfile_adds_only_the_program_to_l4t_pytorch():
    lines = [line for line in render("Dockerfile.j2").splitlines() if line and not line.startswith("#")]
    assert lines == [
        "FROM nvcr.io/nvidia/l4t-pytorch:r32.7.1-pth1.10-py3",
        "COPY jc_infer/ /opt/edgeai-jc/jc_infer/",
        "ENV PYTHONUNBUFFERED=1",
        "WORKDIR /opt/edgeai-jc",
        'ENTRYPOINT ["python3", "-m", "jc_infer"]',
    ]


def test_job_runs_the_package_as_the_image_does():
    container = job()["spec"]["template"]["spec"]["containers"][0]
    assert (container["command"], container["workingDir"]) == (["python3", "-m", "jc_infer"], "/opt/edgeai-jc")


def test_debian_dockerfile_installs_the_torch_packages():
    text = render("Dockerfile.j2", gpu_workloads_base_image="edgeai-jc/debian-systemd:bookworm-amd64",
                  gpu_workloads_image_apt_packages=["python3-torch", "python3-torchvision", "python3-pil"])
    assert "FROM edgeai-jc/debian-systemd:bookworm-amd64\n" in text
    assert "apt-get install -y --no-install-recommends \\\n      python3-torch python3-torchvision python3-pil" in text


def test_baseline_textfile_has_one_series_per_workload_from_its_first_run():
    import shutil
    import subprocess

    from prometheus_client.parser import text_string_to_metric_families

    runs = [{"workload": "synthetic", "jobs": 1, "aggregate": {"throughput": 12.5, "pods": 1}},
            {"workload": "synthetic", "jobs": 3, "aggregate": {"throughput": 30.0, "pods": 3}},
            {"workload": "files", "jobs": 2, "aggregate": {"throughput": 20.0, "pods": 2}}]
    text = render("jc_benchmark_baseline.prom.j2", gpu_workloads_aggregate={"runs": runs})
    values = {s.labels["workload"]: s.value for family in text_string_to_metric_families(text) for s in family.samples}
    assert values == {"synthetic": 12.5, "files": 10.0}
    proc = subprocess.run([shutil.which("promtool"), "check", "metrics"], input=text, capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
