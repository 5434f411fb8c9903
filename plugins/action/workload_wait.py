# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Action behind edgeai.jetson_cluster.workload_wait (documented in plugins/modules/workload_wait.py).

Docker runner (jobs, container_prefix): waits for the async jobs that run the workload's
containers on one host, printing one progress line per container and poll (read from its log
with docker logs). Kubernetes runner (job_name): waits for the indexed Job through the API with
kubernetes.core's client, printing one line per pod and poll (read from the pod's status and the
tail of its log). Dataset claim (claim_name): waits until the PersistentVolumeClaim is Bound,
one line per poll (its phase and the volume it waits for). Each way instead of the
"FAILED - RETRYING" lines an until-loop prints while it waits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.workload_progress import (
    describe_progress,
    job_outcome,
    kube_pod_progress,
    newest_pod_per_index,
    pod_has_log,
    pod_progress,
    pod_where,
)

display = Display()

ARGUMENT_SPEC = {
    "jobs": {"type": "list", "elements": "dict"},
    "container_prefix": {"type": "str"},
    "job_name": {"type": "str"},
    "claim_name": {"type": "str"},
    "namespace": {"type": "str", "default": "default"},
    "kubeconfig": {"type": "path"},
    "timeout": {"type": "int", "required": True},
    "delay": {"type": "int", "default": 5},
    "worker": {"type": "str"},
}
ARGUMENT_RULES = {
    "required_one_of": [["jobs", "job_name", "claim_name"]],
    "mutually_exclusive": [["jobs", "job_name", "claim_name"], ["container_prefix", "job_name"],
                           ["container_prefix", "claim_name"]],
    "required_together": [["jobs", "container_prefix"]],
}
# Lines of each pod's log read per poll (the last progress line is what counts).
LOG_TAIL_LINES = 20


def api_client(kubeconfig):
    """kubernetes.core's API client (imported here: the Docker runner needs no kubernetes package)."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

    return get_api_client(kubeconfig=kubeconfig)


# A claim in one of these phases will not change by waiting.
ENDED_CLAIM_PHASES = ("Bound", "Lost")


def _claim_phase(claim):
    """The claim's phase; a claim the API returns without status is still Pending."""
    return (claim.get("status") or {}).get("phase") or "Pending"


def _api_error(exc):
    """A short reason from a kubernetes client exception (ApiException has status/reason)."""
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if status:
        return "%s %s" % (status, reason or "")
    return "%s: %s" % (type(exc).__name__, str(exc)[:200])


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
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, **ARGUMENT_RULES)
        worker = args["worker"] or task_vars.get("inventory_hostname", "")
        if args["timeout"] < 1 or args["delay"] < 1:
            result.update(failed=True, msg="timeout (%d) and delay (%d) must be at least 1 second"
                          % (args["timeout"], args["delay"]))
            return result
        if args["job_name"]:
            return self._run_kubernetes(args, result)
        if args["claim_name"]:
            return self._run_claim(args, result)
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

    @staticmethod
    def _resources(args, result, kinds):
        """kubernetes.core's resources for (kind, apiVersion) pairs, or None with result failed."""
        try:
            client = api_client(args["kubeconfig"])
            return [client.resource(kind, api_version) for kind, api_version in kinds]
        except Exception as exc:  # the client raises its own, kubernetes' and urllib3's exceptions
            result.update(failed=True, msg="cannot reach the Kubernetes API with kubeconfig %s: %s"
                          % (args["kubeconfig"] or "(default)", _api_error(exc)))
            return None

    @staticmethod
    def _poll(args, what, read, ended):
        """Call read(elapsed) every delay seconds until ended(its value) or the timeout.

        The one wait loop of both API modes. An API hiccup is shown and retried until the timeout,
        as an until-loop would; a 404 ends the wait at once. Returns (value, last_error, missing,
        start): value is the last one read (None if none was), missing the 404's reason or None.
        """
        value, last_error = None, None
        start = time.time()
        while True:
            elapsed = time.time() - start
            try:
                value = read(elapsed)
                last_error = None
            except Exception as exc:  # kubernetes' ApiException, urllib3's errors, ...
                if getattr(exc, "status", None) == 404:
                    return value, None, _api_error(exc), start
                last_error = _api_error(exc)
                display.display("  %s: the API did not answer (%s), %d s" % (what, last_error, elapsed))
            if (last_error is None and ended(value)) or elapsed > args["timeout"]:
                return value, last_error, None, start
            time.sleep(args["delay"])

    def _run_kubernetes(self, args, result):
        """Poll the Job and its pods until the Job has a Complete or Failed condition or the timeout."""
        name, namespace = args["job_name"], args["namespace"]
        resources = self._resources(args, result, [("Job", "batch/v1"), ("Pod", "v1")])
        if resources is None:
            return result
        jobs, pods = resources
        shown = {}

        def read(elapsed):
            job = jobs.get(name=name, namespace=namespace).to_dict()
            outcome = job_outcome(job)
            found = pods.get(namespace=namespace, label_selector="job-name=%s" % name).to_dict()
            current = newest_pod_per_index(found.get("items") or [])
            for index in sorted(current):
                pod = current[index]
                log = self._pod_log(pods, pod, namespace) if pod_has_log(pod) else ""
                progress = kube_pod_progress(pod, log)
                if outcome and shown.get(index) == progress["state"] == "done":
                    continue
                shown[index] = progress["state"]
                display.display("  " + describe_progress(pod_where(pod), progress, elapsed))
            return job, outcome

        read_value, last_error, missing, start = self._poll(
            args, "Job %s" % name, read, lambda value: value[1] is not None)
        if missing:
            result.update(failed=True, msg="Job %s/%s does not exist (%s)" % (namespace, name, missing))
            return result
        job, outcome = read_value or (None, None)
        finished = outcome is not None
        if finished:
            display.display("  Job %s: %s after %d s" % (name, "complete" if outcome == "Complete" else "FAILED",
                                                         time.time() - start))
        result.update(changed=False, seconds=round(time.time() - start, 1), finished=finished, outcome=outcome,
                      resources=[job] if job else [])
        if not finished:
            result["msg"] = "Job %s/%s still running after %d s%s" % (
                namespace, name, args["timeout"], "; last API error: %s" % last_error if last_error else "")
        return result

    def _run_claim(self, args, result):
        """Poll the PersistentVolumeClaim until it is Bound (a Lost claim fails at once) or the timeout."""
        name, namespace = args["claim_name"], args["namespace"]
        resources = self._resources(args, result, [("PersistentVolumeClaim", "v1")])
        if resources is None:
            return result
        claims = resources[0]

        def read(elapsed):
            claim = claims.get(name=name, namespace=namespace).to_dict()
            phase = _claim_phase(claim)
            if phase not in ENDED_CLAIM_PHASES and elapsed <= args["timeout"]:
                volume = (claim.get("spec") or {}).get("volumeName") or "a matching volume"
                display.display("  claim %s: %s, waiting for %s to bind, %d s" % (name, phase, volume, elapsed))
            return claim

        claim, last_error, missing, start = self._poll(
            args, "claim %s" % name, read, lambda value: _claim_phase(value) in ENDED_CLAIM_PHASES)
        if missing:
            result.update(failed=True, msg="PersistentVolumeClaim %s/%s does not exist (%s)"
                          % (namespace, name, missing))
            return result
        phase = _claim_phase(claim) if claim else None
        bound = phase == "Bound"
        volume = ((claim or {}).get("spec") or {}).get("volumeName") or "?"
        if bound:
            display.display("  claim %s: Bound to %s after %d s" % (name, volume, time.time() - start))
        result.update(changed=False, seconds=round(time.time() - start, 1), bound=bound, phase=phase,
                      resources=[claim] if claim else [])
        if phase == "Lost":
            result["msg"] = "PersistentVolumeClaim %s/%s is Lost: its volume %s is gone" % (namespace, name, volume)
        elif not bound:
            result["msg"] = "PersistentVolumeClaim %s/%s still %s after %d s%s" % (
                namespace, name, phase or "unread", args["timeout"],
                "; last API error: %s" % last_error if last_error else "")
        return result

    @staticmethod
    def _pod_log(pods, pod, namespace):
        """The tail of the pod's log, or "" when the API has none (container gone, node unreachable)."""
        try:
            response = pods.log.get(name=pod["metadata"]["name"], namespace=namespace, serialize=False,
                                    query_params={"tailLines": LOG_TAIL_LINES})
        except Exception:  # a missing log only leaves the pod's status to go by
            return ""
        data = getattr(response, "data", response)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
