"""Render the k3s roles' templates exactly as the roles would, with ansible-playbook.

``render(tmp_path, role, host, inventory_vars, extra_vars, templates)`` writes an inventory
(the reference topology: jetson-master + jetson-worker1 + jetson-worker2 with their
cluster_node_ip, plus ``inventory_vars`` for group all), loads the role's defaults/main.yml and
vars/main.yml into ``host`` the way the role does, applies ``extra_vars`` (the test case's
settings) and renders each template with ansible.builtin.template into tmp_path/out. The k3s
roles depend on roles/k3s_common, so its defaults and vars are loaded with theirs, in Ansible's
order (defaults, then vars; the dependency's before the role's). ``templates`` is a list of the
role's own template names, or a mapping of output name to a template path under roles/ (the
unit, config and environment templates are k3s_common's). Returns the output directory and the
role variables the test asked to resolve (``resolve``).
Used by tests/unit/roles/k3s/test_k3s_templates.py and tests/integration/test_k3s_manifests.py
(pytest.ini puts tests/helpers on sys.path).
"""

import json
import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
# Roles whose meta/main.yml lists k3s_common as a dependency.
DEPENDS_ON_K3S_COMMON = ("k3s_server", "k3s_agent")

INVENTORY = {
    "all": {
        "children": {
            "k3s_server": {"hosts": {"jetson-master": {"cluster_node_ip": "192.168.10.1"}}},
            "k3s_agents": {"hosts": {
                "jetson-worker1": {"cluster_node_ip": "192.168.10.2"},
                "jetson-worker2": {"cluster_node_ip": "192.168.10.3"},
            }},
        },
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
    }
}

PLAYBOOK = """
- name: Render role templates
  hosts: "{{ render_host }}"
  gather_facts: false
  roles:
    # The cluster_* defaults, as role defaults (the inventory wins), as the k3s roles see them.
    - role: "{{ render_roles_dir }}/cluster"
  tasks:
    - name: Load the role's defaults and vars
      ansible.builtin.include_vars:
        file: "{{ item }}"
      loop: "{{ render_vars_files }}"
    - name: Render
      ansible.builtin.template:
        src: "{{ render_roles_dir }}/{{ item.value }}"
        dest: "{{ render_out }}/{{ item.key }}"
        mode: "0600"
      loop: "{{ render_templates | dict2items }}"
    - name: Resolve variables
      ansible.builtin.copy:
        content: "{{ dict(render_resolve | zip(render_resolve | map('extract', vars))) | to_json }}"
        dest: "{{ render_out }}/resolved.json"
        mode: "0600"
"""


def render(tmp_path, role, host, templates, extra_vars=None, inventory_vars=None, resolve=()):
    tmp_path = Path(tmp_path)
    out = tmp_path / "out"
    if not isinstance(templates, dict):
        templates = {name: "%s/templates/%s.j2" % (role, name) for name in templates}
    for template in templates:
        (out / template).parent.mkdir(parents=True, exist_ok=True)
    layers = (["k3s_common"] if role in DEPENDS_ON_K3S_COMMON else []) + [role]
    vars_files = [str(ROLES / layer / kind / "main.yml") for kind in ("defaults", "vars") for layer in layers]
    inventory = json.loads(json.dumps(INVENTORY))
    inventory["all"]["vars"].update(inventory_vars or {})
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "render.yml").write_text(PLAYBOOK)
    settings = {
        "render_host": host,
        "render_roles_dir": str(ROLES),
        "render_vars_files": vars_files,
        "render_out": str(out),
        "render_templates": dict(templates),
        "render_resolve": list(resolve),
    }
    settings.update(extra_vars or {})
    (tmp_path / "extra.json").write_text(json.dumps(settings))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(tmp_path / "inventory.yml"), "-e", "@" + str(tmp_path / "extra.json"),
         str(tmp_path / "render.yml")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        check=False)
    if proc.returncode != 0:
        raise AssertionError("rendering %s templates failed:\n%s" % (role, proc.stdout[-4000:]))
    return out, json.loads((out / "resolved.json").read_text())
