#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: workload_wait
short_description: Wait for the inference workload's containers or Job, showing each one's progress
version_added: 0.2.0
description:
  - Waits for the async jobs (C(async) with C(poll=0)) that run the workload's containers on the
    host the task runs on (the Docker runner of the C(edgeai.jetson_cluster.gpu_workloads) role),
    and prints one line per still-running container and poll, read from its log with
    C(docker logs) (images done of its share, images per second, seconds waited), so that a
    wait reads as progress and not, as an C(until) loop prints it, as C(FAILED - RETRYING).
  - Returns each job's final C(async_status) result; a job still running at O(timeout) is
    returned with C(finished=false). It does not fail for a failed container (judge RV(results)).
  - With O(job_name) instead (the Kubernetes runner), waits for that indexed Job through the
    Kubernetes API with C(kubernetes.core)'s client, until it has a C(Complete) or C(Failed)
    condition, printing one line per pod and poll from the pod's status (not scheduled yet,
    waiting for its image, failed with an exit code) and the tail of its log. Returns the Job as
    RV(resources) (the shape of C(kubernetes.core.k8s_info)); it does not fail for a failed Job
    (judge RV(outcome)), only when the Job does not exist or the API cannot be reached at all.
  - With O(claim_name) instead (the dataset's claim, role C(edgeai.jetson_cluster.nfs_server)),
    waits until that PersistentVolumeClaim is C(Bound), printing one line per poll (its phase and
    the volume it waits for). Returns the claim as RV(resources) and RV(bound); it does not fail
    for a claim that is not bound (judge RV(bound); RV(msg) says why), only when the claim does
    not exist or the API cannot be reached at all.
  - This is an action plugin; it runs on the controller and executes C(async_status) and
    C(docker logs) on the host, or calls the Kubernetes API from the controller.
author:
  - edgeai.jetson_cluster developers
options:
  jobs:
    description:
      - The containers to wait for, as the registered results of the looped async task that
        started them. Each needs C(item), the job index the container runs (the loop's item),
        and C(ansible_job_id).
      - Exactly one of O(jobs), O(job_name) and O(claim_name) is given.
    type: list
    elements: dict
  container_prefix:
    description: The name of the container of job index I is this prefix followed by I. Required with O(jobs).
    type: str
  job_name:
    description: The indexed Job (batch/v1) to wait for; its pods are found by the C(job-name) label.
    type: str
  claim_name:
    description: The PersistentVolumeClaim to wait for until it is C(Bound).
    type: str
  namespace:
    description: The Job's or the claim's namespace (with O(job_name) or O(claim_name)).
    type: str
    default: default
  kubeconfig:
    description: The kubeconfig file to reach the API with (with O(job_name) or O(claim_name)); the client's default when unset.
    type: path
  timeout:
    description: Seconds to wait in all; jobs still running then are returned unfinished.
    type: int
    required: true
  delay:
    description: Seconds between two polls (one progress line per container each time).
    type: int
    default: 5
  worker:
    description: The host's name in the messages (default the task's host).
    type: str
attributes:
  check_mode:
    support: none
    description: Waits for jobs a real run started; the role does not call it in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
notes:
  - The progress lines are parsed by C(plugins/module_utils/workload_progress.py).
"""

EXAMPLES = r"""
- name: Wait for the containers on each worker, showing their progress
  # started: a loop over the job indices 0..3 that ran containers jc-infer-0..3 with
  # async and poll 0, index i on workers[i % 2]
  edgeai.jetson_cluster.workload_wait:
    jobs: "{{ started.results | selectattr('item', 'in', range(loop_index, 4, 2)) }}"
    container_prefix: jc-infer-
    timeout: 720
    worker: "{{ item }}"
  loop: "{{ workers }}"
  loop_control:
    index_var: loop_index
  delegate_to: "{{ item }}"
  register: waited

- name: Wait for the indexed Job, showing its pods' progress
  edgeai.jetson_cluster.workload_wait:
    job_name: jc-infer-files-4
    namespace: edgeai-jc
    kubeconfig: ~/.kube/jetson-cluster.yaml
    timeout: 1920
  register: job

- name: Wait until the dataset's claim is bound, showing its phase
  edgeai.jetson_cluster.workload_wait:
    claim_name: jc-images
    namespace: edgeai-jc
    timeout: 120
  register: claim
  failed_when: not claim.bound
"""

RETURN = r"""
resources:
  description:
    - With O(job_name), the Job as last read from the API (one element), as C(kubernetes.core.k8s_info) returns it.
    - With O(claim_name), the claim as last read.
  returned: with job_name or claim_name
  type: list
  elements: dict
outcome:
  description: With O(job_name), C(Complete) or C(Failed) (the Job's condition), or null if it had not ended at O(timeout).
  returned: with job_name
  type: str
  sample: Complete
finished:
  description: With O(job_name), whether the Job ended before O(timeout).
  returned: with job_name
  type: bool
results:
  description:
    - One element per job, sorted by index, the final C(async_status) result of the task that
      ran the container (for community.docker.docker_container with C(detach=false) it holds
      C(status) and C(container.Output)), plus C(index). Unfinished jobs have C(finished=false)
      and a C(msg).
  returned: with jobs
  type: list
  elements: dict
  sample:
    - {index: 0, finished: true, status: 0, container: {Output: "..."}}
bound:
  description: With O(claim_name), whether the claim is C(Bound).
  returned: with claim_name
  type: bool
phase:
  description: With O(claim_name), the claim's last phase (C(Pending), C(Bound), C(Lost)), null if it was never read.
  returned: with claim_name
  type: str
  sample: Bound
seconds:
  description: Seconds waited.
  returned: always
  type: float
  sample: 42.5
"""

if __name__ == "__main__":
    raise SystemExit("workload_wait is an action plugin: it runs on the controller, not as a module")
