# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Filters for the cluster's network plan; the logic lives in module_utils/network_plan.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.network_plan import (
    find_duplicates,
)


def _find_duplicates(values_by_host):
    try:
        return find_duplicates(values_by_host)
    except TypeError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """edgeai.jetson_cluster network filters."""

    def filters(self):
        return {
            "find_duplicates": _find_duplicates,
        }
