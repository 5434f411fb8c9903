# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Pure functions behind the cluster's network-plan checks (filters and preflight).

No AnsibleModule here: the filter plugins in plugins/filter/ and the unit tests in
tests/unit/plugins/module_utils/ call these functions directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def find_duplicates(values_by_host):
    """Return the values that more than one host holds, with the hosts that hold them.

    ``values_by_host`` maps a host name to a value (a hostname, an IP address, ...).
    Empty values (None, "") are ignored: they mean "not set", not "the same".
    The result maps each shared value to the sorted list of its hosts, e.g.
    ``{"192.168.10.2": ["worker1", "worker2"]}``; it is empty when every value is unique.
    """
    if not isinstance(values_by_host, dict):
        raise TypeError(
            "find_duplicates expects a mapping of host -> value, got %s" % type(values_by_host).__name__
        )
    hosts_by_value = {}
    for host, value in values_by_host.items():
        if value is None or value == "":
            continue
        hosts_by_value.setdefault(str(value), []).append(str(host))
    return dict(
        (value, sorted(hosts))
        for value, hosts in sorted(hosts_by_value.items())
        if len(hosts) > 1
    )
