#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: devicequery
short_description: Run or read NVIDIA deviceQuery and return what it found
version_added: 0.1.0
author:
  - edgeai.jetson_cluster contributors (@edgeai)
description:
  - Parses the text printed by NVIDIA's CUDA sample C(deviceQuery) (CUDA 10.x on Jetson through
    CUDA 12/13 on discrete GPUs) and returns whether it passed, the CUDA driver and runtime
    versions and the detected devices.
  - The text comes from exactly one of O(src) (a saved output on the target), O(content) (the text
    itself), O(command) (a C(deviceQuery) binary run on the target) or O(container_image)
    (C(docker run --rm IMAGE) on the target).
  - Output captured by C(docker logs) or C(kubectl logs) is accepted as is, with CRLF line ends,
    indentation, ANSI colours, a leading RFC 3339 timestamp per line (C(docker logs -t),
    C(kubectl logs --timestamps)), a C([pod/NAME/CONTAINER]) prefix (C(kubectl logs --prefix)),
    and the container log files themselves (CRI lines under C(/var/log/pods), Docker json-file
    lines). When a log holds several runs (a restarted container), the last run counts.
  - Bytes that are not UTF-8 in the output (console noise, a container logging Latin-1) are
    replaced by U+FFFD in RV(stdout), RV(stderr) and the parsed values; the lines around them
    are parsed as usual.
  - When deviceQuery did not pass, the task fails with deviceQuery's own reason (for example
    C(cudaGetDeviceCount returned 100 -> no CUDA-capable device is detected)) unless
    O(fail_on_error=false).
  - Text that is not deviceQuery output at all (O(src), O(content)), a missing O(src) file and a
    missing executable always fail the task, whatever O(fail_on_error) says.
requirements:
  - The docker CLI on the target, for O(container_image).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Parsing O(src) or O(content) only reads.
      - O(command) and O(container_image) run deviceQuery in check mode too, because running it
        changes nothing on the host and check mode should report what a real run would find.
      - In check mode O(container_image) is run only when the image is already on the host
        (C(docker image inspect)); otherwise the task is skipped, so check mode never pulls an
        image.
  diff_mode:
    support: none
  platform:
    platforms: posix
  action:
    support: none
  async:
    support: full
  bypass_host_loop:
    support: none
options:
  src:
    description:
      - Path of a file on the target that holds deviceQuery output, for example a saved
        C(kubectl logs) capture or a container log file.
      - To parse a file on the controller use O(content) with the C(ansible.builtin.file) lookup
        (see the examples).
    type: path
  content:
    description:
      - deviceQuery output as text, for example C(registered.stdout) of an earlier task, or a file
        on the controller read with the C(ansible.builtin.file) lookup (see the examples).
    type: str
  command:
    description:
      - The deviceQuery command to run on the target, as a list of arguments or a string split
        like a shell would (no shell features). The first word is looked up in E(PATH) unless it
        is a path.
      - Its standard output and standard error are parsed; its exit status only adds a warning
        when it contradicts the output.
      - Use the task keyword C(environment) to set for example E(CUDA_VISIBLE_DEVICES), and the
        task keyword C(timeout) to bound its run time.
    type: raw
  container_image:
    description:
      - Run deviceQuery in this image with the docker CLI on the target
        (C(docker run --rm [--runtime RUNTIME] [--gpus GPUS] IMAGE [COMMAND...])) and parse what
        it prints.
      - The image's default command must run deviceQuery, or give O(container_command).
      - When the image is not on the host, C(docker run) pulls it and the task reports
        C(changed).
    type: str
  container_runtime:
    description:
      - Passed as C(--runtime), for example V(nvidia) on a Jetson whose Docker daemon does not
        use the NVIDIA runtime by default.
      - Leave unset where C(default-runtime) is already C(nvidia) (the jetson_base role sets it
        on Tegra).
    type: str
  container_gpus:
    description:
      - Passed as C(--gpus), for example V(all) on a discrete-GPU host with the NVIDIA Container
        Toolkit.
    type: str
  container_command:
    description:
      - Command and arguments given after the image name, for example
        V([/usr/local/cuda/samples/1_Utilities/deviceQuery/deviceQuery]) with
        C(nvcr.io/nvidia/l4t-base) images.
    type: list
    elements: str
  docker_cli:
    description:
      - The docker CLI used with O(container_image), as a name looked up in E(PATH) or a path.
    type: str
    default: docker
  fail_on_error:
    description:
      - Fail the task when deviceQuery did not pass, with its error as the message.
      - With V(false) the task succeeds and RV(passed), RV(error_code) and RV(error_message) tell
        what happened.
    type: bool
    default: true
notes:
  - The module only reads; C(changed) is V(true) only when C(docker run) had to pull
    O(container_image).
  - RV(passed) is deviceQuery's own verdict, and an old deviceQuery passes having found no device
    at all; check RV(device_count) when at least one GPU is expected.
seealso:
  - name: deviceQuery in NVIDIA cuda-samples
    description: The sample whose output this module parses.
    link: https://github.com/NVIDIA/cuda-samples/tree/master/Samples/1_Utilities/deviceQuery
"""

EXAMPLES = r"""
- name: Check the GPU through the deviceQuery image (Jetson, default runtime nvidia)
  edgeai.jetson_cluster.devicequery:
    container_image: "{{ jetson_base_devicequery_image }}"
  register: gpu

- name: Check the GPU of a discrete-GPU host without failing the play
  edgeai.jetson_cluster.devicequery:
    container_image: registry.local/devicequery:12.2
    container_gpus: all
    fail_on_error: false
  register: gpu

- name: Run deviceQuery from an L4T base image that does not run it by default
  edgeai.jetson_cluster.devicequery:
    container_image: nvcr.io/nvidia/l4t-base:r32.7.1
    container_runtime: nvidia
    container_command:
      - /usr/local/cuda/samples/1_Utilities/deviceQuery/deviceQuery

- name: Run a deviceQuery binary on one GPU only
  edgeai.jetson_cluster.devicequery:
    command: /usr/local/cuda/samples/bin/aarch64/linux/release/deviceQuery
  environment:
    CUDA_VISIBLE_DEVICES: "0"

- name: Parse the logs of the deviceQuery pod
  edgeai.jetson_cluster.devicequery:
    content: "{{ pod_logs.log }}"
  delegate_to: localhost

- name: Parse a capture kept on the controller
  edgeai.jetson_cluster.devicequery:
    content: "{{ lookup('ansible.builtin.file', 'captures/' + inventory_hostname + '-dq.txt') }}"
  delegate_to: localhost

- name: Parse a capture saved on the target
  edgeai.jetson_cluster.devicequery:
    src: /var/log/devicequery.txt
  register: gpu

- name: Require an integrated GPU of compute capability 5.3 or newer
  ansible.builtin.assert:
    that:
      - gpu.device_count >= 1
      - gpu.devices[0].integrated
      - gpu.devices[0].capability is version('5.3', '>=')
    fail_msg: "{{ inventory_hostname }}: {{ gpu.devices }}"
"""

RETURN = r"""
passed:
  description: deviceQuery ended with C(Result = PASS) and printed no error.
  returned: always
  type: bool
  sample: true
device_count:
  description: Number of CUDA devices deviceQuery detected; V(0) when it could not count them.
  returned: always
  type: int
  sample: 1
driver_version:
  description: CUDA version the driver supports, as deviceQuery prints it; V(null) when it failed before printing it.
  returned: always
  type: str
  sample: "10.2"
runtime_version:
  description: CUDA runtime version deviceQuery was built with; V(null) when it failed before printing it.
  returned: always
  type: str
  sample: "10.2"
devices:
  description: One entry per device deviceQuery described, in its order. A value is V(null) when the output lacks its line.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: CUDA device index.
      type: int
      sample: 0
    name:
      description: Device name.
      type: str
      sample: NVIDIA Tegra X1
    capability:
      description: Compute capability as C(major.minor).
      type: str
      sample: "5.3"
    memory_mb:
      description: Total global memory in MiB, as deviceQuery prints it (shared with the CPU on Jetson).
      type: int
      sample: 3963
    multiprocessors:
      description: Number of streaming multiprocessors.
      type: int
      sample: 1
    cuda_cores:
      description: Total CUDA cores.
      type: int
      sample: 128
    max_clock_mhz:
      description: GPU maximum clock rate in MHz.
      type: int
      sample: 922
    integrated:
      description: The GPU is integrated and shares host memory (Jetson).
      type: bool
      sample: true
error_code:
  description:
    - CUDA error code deviceQuery reported, for example V(100) (no device) or V(35) (driver older
      than the runtime).
    - V(null) when it passed or printed no code.
  returned: always
  type: int
  sample: 100
error_message:
  description: Why deviceQuery did not pass; V(null) when it passed.
  returned: always
  type: str
  sample: cudaGetDeviceCount returned 100 -> no CUDA-capable device is detected
cmd:
  description: The command that was run.
  returned: when O(command) or O(container_image) is used and the command ran
  type: list
  elements: str
  sample: [docker, run, --rm, --runtime, nvidia, devicequery:r32.7.1]
rc:
  description: Exit status of the command.
  returned: when O(command) or O(container_image) is used and the command ran
  type: int
  sample: 0
stdout:
  description: Standard output of the command.
  returned: when O(command) or O(container_image) is used and the command ran
  type: str
stderr:
  description: Standard error of the command.
  returned: when O(command) or O(container_image) is used and the command ran
  type: str
"""

import os
import shlex

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.devicequery import (
    DeviceQueryError,
    parse_devicequery,
)

# docker run prints this to stderr once it has pulled a missing image.
_PULLED = "Status: Downloaded newer image for "


def _argv(module, value, name):
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            module.fail_json(msg="%s %r cannot be split into arguments: %s" % (name, value, exc))
    elif isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
        argv = [to_native(item) for item in value]
    else:
        module.fail_json(msg="%s must be a string or a list of strings, got %r" % (name, value))
    if not argv:
        module.fail_json(msg="%s is empty" % name)
    return argv


def _executable(module, name, option):
    """Resolve a command name the way the target's PATH would, failing with a clear message."""
    if os.sep in name:
        if not (os.path.isfile(name) and os.access(name, os.X_OK)):
            module.fail_json(msg="%s %s is not an executable file on this host" % (option, name))
        return name
    path = module.get_bin_path(name)
    if path is None:
        module.fail_json(
            msg="%s %s was not found in PATH on this host (%s)"
            % (option, name, os.environ.get("PATH", ""))
        )
    return path


def _last_line(*texts):
    for text in texts:
        for line in reversed((text or "").splitlines()):
            if line.strip():
                return line.strip()
    return "(no output)"


def _run(module, argv):
    # "replace", not surrogateescape: a byte that is not UTF-8 (console noise, a Latin-1
    # container log) must become U+FFFD here, or ansible-core refuses the whole result.
    rc, stdout, stderr = module.run_command(argv, errors="replace")
    ran = {"cmd": argv, "rc": rc, "stdout": stdout, "stderr": stderr}
    try:
        parsed = parse_devicequery(stdout + "\n" + stderr)
    except DeviceQueryError:
        parsed = {
            "passed": False,
            "device_count": 0,
            "driver_version": None,
            "runtime_version": None,
            "devices": [],
            "error_code": None,
            "error_message": "%s exited %d without deviceQuery output: %s"
            % (" ".join(shlex.quote(arg) for arg in argv), rc, _last_line(stderr, stdout)),
            "warnings": [],
        }
    if parsed["passed"] and rc != 0:
        parsed["warnings"].append(
            "deviceQuery printed 'Result = PASS' but %s exited %d" % (argv[0], rc)
        )
    parsed.update(ran)
    return parsed


def _docker_argv(module):
    params = module.params
    argv = [_executable(module, params["docker_cli"], "docker_cli"), "run", "--rm"]
    if params["container_runtime"]:
        argv += ["--runtime", params["container_runtime"]]
    if params["container_gpus"]:
        argv += ["--gpus", params["container_gpus"]]
    argv.append(params["container_image"])
    argv += params["container_command"] or []
    return argv


def _image_present(module, docker):
    rc, dummy, dummy = module.run_command([docker, "image", "inspect", module.params["container_image"]])
    return rc == 0


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path"),
            content=dict(type="str"),
            command=dict(type="raw"),
            container_image=dict(type="str"),
            container_runtime=dict(type="str"),
            container_gpus=dict(type="str"),
            container_command=dict(type="list", elements="str"),
            docker_cli=dict(type="str", default="docker"),
            fail_on_error=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("src", "content", "command", "container_image")],
        required_one_of=[("src", "content", "command", "container_image")],
        required_by=dict(
            container_runtime="container_image",
            container_gpus="container_image",
            container_command="container_image",
        ),
        supports_check_mode=True,
    )
    params = module.params
    changed = False

    if params["src"] is not None or params["content"] is not None:
        if params["src"] is not None:
            source = "src %s" % params["src"]
            if not os.path.exists(params["src"]):
                module.fail_json(msg="%s does not exist on this host" % source)
            if os.path.isdir(params["src"]):
                module.fail_json(msg="%s is a directory, not a saved deviceQuery output" % source)
            try:
                with open(params["src"], "rb") as handle:
                    text = handle.read()
            except (IOError, OSError) as exc:
                module.fail_json(msg="cannot read %s: %s" % (source, to_native(exc)))
        else:
            source = "content"
            text = params["content"]
        try:
            result = parse_devicequery(text)
        except DeviceQueryError as exc:
            module.fail_json(msg="%s: %s" % (source, to_native(exc)))
    elif params["command"] is not None:
        argv = _argv(module, params["command"], "command")
        argv[0] = _executable(module, argv[0], "command")
        result = _run(module, argv)
    else:
        argv = _docker_argv(module)
        if module.check_mode and not _image_present(module, argv[0]):
            module.exit_json(
                changed=False,
                skipped=True,
                msg="check mode: image %s is not on this host, and check mode does not pull it"
                % params["container_image"],
            )
        result = _run(module, argv)
        changed = _PULLED in result["stderr"]

    for warning in result.pop("warnings"):
        module.warn(warning)
    result["changed"] = changed
    if not result["passed"] and params["fail_on_error"]:
        module.fail_json(msg=result["error_message"], **result)
    # Explicit, because Ansible marks a result with a non-zero rc as failed unless told otherwise,
    # and a failing deviceQuery exits 1 even when fail_on_error is false.
    module.exit_json(failed=False, **result)


if __name__ == "__main__":
    main()
