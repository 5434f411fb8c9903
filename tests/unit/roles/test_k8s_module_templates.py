"""Templates applied with kubernetes.core.k8s's own ``template:`` parameter.

The k8s action renders them itself, without the variables ansible.builtin.template adds:
``ansible_managed`` (and template_host, template_path, ...) are undefined there. The Job's
template carried ``# {{ ansible_managed }}`` and rendered fine through the template action in
every test, then stopped the first benchmark that applied it to a real API server (the lab,
issue 17) with "AnsibleUndefinedVariable: 'ansible_managed' is undefined".
"""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_ONLY = ("ansible_managed", "template_host", "template_path", "template_fullpath",
                 "template_run_date", "template_uid", "template_destpath")


def _k8s_template_tasks():
    found = []
    for tasks_file in sorted(ROOT.glob("roles/*/tasks/*.yml")):
        stack = list(yaml.safe_load(tasks_file.read_text()) or [])
        while stack:
            task = stack.pop()
            if not isinstance(task, dict):
                continue
            for key in ("block", "rescue", "always"):
                stack.extend(task.get(key) or [])
            for module in ("kubernetes.core.k8s", "k8s"):
                args = task.get(module)
                if isinstance(args, dict) and isinstance(args.get("template"), str):
                    role = tasks_file.parents[1]
                    found.append((tasks_file.relative_to(ROOT), role / "templates" / args["template"]))
    return found


TASKS = _k8s_template_tasks()


def test_the_roles_apply_templates_through_the_k8s_module():
    # The Job, the dataset volume and claim, the check Job, the exporters' DaemonSet.
    assert len(TASKS) >= 5, TASKS


@pytest.mark.parametrize("tasks_file, template", TASKS, ids=[str(t) for _f, t in TASKS])
def test_a_k8s_module_template_uses_no_variable_only_the_template_action_defines(tasks_file, template):
    assert template.is_file(), f"{tasks_file} applies {template}, which does not exist"
    text = template.read_text()
    used = [name for name in TEMPLATE_ONLY if name in text]
    assert not used, (f"{template.relative_to(ROOT)} (applied by {tasks_file} through kubernetes.core.k8s "
                      f"template=) uses {used}, undefined there")
