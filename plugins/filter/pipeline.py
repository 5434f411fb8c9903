# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Filters for workload III's placement; the logic lives in module_utils/pipeline_placement.py.

Documented in plugins/filter/pipeline_stages.yml, pipeline_matrix.yml, pipeline_docker_plan.yml and
pipeline_split_plan.yml
(ansible-doc -t filter edgeai.jetson_cluster.pipeline_stages).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.pipeline_matrix import (
    docker_plan,
    expand,
    images_per_run,
    split_docker_plan,
)
from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.pipeline_placement import (
    PipelinePlacementError,
    pipeline_stages,
)


def _pipeline_stages(placement, letter_selectors, name_prefix="jc-pipeline", port=50051):
    try:
        return pipeline_stages(placement, letter_selectors, name_prefix, int(port))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("pipeline_stages: %s" % exc)


def _pipeline_matrix(depths, sizes, placements=None):
    try:
        return expand([int(d) for d in depths], list(sizes), list(placements) if placements else None)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("pipeline_matrix: %s" % exc)


def _pipeline_docker_plan(runs, server_hosts, edge_hosts, addresses, port, pixels_per_run, least, most):
    try:
        images = dict((run["size"], images_per_run(run["size"], int(pixels_per_run), int(least), int(most)))
                      for run in runs)
        return docker_plan(list(runs), list(server_hosts), list(edge_hosts), dict(addresses), int(port), images)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("pipeline_docker_plan: %s" % exc)


def _pipeline_split_plan(hosts, addresses, port, cuts, images, batch):
    try:
        return split_docker_plan(list(hosts), dict(addresses), int(port), list(cuts), int(images), int(batch))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("pipeline_split_plan: %s" % exc)


class FilterModule(object):
    """edgeai.jetson_cluster workload III filters."""

    def filters(self):
        return {"pipeline_stages": _pipeline_stages, "pipeline_matrix": _pipeline_matrix,
                "pipeline_docker_plan": _pipeline_docker_plan, "pipeline_split_plan": _pipeline_split_plan}
