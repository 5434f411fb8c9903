#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: benchmark_aggregate
short_description: Sum the per-pod results of a distributed inference run
version_added: 0.1.0
description:
  - Reads the one-line JSON results that the inference workload (the C(jc_infer) package of the
    C(edgeai.jetson_cluster.gpu_workloads) role) prints per pod, either given directly or
    pulled out of log files in which they are mixed with other lines.
  - Returns the run's totals, its makespan (the slowest pod's timed window), throughput
    (images per second of makespan), imbalance (slowest over fastest pod), the job indices
    that are missing, and, given a single-node baseline, the speedup and
    the parallel efficiency.
  - Bad input fails with a message naming the pod or the log line, for example a negative
    time, time reported for zero images, a line that starts like JSON but is not, a result
    without C(index), C(images) or C(seconds), or a log that holds no result at all.
  - A job index that reported more than once (a retried pod, logs of two runs in one directory)
    fails the task with a message naming the index and every result's source, because summing both would
    inflate the images, throughput and speedup, and picking one would be a guess. Remove the stale
    log and run it again.
  - Read-only; reports C(changed=false).
author:
  - edgeai.jetson_cluster developers
options:
  results:
    description:
      - Per-pod results of one run. Each element is either a mapping with at least C(index),
        C(images) and C(seconds) (optional C(errors), C(warmup_seconds), C(total_jobs),
        C(hostname), ... are kept in O(per_pod)) or the text of a pod's log, from which the
        result lines are parsed as with O(src).
      - Exactly one of O(results), O(src) and O(runs) is required.
    type: list
    elements: raw
  src:
    description:
      - A log file, or a directory whose regular, non-hidden files are all logs (one per pod
        usually), on the host the module runs on. Delegate the task to C(localhost) for logs
        collected on the controller.
      - Lines that start with C({) and carry any of C(index), C(images), C(seconds),
        C(total_jobs), C(throughput), C(warmup_seconds) are results; other lines are ignored.
        Every file must hold at least one result.
    type: path
  runs:
    description:
      - Every run of a benchmark, aggregated at once, in the order they ran. Each element is a
        mapping with C(workload) (a name), C(jobs) (the run's job count, its O(expected_jobs)) and
        C(src) (as O(src)) or C(results) (as O(results)); other keys are passed through.
      - The first run of each workload is that workload's baseline, which the others (and it,
        with speedup 1.0) are compared with. A run with a missing job index fails, naming the run.
      - Returns RV(runs) instead of the single-run values.
    type: list
    elements: dict
  expected_jobs:
    description:
      - Number of job indices the run should have (C(0) to O(expected_jobs) minus one).
        Results that report a different C(total_jobs), or an index outside that range, are an
        error; absent indices are listed in RV(missing_indices).
      - Without it, the C(total_jobs) the pods report (or the highest index plus one) is used.
      - Not with O(runs), where each run's C(jobs) is used.
    type: int
  baseline:
    description:
      - The single-node reference for RV(speedup) and RV(efficiency), which is a mapping
        with C(images) and C(seconds), or a previous result of this module (its C(images) and
        C(makespan_seconds) are used), or a mapping with C(throughput) alone.
      - Not with O(runs), where each workload's first run is the baseline.
    type: dict
attributes:
  check_mode:
    support: full
    description: Only reads its input, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
notes:
  - The arithmetic lives in C(plugins/module_utils/benchmark.py) of this collection.
"""

EXAMPLES = r"""
- name: Aggregate the single-node baseline from the collected pod logs
  edgeai.jetson_cluster.benchmark_aggregate:
    src: "{{ report_dir }}/logs/synthetic-1"
    expected_jobs: 1
  delegate_to: localhost
  register: baseline

- name: Aggregate the 3-way run against that baseline
  edgeai.jetson_cluster.benchmark_aggregate:
    src: "{{ report_dir }}/logs/synthetic-3"
    expected_jobs: 3
    baseline: "{{ baseline }}"
  delegate_to: localhost
  register: three_way

- name: Aggregate results given inline (the reference build's numbers)
  edgeai.jetson_cluster.benchmark_aggregate:
    results:
      - {index: 0, images: 400, seconds: 95.2}
      - {index: 1, images: 400, seconds: 97.8}
      - {index: 2, images: 400, seconds: 99.0}
    expected_jobs: 3
    baseline: {images: 1200, seconds: 150}
  register: reference
  # reference.throughput ~ 12.1, reference.speedup ~ 1.52, reference.efficiency ~ 0.51

- name: Aggregate a whole benchmark, each 2-way run against its workload's 1-job run
  edgeai.jetson_cluster.benchmark_aggregate:
    runs:
      - {workload: synthetic, jobs: 1, src: "{{ report_dir }}/logs/synthetic-1"}
      - {workload: synthetic, jobs: 2, src: "{{ report_dir }}/logs/synthetic-2"}
      - {workload: files, jobs: 1, src: "{{ report_dir }}/logs/files-1"}
      - {workload: files, jobs: 2, src: "{{ report_dir }}/logs/files-2"}
  delegate_to: localhost
  register: benchmark
  # benchmark.runs[1].aggregate.speedup: the 2-way synthetic run against the 1-job one

- name: Aggregate pod logs fetched with kubernetes.core.k8s_log
  edgeai.jetson_cluster.benchmark_aggregate:
    results: "{{ pod_logs.results | map(attribute='log') | list }}"
    expected_jobs: "{{ pod_logs.results | length }}"
"""

RETURN = r"""
runs:
  description:
    - With O(runs), one element per run in the same order; C(aggregate) holds the values below
      (RV(pods) ... RV(efficiency)) for that run. The single-run values are not returned then.
  returned: when O(runs) is given
  type: list
  elements: dict
  sample:
    - {workload: synthetic, jobs: 1, aggregate: {pods: 1, images: 1200, throughput: 8.0, speedup: 1.0}}
pods:
  description: Number of distinct job indices that reported a result.
  returned: success, without O(runs)
  type: int
  sample: 3
expected_jobs:
  description: Number of job indices the run should have had.
  returned: success, without O(runs)
  type: int
  sample: 3
images:
  description: Images processed by all pods together (corrupt images not included).
  returned: success, without O(runs)
  type: int
  sample: 1200
errors:
  description: Images that pods could not read or decode, summed.
  returned: success, without O(runs)
  type: int
  sample: 0
makespan_seconds:
  description: The slowest pod's timed window, the run's wall time for the benchmark.
  returned: success, without O(runs)
  type: float
  sample: 99.0
fastest_seconds:
  description: The fastest timed window among pods that processed images.
  returned: success, without O(runs)
  type: float
  sample: 95.2
throughput:
  description: RV(images) divided by RV(makespan_seconds), in images per second.
  returned: success, without O(runs)
  type: float
  sample: 12.12
imbalance:
  description: Slowest over fastest pod among those that processed images; 1.0 is a perfect balance.
  returned: success, without O(runs)
  type: float
  sample: 1.04
max_warmup_seconds:
  description: The longest warm-up (excluded from the timed windows) any pod reported.
  returned: when pods report warmup_seconds
  type: float
  sample: 4.2
per_pod:
  description:
    - Each pod's result sorted by index, with its own C(throughput) and the C(source) it was
      read from; keys the workload printed beyond those checked are kept.
  returned: success, without O(runs)
  type: list
  elements: dict
  sample:
    - {index: 0, images: 400, errors: 0, seconds: 95.2, throughput: 4.2, hostname: worker1, source: "logs/0.log:12"}
missing_indices:
  description: Job indices below RV(expected_jobs) that reported no result.
  returned: success, without O(runs)
  type: list
  elements: int
  sample: []
duplicate_indices:
  description:
    - Always empty; a job index that reported more than once fails the task instead (see the
      description). Kept for playbooks that check it.
  returned: success, without O(runs)
  type: list
  elements: int
  sample: []
baseline_throughput:
  description: Throughput of the baseline, in images per second.
  returned: when O(baseline) is given
  type: float
  sample: 8.0
speedup:
  description: RV(throughput) divided by RV(baseline_throughput).
  returned: when O(baseline) is given
  type: float
  sample: 1.52
efficiency:
  description: RV(speedup) divided by RV(pods); 1.0 is perfect scaling.
  returned: when O(baseline) is given
  type: float
  sample: 0.51
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import (
    BenchmarkError,
    aggregate,
    aggregate_runs,
    read_src,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            results=dict(type="list", elements="raw"),
            src=dict(type="path"),
            expected_jobs=dict(type="int"),
            baseline=dict(type="dict"),
            runs=dict(type="list", elements="dict"),
        ),
        mutually_exclusive=[("results", "src", "runs"), ("runs", "expected_jobs"), ("runs", "baseline")],
        required_one_of=[("results", "src", "runs")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["runs"] is not None:
            module.exit_json(changed=False, runs=aggregate_runs(params["runs"]))
        results = read_src(params["src"]) if params["src"] else params["results"]
        summary = aggregate(results, expected_jobs=params["expected_jobs"], baseline=params["baseline"])
    except BenchmarkError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
