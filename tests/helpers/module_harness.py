"""Run a module's main() in-process: arguments patched in, exit_json/fail_json turned into
exceptions that carry the result (ExitJson / FailJson), warnings collected under
"warnings_seen". Test modules import `module_exits` (an autouse fixture) from here.

Like the controller, the harness refuses a result holding a string that is not valid UTF-8
(a surrogate left by decoding a command's bytes with surrogateescape): ansible-core 2.19 rejects
the whole result then ("Refusing to deserialize an invalid UTF8 string value"), so a module that
returns one loses its result on a real run.
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

__all__ = ["ExitJson", "FailJson", "assert_controller_accepts", "module_exits", "patch_module_args"]


def assert_controller_accepts(value, where="result"):
    """Fail like ansible-core's deserializer (MODULE_STRICT_UTF8_RESPONSE) on a non-UTF-8 string."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise AssertionError(
                "the controller would refuse this result (Refusing to deserialize an invalid UTF8 "
                "string value): %s holds %r (%s)" % (where, value[max(exc.start - 20, 0):exc.end + 20], exc.reason))
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_controller_accepts(key, "%s key" % where)
            assert_controller_accepts(item, "%s[%r]" % (where, key))
    elif isinstance(value, (list, tuple)):
        for number, item in enumerate(value):
            assert_controller_accepts(item, "%s[%d]" % (where, number))


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
        assert_controller_accepts(kwargs)
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        assert_controller_accepts(kwargs)
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "warn", warn)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
