"""The nfs_server role's own checks, run by Ansible on the controller (no containers):
preflight refuses bad settings with a message naming the host and value, and the dataset
verification turns jc_dataset.py's findings into a clear task failure."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = Path(__file__).with_name("run_role_tasks.yml")
TOOL = ROOT / "roles" / "nfs_server" / "files" / "jc_dataset.py"


def inventory(tmp_path, agent_ip="192.168.10.2", servers=("srv",)):
    hosts = {
        "all": {
            "vars": {"ansible_python_interpreter": sys.executable,
                     "cluster_nfs_export_network": "192.168.10.0/24"},
            "children": {
                "nfs_server": {"hosts": {name: {"cluster_node_ip": "192.168.10.%d" % (i + 1)}
                                         for i, name in enumerate(servers)}},
                "k3s_agents": {"hosts": {"agent1": {"cluster_node_ip": agent_ip}}},
            },
        }
    }
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps(hosts))
    return path


def run_tasks(tmp_path, tasks, extra_vars, hosts_file=None, limit=None, check=False):
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(dict(extra_vars, nfs_check_tasks=tasks)))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    argv = ["ansible-playbook", "-i", str(hosts_file or inventory(tmp_path)), str(PLAYBOOK), "-e", "@" + str(extra)]
    if limit:
        argv += ["--limit", limit]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    # Ansible folds long messages; compare on single spaces.
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


# --- preflight ---------------------------------------------------------------------------

def test_preflight_accepts_the_defaults(tmp_path):
    rc, out = run_tasks(tmp_path, "preflight.yml", {})
    assert rc == 0, out


@pytest.mark.parametrize("extra_vars, message", [
    ({"nfs_server_exports": [{"path": "/nfs/images", "clients": "192.168.10.0/24",
                              "options": ["rw", "no_root_squash"]}]},
     "Export(s) /nfs/images ask for no_root_squash"),
    ({"nfs_server_nfs_version": "3"},
     "nfs_server_nfs_version is 3 but the server serves 4.0, 4.1, 4.2"),
    ({"nfs_server_exports": [{"path": "/nfs/images", "clients": "192.168.10.0/24", "options": ["ro", "rw"]}]},
     "Export /nfs/images on srv is invalid"),
    ({"nfs_server_exports": [{"path": "/nfs/images", "clients": "everyone", "options": ["ro"]}]},
     "(got everyone)"),
    ({"nfs_server_exports": [{"path": "nfs/images", "clients": "192.168.10.0/24", "options": ["ro"]}]},
     "Export nfs/images on srv is invalid: it needs an absolute path"),
    ({"nfs_server_dataset_source": "copy", "nfs_server_dataset_copy_src": "/nonexistent/images"},
     "nfs_server_dataset_copy_src '/nonexistent/images' is not a directory on the controller"),
    ({"nfs_server_exports": [{"path": "/srv/other", "clients": "192.168.10.0/24", "options": ["ro"]}]},
     "nfs_server_export_path (/nfs/images) must be one of the exports (/srv/other)"),
])
def test_preflight_refuses_bad_settings_naming_them(tmp_path, extra_vars, message):
    rc, out = run_tasks(tmp_path, "preflight.yml", extra_vars)
    assert rc != 0
    assert message in out


def test_preflight_allows_no_root_squash_only_with_a_warning(tmp_path):
    rc, out = run_tasks(tmp_path, "preflight.yml", {
        "nfs_server_allow_no_root_squash": True,
        "nfs_server_exports": [{"path": "/nfs/images", "clients": "192.168.10.0/24",
                                "options": ["ro", "no_root_squash"]}],
    })
    assert rc == 0, out
    assert "WARNING: /nfs/images exported with no_root_squash" in out


def test_preflight_refuses_a_client_outside_the_export_network(tmp_path):
    rc, out = run_tasks(tmp_path, "preflight.yml", {}, hosts_file=inventory(tmp_path, agent_ip="10.0.0.5"))
    assert rc != 0
    # The rule of the preflight role (network_plan_problems), applied to the export's client list.
    assert ("NFS client agent1 could not mount /nfs/images: cluster_nfs_export_network 192.168.10.0/24 does "
            "not contain these NFS clients, which could not mount the dataset: agent1 (10.0.0.5).") in out


def test_preflight_refuses_an_inventory_without_nfs_server(tmp_path):
    rc, out = run_tasks(tmp_path, "preflight.yml", {}, hosts_file=inventory(tmp_path, servers=()))
    assert rc != 0
    assert "exactly one host in group nfs_server (found none)" in out


def test_preflight_refuses_two_nfs_servers(tmp_path):
    rc, out = run_tasks(tmp_path, "preflight.yml", {}, hosts_file=inventory(tmp_path, servers=("srv", "srv2")))
    assert rc != 0
    assert "exactly one host in group nfs_server (found srv, srv2)" in out


# --- dataset verification ----------------------------------------------------------------

@pytest.fixture
def dataset(tmp_path):
    """A small generated dataset and an executable copy of the tool, outside the repository."""
    root = tmp_path / "images"
    subprocess.run([sys.executable, str(TOOL), "generate", str(root), "--count", "4", "--width", "32",
                    "--height", "24", "--jobs", "1"], check=True, capture_output=True)
    tool = tmp_path / "jc_dataset.py"
    shutil.copy(TOOL, tool)
    tool.chmod(0o755)
    return root, tool


def verify(tmp_path, root, tool):
    return run_tasks(tmp_path, "dataset_verify.yml", {
        "nfs_server_export_path": str(root), "nfs_server_dataset_tool_path": str(tool),
        "ansible_python_interpreter": sys.executable,
    }, limit="srv")


def test_verify_reports_a_healthy_dataset(tmp_path, dataset):
    root, tool = dataset
    rc, out = verify(tmp_path, root, tool)
    assert rc == 0, out
    assert "%s: 4 images" % root in out


def test_verify_names_a_corrupt_image(tmp_path, dataset):
    root, tool = dataset
    image = root / "img_000001.jpg"
    data = bytearray(image.read_bytes())
    data[100] ^= 0xFF  # same size, different content
    image.write_bytes(bytes(data))
    rc, out = verify(tmp_path, root, tool)
    assert rc != 0
    assert "does not match its manifest (jc_dataset.py verify exit 1)" in out
    assert "img_000001.jpg: sha256 differs from the manifest" in out


def test_verify_names_a_missing_image(tmp_path, dataset):
    root, tool = dataset
    (root / "img_000002.jpg").unlink()
    rc, out = verify(tmp_path, root, tool)
    assert rc != 0
    assert "1 file(s) missing, e.g. img_000002.jpg" in out


def test_verify_explains_a_missing_dataset_directory(tmp_path, dataset):
    _, tool = dataset
    rc, out = verify(tmp_path, tmp_path / "nowhere", tool)
    assert rc != 0
    assert "cannot be checked (jc_dataset.py verify exit 2)" in out
    assert "dataset directory %s does not exist" % (tmp_path / "nowhere") in out


def test_verify_explains_a_missing_manifest(tmp_path, dataset):
    root, tool = dataset
    (root / "manifest.json").unlink()
    rc, out = verify(tmp_path, root, tool)
    assert rc != 0
    assert "no manifest at %s/manifest.json" % root in out


# --- Kubernetes objects ------------------------------------------------------------------

def test_kubernetes_objects_are_skipped_with_a_reason_without_kubernetes(tmp_path):
    rc, out = run_tasks(tmp_path, "kubernetes.yml", {"cluster_kubernetes": False})
    assert rc == 0, out
    assert "Skipping the PersistentVolume and claim of the dataset: nfs_server_kubernetes_enabled is false" in out


def test_check_mode_before_k3s_exists_explains_instead_of_failing(tmp_path):
    kubeconfig = tmp_path / "no-such-kubeconfig.yaml"
    rc, out = run_tasks(tmp_path, "kubernetes.yml", {"cluster_kubernetes": True,
                                                     "cluster_kubeconfig": str(kubeconfig)}, check=True)
    assert rc == 0, out
    assert "Check mode: %s does not exist yet (k3s_server writes it)" % kubeconfig in out


# --- dataset copy from the controller ----------------------------------------------------

def make_source(tmp_path):
    src = tmp_path / "source"
    subprocess.run([sys.executable, str(TOOL), "generate", str(src), "--count", "3", "--width", "32",
                    "--height", "24", "--jobs", "1"], check=True, capture_output=True)
    (src / "sub").mkdir()
    (src / "img_000002.jpg").rename(src / "sub" / "Photo.JPEG")
    (src / "notes.txt").write_text("not an image\n")
    return src


def copy_dataset(tmp_path, src, export, method):
    tool = tmp_path / "jc_dataset.py"
    shutil.copy(TOOL, tool)
    tool.chmod(0o755)
    return run_tasks(tmp_path, "dataset_copy.yml", {
        "nfs_server_dataset_source": "copy", "nfs_server_dataset_copy_src": str(src),
        "nfs_server_dataset_copy_method": method, "nfs_server_export_path": str(export),
        "nfs_server_dataset_tool_path": str(tool), "ansible_python_interpreter": sys.executable,
    }, limit="srv")


def recap_changed(out):
    return int(out.split("srv : ok=")[1].split("changed=")[1].split()[0])


@pytest.mark.parametrize("method", ["synchronize", "copy"])
def test_copy_brings_only_the_images_and_writes_their_manifest(tmp_path, method):
    src, export = make_source(tmp_path), tmp_path / "export"
    export.mkdir()
    rc, out = copy_dataset(tmp_path, src, export, method)
    assert rc == 0, out
    copied = sorted(str(p.relative_to(export)) for p in export.rglob("*") if p.is_file())
    assert copied == ["img_000000.jpg", "img_000001.jpg", "manifest.json", "sub/Photo.JPEG"]
    manifest = json.loads((export / "manifest.json").read_text())
    assert [entry["path"] for entry in manifest["files"]] == ["img_000000.jpg", "img_000001.jpg", "sub/Photo.JPEG"]


@pytest.mark.parametrize("method", ["synchronize", "copy"])
def test_copy_again_changes_nothing_then_only_a_changed_image(tmp_path, method):
    src, export = make_source(tmp_path), tmp_path / "export"
    export.mkdir()
    assert copy_dataset(tmp_path, src, export, method)[0] == 0
    rc, out = copy_dataset(tmp_path, src, export, method)
    assert rc == 0 and recap_changed(out) == 0, out
    (src / "img_000001.jpg").write_bytes((src / "img_000000.jpg").read_bytes())
    rc, out = copy_dataset(tmp_path, src, export, method)
    assert rc == 0, out
    assert recap_changed(out) == 2, "the image copy and the manifest"
    assert (export / "img_000001.jpg").read_bytes() == (src / "img_000000.jpg").read_bytes()
