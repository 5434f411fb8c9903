"""Tests for the devicequery module shell (plugins/modules/devicequery.py).

main() runs in-process through tests/helpers/module_harness.py (arguments patched in,
exit_json/fail_json raised as ExitJson/FailJson). Commands really run: small fixture-backed scripts (test doubles for
deviceQuery and the docker CLI) print real captures from tests/fixtures/devicequery/.
"""

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from module_harness import ExitJson, FailJson, module_exits, patch_module_args  # noqa: F401 (fixture)

from ansible_collections.edgeai.jetson_cluster.plugins.modules import devicequery


FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "devicequery"
H200 = FIXTURES / "h200_x1_pass.txt"
NANO = FIXTURES / "jetson_nano_cuda10_2_docker_pass.txt"
FAIL35 = FIXTURES / "jetson_orin_cuda12_8_fail35.txt"


def run_module(args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        devicequery.main()


def exits(args, **kwargs):
    with pytest.raises(ExitJson) as info:
        run_module(args, **kwargs)
    return info.value.args[0]


def fails(args, **kwargs):
    with pytest.raises(FailJson) as info:
        run_module(args, **kwargs)
    return info.value.args[0]


def expected(capture):
    result = json.loads(capture.with_name(capture.stem + ".expected.json").read_text())
    result.pop("warnings")
    return result


def script(path, body):
    """Write an executable test double."""
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def fake_devicequery(tmp_path):
    # Stands in for a deviceQuery binary: prints the capture named by $DQ_CAPTURE and exits
    # like deviceQuery does (1 on failure).
    return script(
        tmp_path / "deviceQuery",
        """\
        cat "$DQ_CAPTURE"
        grep -q 'Result = PASS' "$DQ_CAPTURE"
        """,
    )


@pytest.fixture
def fake_docker(tmp_path):
    # Stands in for the docker CLI: records its arguments, knows image "present:1" only,
    # fails to pull "unreachable:1", "pulls" any other image like docker run does, then
    # prints the capture in $DQ_CAPTURE.
    argv_log = tmp_path / "docker.argv"
    path = script(
        tmp_path / "docker",
        """\
        printf '%s\\n' "$*" >> "{log}"
        if [ "$1 $2" = "image inspect" ]; then
          [ "$3" = present:1 ] && exit 0
          echo "Error: No such image: $3" >&2; exit 1
        fi
        for arg; do image=$arg; done
        case "$*" in
          *present:1*) ;;
          *unreachable:1*) echo "Unable to find image '$image' locally" >&2
             echo "docker: Error response from daemon: Get https://registry-1.docker.io/v2/: dial tcp: lookup registry-1.docker.io: no such host." >&2
             exit 125 ;;
          *) echo "Unable to find image '$image' locally" >&2
             echo "Status: Downloaded newer image for $image" >&2 ;;
        esac
        cat "$DQ_CAPTURE"
        """.format(log=argv_log),
    )
    return path, argv_log


# --- src and content -----------------------------------------------------------------------


def test_content_returns_the_parsed_output():
    result = exits({"content": NANO.read_text()})
    assert {key: result[key] for key in expected(NANO)} == expected(NANO)
    assert result["changed"] is False


def test_src_on_the_target_returns_the_parsed_output():
    result = exits({"src": str(H200)})
    assert {key: result[key] for key in expected(H200)} == expected(H200)


def test_failed_devicequery_fails_the_task_with_its_message():
    result = fails({"content": FAIL35.read_text()})
    assert result["msg"] == "cudaGetDeviceCount returned 35 -> CUDA driver version is insufficient for CUDA runtime version"
    assert (result["passed"], result["error_code"]) == (False, 35)


def test_failed_devicequery_without_fail_on_error_returns_the_failure():
    result = exits({"content": FAIL35.read_text(), "fail_on_error": False})
    assert (result["passed"], result["error_code"], result["device_count"]) == (False, 35, 0)


def test_garbage_content_fails_even_without_fail_on_error():
    result = fails({"content": "Hello, world", "fail_on_error": False})
    assert result["msg"].startswith("content: no deviceQuery output found")


def test_missing_src_fails_naming_the_path(tmp_path):
    missing = tmp_path / "nope.txt"
    assert fails({"src": str(missing)})["msg"] == "src %s does not exist on this host" % missing


def test_directory_src_fails(tmp_path):
    assert "is a directory" in fails({"src": str(tmp_path)})["msg"]


def test_garbage_src_fails_naming_the_path(tmp_path):
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert fails({"src": str(garbage)})["msg"].startswith("src %s: no deviceQuery output found" % garbage)


def test_warnings_are_passed_on():
    text = H200.read_text().replace("NumDevs = 1", "NumDevs = 2")
    result = exits({"content": text})
    assert any("NumDevs = 2" in warning for warning in result["warnings_seen"])


@pytest.mark.parametrize(
    "args, message",
    [
        ({}, "one of the following is required"),
        ({"content": "x", "src": "/tmp/x"}, "mutually exclusive"),
        ({"content": "x", "container_runtime": "nvidia"}, "missing parameter(s) required by 'container_runtime'"),
        ({"content": "x", "container_gpus": "all"}, "missing parameter(s) required by 'container_gpus'"),
        ({"command": ""}, "command is empty"),
        ({"command": {"a": 1}}, "command must be a string or a list of strings"),
        ({"command": "deviceQuery 'unclosed"}, "cannot be split into arguments"),
    ],
    ids=["no-input", "two-inputs", "runtime-without-image", "gpus-without-image", "empty-command", "dict-command", "bad-quoting"],
)
def test_bad_arguments_fail_clearly(args, message):
    assert message in fails(args)["msg"]


# --- command -------------------------------------------------------------------------------


def test_command_output_is_parsed(fake_devicequery, monkeypatch):
    monkeypatch.setenv("DQ_CAPTURE", str(H200))
    result = exits({"command": [fake_devicequery]})
    assert {key: result[key] for key in expected(H200)} == expected(H200)
    assert (result["rc"], result["cmd"], result["changed"]) == (0, [fake_devicequery], False)


def test_command_string_is_split_into_arguments(fake_devicequery, monkeypatch):
    monkeypatch.setenv("DQ_CAPTURE", str(H200))
    result = exits({"command": "%s --noprompt" % fake_devicequery})
    assert result["cmd"] == [fake_devicequery, "--noprompt"]


def test_command_is_found_through_path(fake_devicequery, monkeypatch):
    monkeypatch.setenv("DQ_CAPTURE", str(H200))
    monkeypatch.setenv("PATH", os.path.dirname(fake_devicequery) + os.pathsep + os.environ["PATH"])
    assert exits({"command": "deviceQuery"})["cmd"] == [fake_devicequery]


def test_failing_command_fails_with_devicequery_message(fake_devicequery, monkeypatch):
    monkeypatch.setenv("DQ_CAPTURE", str(FAIL35))
    result = fails({"command": [fake_devicequery]})
    assert result["msg"].startswith("cudaGetDeviceCount returned 35")
    assert result["rc"] == 1


def test_reported_failure_is_not_a_failed_result_despite_the_exit_status(fake_devicequery, monkeypatch):
    # Ansible turns a result with a non-zero rc into a failure unless "failed" is set.
    monkeypatch.setenv("DQ_CAPTURE", str(FAIL35))
    result = exits({"command": [fake_devicequery], "fail_on_error": False})
    assert (result["rc"], result["failed"], result["passed"]) == (1, False, False)


def test_command_not_found_fails_naming_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert fails({"command": "deviceQuery", "fail_on_error": False})["msg"].startswith(
        "command deviceQuery was not found in PATH on this host"
    )


def test_command_path_that_is_not_executable_fails(tmp_path):
    assert "is not an executable file" in fails({"command": str(tmp_path / "missing")})["msg"]


def test_command_printing_something_else_reports_its_exit_and_last_line(tmp_path):
    broken = script(tmp_path / "broken", "echo 'error while loading shared libraries: libcudart.so.10.2' >&2\nexit 127\n")
    result = exits({"command": [broken], "fail_on_error": False})
    assert result["passed"] is False
    assert result["error_message"] == (
        "%s exited 127 without deviceQuery output: "
        "error while loading shared libraries: libcudart.so.10.2" % broken
    )


def test_pass_with_nonzero_exit_is_warned(tmp_path, monkeypatch):
    odd = script(tmp_path / "odd", 'cat "$DQ_CAPTURE"\nexit 3\n')
    monkeypatch.setenv("DQ_CAPTURE", str(H200))
    result = exits({"command": [odd]})
    assert result["passed"] is True
    assert result["warnings_seen"] == ["deviceQuery printed 'Result = PASS' but %s exited 3" % odd]


def test_command_runs_in_check_mode(fake_devicequery, monkeypatch):
    monkeypatch.setenv("DQ_CAPTURE", str(H200))
    assert exits({"command": [fake_devicequery]}, check_mode=True)["passed"] is True


# --- container_image -----------------------------------------------------------------------


def test_container_image_runs_docker_run_rm(fake_docker, monkeypatch):
    docker, argv_log = fake_docker
    monkeypatch.setenv("DQ_CAPTURE", str(NANO))
    result = exits({"container_image": "present:1", "docker_cli": docker})
    assert result["cmd"] == [docker, "run", "--rm", "present:1"]
    assert argv_log.read_text() == "run --rm present:1\n"
    assert {key: result[key] for key in expected(NANO)} == expected(NANO)
    assert result["changed"] is False


def test_container_runtime_gpus_and_command_reach_docker(fake_docker, monkeypatch):
    docker, argv_log = fake_docker
    monkeypatch.setenv("DQ_CAPTURE", str(NANO))
    exits(
        {
            "container_image": "present:1",
            "container_runtime": "nvidia",
            "container_gpus": "all",
            "container_command": ["/usr/local/cuda/samples/1_Utilities/deviceQuery/deviceQuery"],
            "docker_cli": docker,
        }
    )
    assert argv_log.read_text() == (
        "run --rm --runtime nvidia --gpus all present:1 "
        "/usr/local/cuda/samples/1_Utilities/deviceQuery/deviceQuery\n"
    )


def test_pulling_the_image_reports_changed(fake_docker, monkeypatch):
    docker = fake_docker[0]
    monkeypatch.setenv("DQ_CAPTURE", str(NANO))
    result = exits({"container_image": "absent:1", "docker_cli": docker})
    assert (result["passed"], result["changed"]) == (True, True)


def test_failed_pull_is_not_a_change(fake_docker, monkeypatch):
    docker = fake_docker[0]
    monkeypatch.setenv("DQ_CAPTURE", str(NANO))
    result = exits({"container_image": "unreachable:1", "docker_cli": docker, "fail_on_error": False})
    assert (result["passed"], result["changed"], result["rc"]) == (False, False, 125)
    assert result["error_message"].endswith("no such host.")


def test_check_mode_skips_an_image_that_is_not_on_the_host(fake_docker, monkeypatch):
    docker, argv_log = fake_docker
    monkeypatch.setenv("DQ_CAPTURE", str(NANO))
    result = exits({"container_image": "absent:1", "docker_cli": docker}, check_mode=True)
    assert (result["skipped"], result["changed"]) == (True, False)
    assert "not on this host" in result["msg"]
    assert argv_log.read_text() == "image inspect absent:1\n"


def test_check_mode_runs_an_image_that_is_on_the_host(fake_docker, monkeypatch):
    docker, argv_log = fake_docker
    monkeypatch.setenv("DQ_CAPTURE", str(NANO))
    assert exits({"container_image": "present:1", "docker_cli": docker}, check_mode=True)["passed"] is True
    assert argv_log.read_text() == "image inspect present:1\nrun --rm present:1\n"


def test_container_that_cannot_start_fails_with_dockers_error(tmp_path):
    docker = script(
        tmp_path / "docker",
        "echo 'docker: Error response from daemon: unknown or invalid runtime name: nvidia.' >&2\nexit 125\n",
    )
    result = fails({"container_image": "dq:1", "container_runtime": "nvidia", "docker_cli": docker})
    assert result["msg"] == (
        "%s run --rm --runtime nvidia dq:1 exited 125 without deviceQuery output: "
        "docker: Error response from daemon: unknown or invalid runtime name: nvidia." % docker
    )


def test_missing_docker_cli_fails_even_without_fail_on_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = fails({"container_image": "dq:1", "fail_on_error": False})
    assert result["msg"].startswith("docker_cli docker was not found in PATH on this host")


# --- stray bytes that are not UTF-8 (issue 16) ---------------------------------------------


def with_stray_bytes(capture, tmp_path):
    """The real capture with a few bytes that are not UTF-8, as a serial console or
    `docker logs` of a container printing Latin-1 can give: a lone continuation byte and a
    Latin-1 degree sign on their own lines, a cut-off multi-byte sequence after the device name."""
    lines = capture.read_bytes().split(b"\n")
    lines.insert(1, b"\x80\xfe console noise \xff")
    device = next(n for n, line in enumerate(lines) if line.startswith(b"Device 0:"))
    lines[device + 1] += b" \xe2\x80"
    lines.insert(device, b"GPU temperature 41\xb0C")
    noisy = tmp_path / "noisy.txt"
    noisy.write_bytes(b"\n".join(lines))
    return noisy


def test_command_output_with_stray_bytes_keeps_its_result(fake_devicequery, tmp_path, monkeypatch):
    # The harness refuses, like ansible-core 2.19, a result holding surrogates.
    monkeypatch.setenv("DQ_CAPTURE", str(with_stray_bytes(H200, tmp_path)))
    result = exits({"command": [fake_devicequery]})
    assert {key: result[key] for key in expected(H200)} == expected(H200)
    assert "\ufffd console noise \ufffd" in result["stdout"]


def test_container_output_with_stray_bytes_keeps_its_result(fake_docker, tmp_path, monkeypatch):
    monkeypatch.setenv("DQ_CAPTURE", str(with_stray_bytes(NANO, tmp_path)))
    result = exits({"container_image": "present:1", "docker_cli": fake_docker[0]})
    assert {key: result[key] for key in expected(NANO)} == expected(NANO)


def test_failing_command_with_stray_bytes_fails_with_a_clean_message(tmp_path):
    broken = script(tmp_path / "broken", "printf 'libcudart.so: \\377\\376 invalid ELF header\\n' >&2\nexit 127\n")
    result = fails({"command": [broken]})
    assert result["msg"] == "%s exited 127 without deviceQuery output: libcudart.so: \ufffd\ufffd invalid ELF header" % broken
