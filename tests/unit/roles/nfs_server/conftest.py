"""Render roles/nfs_server/templates through Ansible itself, once per named case.

Each case runs render_templates.yml (role defaults + derived vars + the example inventory's
jetson-master) with the case's variables as extra vars; all cases render in parallel.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
PLAYBOOK = Path(__file__).with_name("render_templates.yml")

# Named variable sets; tests ask for rendered files by case name.
CASES = {
    "default": {},
    "v3_results": {
        "nfs_server_nfs3_enabled": True,
        "nfs_server_nfs4_minor_versions": [1, 2],
        "nfs_server_nfs_version": "3",
        "nfs_server_results_export_enabled": True,
        "nfs_server_ganesha_graceless": True,
    },
    "custom_exports": {
        "nfs_server_allow_no_root_squash": True,
        "nfs_server_exports": [
            {"path": "/srv/data", "clients": ["10.0.0.0/24", "10.0.1.7"],
             "options": ["ro", "all_squash", "anonuid=1000", "anongid=1001", "sec=sys:krb5"]},
            {"path": "/srv/scratch", "clients": "10.0.0.0/24", "pseudo": "/scratch",
             "options": ["rw", "no_root_squash"]},
        ],
        "nfs_server_export_path": "/srv/data",
    },
    "custom_k8s": {
        "cluster_dataset_pvc": "imagenet-val",
        "cluster_namespace": "bench",
        "nfs_server_pv_capacity": "20Gi",
        "nfs_server_nfs_version": "4.2",
        "nfs_server_address": "nas.lan",
        "nfs_server_check_job_node_selector": {},
    },
    "local_pv": {
        "nfs_server_pv_source": "local",
        "nfs_server_pv_local_nodes": ["worker1", "worker2"],
    },
}


def _ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """{case: {rendered file name: text}} for every case in CASES."""
    base = tmp_path_factory.mktemp("nfs_server_templates")
    procs = {}
    for name, case_vars in CASES.items():
        out = base / name
        out.mkdir()
        extra = base / (name + ".json")
        extra.write_text(json.dumps(dict(case_vars, render_out=str(out))))
        procs[name] = subprocess.Popen(
            ["ansible-playbook", "-i", str(ROOT / "inventory" / "example"), str(PLAYBOOK),
             "-e", "@" + str(extra)],
            cwd=ROOT, env=_ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
    result = {}
    for name, proc in procs.items():
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, "rendering case %s failed:\n%s" % (name, output)
        result[name] = {path.name: path.read_text() for path in (base / name).iterdir()}
    return result
