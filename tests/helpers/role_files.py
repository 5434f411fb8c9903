"""Role files as Ansible reads them, for tests that render with Ansible's own Templar.

Role files are trusted templates in Ansible; data from yaml.safe_load is not, until marked.
``trusted(value)`` marks every string of a loaded structure; ``role_yaml(path)`` loads a role file
(defaults/main.yml, vars/main.yml) that way. Used by tests/unit/roles/test_gpu_workloads_templates.py
and test_pipeline_workload_split.py (pytest.ini puts tests/helpers on sys.path).
"""

import yaml
from ansible.template import trust_as_template


def trusted(value):
    """``value`` with every string in it marked as a trusted template."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def role_yaml(path):
    """A role's YAML file, its strings trusted as Ansible trusts role files."""
    return trusted(yaml.safe_load(path.read_text()))
