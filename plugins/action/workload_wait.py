# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Action behind edgeai.jetson_cluster.workload_wait (documented in plugins/modules/workload_wait.py).

Waits for the async jobs that run the workload's containers on one host, printing one progress
line per container and poll (read from its log with docker logs) instead of the "FAILED -
RETRYING" lines an until-loop prints while it waits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.workload_progress import (
    describe_progress,
    pod_progress,
)

display = Display()

ARGUMENT_SPEC = {
    "jobs": {"type": "list", "elements": "dict", "required": True},
    "container_prefix": {"type": "str", "required": True},
    "timeout": {"type": "int", "required": True},
    "delay": {"type": "int", "default": 5},
    "worker": {"type": "str"},
}


class ActionModule(ActionBase):

    _requires_connection = True

    def _async_status(self, jid, task_vars):
        async_dir = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        result = self._execute_module(module_name="ansible.legacy.async_status", task_vars=task_vars,
                                      module_args={"jid": jid, "mode": "status", "_async_dir": async_dir})
        result["finished"] = bool(result.get("finished"))
        return result

    def _log_tail(self, container):
        res = self._low_level_execute_command("docker logs --tail 20 %s" % shlex.quote(container))
        return (res.get("stdout") or "") + "\n" + (res.get("stderr") or "")

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        worker = args["worker"] or task_vars.get("inventory_hostname", "")
        if args["timeout"] < 1 or args["delay"] < 1:
            result.update(failed=True, msg="timeout (%d) and delay (%d) must be at least 1 second"
                          % (args["timeout"], args["delay"]))
            return result
        pending = {}
        for job in args["jobs"]:
            index, jid = job.get("item"), job.get("ansible_job_id")
            if not isinstance(index, int) or isinstance(index, bool) or not jid:
                result.update(failed=True, msg="each of jobs must be a result of the async task that started a "
                              "container, with item (its job index) and ansible_job_id; got keys %s"
                              % ", ".join(sorted(job)))
                return result
            pending[index] = {"jid": jid, "container": "%s%d" % (args["container_prefix"], index)}
        ended, last = {}, {}
        start = time.time()
        try:
            while pending:
                for index in sorted(pending):
                    status = self._async_status(pending[index]["jid"], task_vars)
                    if status["finished"]:
                        status["index"] = index
                        ended[index] = status
                        del pending[index]
                        display.display("  index %d on %s: ended after %d s%s" % (
                            index, worker, time.time() - start,
                            "" if status.get("status", 0) == 0 and not status.get("failed")
                            else ", FAILED (exit status %s)" % status.get("status", "?")))
                elapsed = time.time() - start
                if not pending or elapsed > args["timeout"]:
                    break
                for index in sorted(pending):
                    progress = pod_progress(self._log_tail(pending[index]["container"]))
                    if progress["state"] == "starting" and index in last:
                        # The log is gone (the container ended and was removed before its job
                        # reported back): keep what it last said.
                        progress = last[index]
                    last[index] = progress
                    display.display("  " + describe_progress("index %d on %s" % (index, worker), progress, elapsed))
                time.sleep(args["delay"])
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        for index, job in pending.items():
            ended[index] = {"index": index, "finished": False, "ansible_job_id": job["jid"],
                            "msg": "still running after %d s" % args["timeout"]}
        result.update(changed=False, seconds=round(time.time() - start, 1),
                      results=[ended[index] for index in sorted(ended)])
        return result
