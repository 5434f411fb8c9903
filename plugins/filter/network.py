# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Filters for the cluster's network plan; the logic lives in module_utils/network_plan.py.

Each filter is documented in plugins/filter/<name>.yml (ansible-doc -t filter edgeai.jetson_cluster.<name>).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.network_plan import (
    NetworkPlanError,
    addresses_outside,
    addresses_within,
    describe_interface_address,
    find_duplicates,
    find_overlaps,
    network_plan_problems,
)


def _as_filter(function):
    """Turn the helpers' input errors into AnsibleFilterError naming the filter."""

    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (TypeError, NetworkPlanError) as exc:
            raise AnsibleFilterError("%s: %s" % (function.__name__, exc))

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


class FilterModule(object):
    """edgeai.jetson_cluster network filters."""

    def filters(self):
        return {
            "find_duplicates": _as_filter(find_duplicates),
            "network_overlaps": _as_filter(find_overlaps),
            "addresses_outside": _as_filter(addresses_outside),
            "addresses_within": _as_filter(addresses_within),
            "network_plan_problems": _as_filter(network_plan_problems),
            "interface_address": _as_filter(describe_interface_address),
        }
