"""Run a module's main() in-process: arguments patched in, exit_json/fail_json turned into
exceptions that carry the result (ExitJson / FailJson), warnings collected under
"warnings_seen". Test modules import `module_exits` (an autouse fixture) from here.
"""

import json

import pytest
from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib
    from unittest import mock

    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        payload = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield

__all__ = ["ExitJson", "FailJson", "module_exits", "patch_module_args"]


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    warned = []

    def warn(self, warning, **kwargs):
        warned.append(warning)

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        kwargs["warnings_seen"] = list(warned)
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "warn", warn)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
