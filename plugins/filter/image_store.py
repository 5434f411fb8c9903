# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Filters for the workload image store; the rule lives in module_utils/image_store.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.image_store import (
    ImageStoreError,
    default_image_store,
    image_store_problems,
)


def k3s_image_store(kubernetes, server=False, server_docker=None, agent_docker=None, k3s_docker=None):
    try:
        return default_image_store(kubernetes, server, server_docker, agent_docker, k3s_docker)
    except ImageStoreError as exc:
        raise AnsibleFilterError(str(exc))


def image_store_contradictions(store, kubernetes, server=False, server_docker=None, agent_docker=None,
                               k3s_docker=None, store_variable="gpu_workloads_image_store"):
    try:
        return image_store_problems(store, kubernetes, server, server_docker, agent_docker, k3s_docker,
                                    store_variable)
    except ImageStoreError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """edgeai.jetson_cluster image store filters."""

    def filters(self):
        return {
            "k3s_image_store": k3s_image_store,
            "image_store_contradictions": image_store_contradictions,
        }
