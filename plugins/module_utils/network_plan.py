# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Pure functions behind the cluster's network-plan checks (filters and preflight).

No AnsibleModule here: the filter plugins in plugins/filter/ and the unit tests in
tests/unit/plugins/module_utils/ call these functions directly. Everything runs on the
controller (the preflight role never touches a host), so netaddr is a controller requirement.

The cluster is IPv4-only: NetworkManager's shared mode and the k3s defaults it must not
collide with (10.42.0.0/16 pods, 10.43.0.0/16 services) are IPv4.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import netaddr
except ImportError:  # pragma: no cover - netaddr is pinned in requirements-dev.txt
    netaddr = None


class NetworkPlanError(ValueError):
    """A value of the network plan cannot be parsed (not an IPv4 address or network)."""


def _require_netaddr():
    if netaddr is None:
        raise NetworkPlanError(
            "the Python library netaddr is required on the controller (pip install netaddr)"
        )


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


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def parse_address(value, what="address"):
    """Parse a plain IPv4 address ("192.168.10.2", no prefix) into a netaddr.IPAddress."""
    _require_netaddr()
    if not isinstance(value, str) or "/" in value:
        raise NetworkPlanError("%s %r is not an IPv4 address such as 192.168.10.2" % (what, value))
    try:
        address = netaddr.IPAddress(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise NetworkPlanError("%s %r is not an IPv4 address such as 192.168.10.2" % (what, value))
    if address.version != 4:
        raise NetworkPlanError("%s %r is not an IPv4 address such as 192.168.10.2" % (what, value))
    return address


def parse_network(value, what="network"):
    """Parse an IPv4 network in CIDR notation into the netaddr.IPNetwork it names.

    Host bits are dropped ("192.168.0.1/16" names 192.168.0.0/16), as k3s and NetworkManager
    do. A value without a prefix length is refused: "10.42.0.0" is not a network.
    """
    _require_netaddr()
    example = "10.42.0.0/16"
    if not isinstance(value, str) or "/" not in value:
        raise NetworkPlanError("%s %r is not an IPv4 network in CIDR notation such as %s" % (what, value, example))
    try:
        network = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise NetworkPlanError("%s %r is not an IPv4 network in CIDR notation such as %s" % (what, value, example))
    if network.version != 4:
        raise NetworkPlanError("%s %r is not an IPv4 network in CIDR notation such as %s" % (what, value, example))
    return network.cidr


def parse_interface_address(value, what="address"):
    """Parse an interface address with its prefix ("192.168.0.1/16") into a netaddr.IPNetwork.

    The result keeps the host part (``.ip``) and names its network (``.cidr``). The address
    must be a usable host address of that network: not the network or broadcast address.
    """
    _require_netaddr()
    example = "192.168.0.1/16"
    if not isinstance(value, str) or "/" not in value:
        raise NetworkPlanError(
            "%s %r needs a prefix length, e.g. %s: it is an address and the network it serves"
            % (what, value, example)
        )
    try:
        interface = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise NetworkPlanError("%s %r is not an IPv4 address with prefix such as %s" % (what, value, example))
    if interface.version != 4:
        raise NetworkPlanError("%s %r is not an IPv4 address with prefix such as %s" % (what, value, example))
    if interface.prefixlen > 30:
        raise NetworkPlanError(
            "%s %r leaves no room for other hosts: use a prefix of /30 or shorter, e.g. %s"
            % (what, value, example)
        )
    if interface.ip in (interface.network, interface.broadcast):
        raise NetworkPlanError(
            "%s %r is the network or broadcast address of %s; use a host address such as %s/%d"
            % (what, value, interface.cidr, interface.cidr[1], interface.prefixlen)
        )
    return interface


def describe_interface_address(value, what="address"):
    """Split an interface address ("192.168.0.1/16") into the parts roles template with.

    Returns ``{"address": "192.168.0.1", "prefix": 16, "network": "192.168.0.0/16",
    "netmask": "255.255.0.0", "cidr": "192.168.0.1/16"}``; refuses what
    parse_interface_address refuses, naming the value as ``what`` (e.g. the variable).
    """
    interface = parse_interface_address(value, what)
    return {
        "address": str(interface.ip),
        "prefix": interface.prefixlen,
        "network": str(interface.cidr),
        "netmask": str(interface.netmask),
        "cidr": "%s/%d" % (interface.ip, interface.prefixlen),
    }


# ---------------------------------------------------------------------------------------------
# Building blocks (each one is also a filter)
# ---------------------------------------------------------------------------------------------

def _parse_networks(networks_by_name):
    if not isinstance(networks_by_name, dict):
        raise TypeError(
            "expected a mapping of name -> network (CIDR), got %s" % type(networks_by_name).__name__
        )
    return [(str(name), parse_network(value, what=str(name))) for name, value in networks_by_name.items()]


def _parse_addresses(addresses_by_host):
    if not isinstance(addresses_by_host, dict):
        raise TypeError(
            "expected a mapping of host -> IPv4 address, got %s" % type(addresses_by_host).__name__
        )
    return [(str(host), parse_address(value, what="%s's address" % host))
            for host, value in sorted(addresses_by_host.items())]


def find_overlaps(networks_by_name):
    """Return every pair of named networks that share at least one address.

    ``networks_by_name`` maps a name to a CIDR, e.g. ``{"cluster_pod_cidr": "10.42.0.0/16",
    "gateway": "10.42.0.1/24"}`` (host bits are dropped). Pairs keep the mapping's order:
    ``[{"names": ["cluster_pod_cidr", "gateway"], "cidrs": ["10.42.0.0/16", "10.42.0.0/24"]}]``.
    """
    parsed = _parse_networks(networks_by_name)
    overlaps = []
    for index, (name, network) in enumerate(parsed):
        for other_name, other in parsed[index + 1:]:
            if network.first <= other.last and other.first <= network.last:
                overlaps.append({"names": [name, other_name], "cidrs": [str(network), str(other)]})
    return overlaps


def addresses_outside(addresses_by_host, network):
    """Return the hosts whose address is not inside ``network``, as ``{host: address}``."""
    parsed_network = parse_network(network)
    return dict(
        (host, str(address))
        for host, address in _parse_addresses(addresses_by_host)
        if address not in parsed_network
    )


def addresses_within(addresses_by_host, networks_by_name):
    """Return the hosts whose address lies inside any of the named networks.

    The result maps each such host to the sorted names of the networks that contain it, e.g.
    ``{"worker1": ["cluster_pod_cidr"]}``; hosts inside none of them are left out.
    """
    networks = _parse_networks(networks_by_name)
    result = {}
    for host, address in _parse_addresses(addresses_by_host):
        names = sorted(name for name, network in networks if address in network)
        if names:
            result[host] = names
    return result


# RFC 1123 DNS subdomain, the rule Kubernetes applies to node names.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def valid_node_name(name):
    """Whether ``name`` can be a k3s node name (a lowercase RFC 1123 DNS subdomain).

    The kubelet lowercases the hostname it registers, so callers pass ``name.lower()``.
    """
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    return all(_DNS_LABEL.match(label) for label in name.split("."))


# ---------------------------------------------------------------------------------------------
# The preflight's whole check
# ---------------------------------------------------------------------------------------------

PLAN_KEYS = (
    "gateway_address", "node_network", "pod_cidr", "service_cidr", "nfs_export_network",
    "node_ips", "node_names", "node_hosts", "servers", "agents", "gateways", "nfs_servers",
    "nfs_clients", "server_ha",
)


def _hosts(hosts):
    return ", ".join(sorted(str(host) for host in hosts))


def _host_values(values_by_host):
    return ", ".join("%s (%s)" % (host, value) for host, value in sorted(values_by_host.items()))


def _topology_problems(plan):
    problems = []
    servers = sorted(plan.get("servers") or [])
    agents = sorted(plan.get("agents") or [])
    if not servers:
        problems.append(
            "k3s_server holds no host: put exactly one board (the control plane) in the k3s_server group."
        )
    elif plan.get("server_ha"):
        if len(servers) % 2 == 0:
            problems.append(
                "k3s_server_ha needs an odd number of servers for etcd quorum; k3s_server holds %d: %s."
                % (len(servers), _hosts(servers))
            )
    elif len(servers) > 1:
        problems.append(
            "k3s_server must hold exactly one host unless k3s_server_ha is true; it holds %d: %s."
            % (len(servers), _hosts(servers))
        )
    both = sorted(set(servers) & set(agents))
    if both:
        problems.append(
            "hosts in both k3s_server and k3s_agents (each would install a k3s server: "
            "the 'all nodes became masters' failure): %s." % _hosts(both)
        )
    gateways = sorted(plan.get("gateways") or [])
    if len(gateways) > 1:
        problems.append("gateway must hold at most one host (the laptop); it holds %d: %s."
                        % (len(gateways), _hosts(gateways)))
    nfs_servers = sorted(plan.get("nfs_servers") or [])
    if len(nfs_servers) > 1:
        problems.append("nfs_server must hold at most one host; it holds %d: %s."
                        % (len(nfs_servers), _hosts(nfs_servers)))
    return problems


def _name_problems(plan):
    problems = []
    # An unset hostname means the node keeps its inventory name.
    names = dict((host, host if name in (None, "") else name)
                 for host, name in (plan.get("node_names") or {}).items())
    invalid = dict((host, name) for host, name in names.items()
                   if not isinstance(name, str) or not valid_node_name(name.lower()))
    if invalid:
        problems.append(
            "hostnames that cannot be k3s node names (lowercase letters, digits, '-' and '.', "
            "labels of at most 63 characters): %s." % _host_values(invalid)
        )
    duplicated = find_duplicates(dict(
        (host, name.lower()) for host, name in names.items() if host not in invalid
    ))
    for name, hosts in duplicated.items():
        problems.append(
            "duplicate hostname %s on %s: k3s node names must be unique (a second node with the "
            "same name replaces the first)." % (name, _hosts(hosts))
        )
    duplicated_hosts = find_duplicates(dict(plan.get("node_hosts") or {}))
    for address, hosts in duplicated_hosts.items():
        problems.append(
            "duplicate ansible_host %s on %s: two inventory entries for one board." % (address, _hosts(hosts))
        )
    return problems


def _parse_plan(plan):
    """Parse the plan's networks and node addresses; return (parsed, problems)."""
    problems = []
    parsed = {}
    try:
        parsed["gateway"] = parse_interface_address(plan.get("gateway_address"), "cluster_gateway_address")
    except NetworkPlanError as exc:
        problems.append("%s." % exc)
    for key, variable in (
        ("node_network", "cluster_node_network"),
        ("pod_cidr", "cluster_pod_cidr"),
        ("service_cidr", "cluster_service_cidr"),
    ):
        try:
            parsed[key] = parse_network(plan.get(key), variable)
        except NetworkPlanError as exc:
            problems.append("%s." % exc)
    if plan.get("nfs_servers"):
        try:
            parsed["nfs_export_network"] = parse_network(plan.get("nfs_export_network"), "cluster_nfs_export_network")
        except NetworkPlanError as exc:
            problems.append("%s." % exc)
    node_ips = {}
    invalid = {}
    for host, value in sorted((plan.get("node_ips") or {}).items()):
        try:
            node_ips[host] = parse_address(value, "cluster_node_ip")
        except NetworkPlanError:
            invalid[host] = "%r" % (value,) if value not in (None, "") else "unset"
    if invalid:
        problems.append("cluster_node_ip is missing or not an IPv4 address on: %s." % _host_values(invalid))
    parsed["node_ips"] = node_ips
    return parsed, problems


def _network_problems(parsed, plan):
    problems = []
    gateway = parsed["gateway"]
    labels = {
        "gateway": "the gateway network %s (cluster_gateway_address %s)" % (gateway.cidr, gateway),
        "node_network": "cluster_node_network %s" % parsed["node_network"],
        "pod_cidr": "cluster_pod_cidr %s" % parsed["pod_cidr"],
        "service_cidr": "cluster_service_cidr %s" % parsed["service_cidr"],
    }
    # The node LAN lives inside the gateway's network by design; every other pair must be apart.
    networks = [
        ("gateway", gateway.cidr),
        ("node_network", parsed["node_network"]),
        ("pod_cidr", parsed["pod_cidr"]),
        ("service_cidr", parsed["service_cidr"]),
    ]
    for overlap in find_overlaps(dict((key, str(network)) for key, network in networks)):
        first, second = overlap["names"]
        if set((first, second)) == set(("gateway", "node_network")):
            continue
        problems.append(
            "%s overlaps %s: the two ranges must not share addresses (k3s routes its pod and "
            "service ranges inside the cluster, away from the LAN)." % (labels[first], labels[second])
        )
    if parsed["node_network"] not in gateway.cidr:
        problems.append(
            "cluster_node_network %s is not inside %s: the boards could not reach the laptop."
            % (parsed["node_network"], labels["gateway"])
        )

    node_ips = parsed["node_ips"]
    outside_gateway = dict((host, ip) for host, ip in node_ips.items() if ip not in gateway.cidr)
    if outside_gateway:
        problems.append("cluster_node_ip outside %s: %s." % (labels["gateway"], _host_values(outside_gateway)))
    outside_nodes = dict(
        (host, ip) for host, ip in node_ips.items()
        if host not in outside_gateway and ip not in parsed["node_network"]
    )
    if outside_nodes:
        problems.append("cluster_node_ip outside cluster_node_network %s: %s."
                        % (parsed["node_network"], _host_values(outside_nodes)))
    reserved = dict(
        (host, ip) for host, ip in node_ips.items()
        if ip in (gateway.cidr.network, gateway.cidr.broadcast)
    )
    if reserved:
        problems.append("cluster_node_ip is the network or broadcast address of %s: %s."
                        % (labels["gateway"], _host_values(reserved)))
    for key in ("pod_cidr", "service_cidr"):
        inside = dict((host, ip) for host, ip in node_ips.items() if ip in parsed[key])
        if inside:
            problems.append("cluster_node_ip inside %s, which k3s keeps for itself: %s."
                            % (labels[key], _host_values(inside)))

    takes_gateway = sorted(host for host, ip in node_ips.items() if ip == gateway.ip)
    if takes_gateway:
        problems.append("cluster_node_ip %s is the gateway's own address (cluster_gateway_address): %s."
                        % (gateway.ip, _hosts(takes_gateway)))
    for address, hosts in find_duplicates(dict((host, str(ip)) for host, ip in node_ips.items())).items():
        problems.append("duplicate cluster_node_ip %s on %s." % (address, _hosts(hosts)))

    if "nfs_export_network" in parsed:  # parsed only when there is an NFS server
        export = parsed["nfs_export_network"]
        clients = plan.get("nfs_clients") or []
        refused = dict((host, node_ips[host]) for host in clients if host in node_ips and node_ips[host] not in export)
        if refused:
            problems.append(
                "cluster_nfs_export_network %s does not contain these NFS clients, which could not "
                "mount the dataset: %s." % (export, _host_values(refused))
            )
    return problems


def network_plan_problems(plan):
    """Check a whole network plan; return the problems as sentences (empty list: all good).

    ``plan`` is a mapping with the keys in PLAN_KEYS (see plugins/filter/network_plan_problems.yml):
    the cluster-wide networks, each node's ``cluster_node_ip`` (``node_ips``), the hostnames the
    nodes will get (``node_names``), their ``ansible_host`` values (``node_hosts``) and the group
    members (``servers``, ``agents``, ``gateways``, ``nfs_servers``, ``nfs_clients``).
    Every sentence names the inventory variable and the hosts/values to fix.
    """
    if not isinstance(plan, dict):
        raise TypeError("network_plan_problems expects a mapping, got %s" % type(plan).__name__)
    unknown = sorted(set(plan) - set(PLAN_KEYS))
    if unknown:
        raise TypeError("network_plan_problems: unknown keys %s (known: %s)" % (
            ", ".join(unknown), ", ".join(PLAN_KEYS)))
    problems = _topology_problems(plan) + _name_problems(plan)
    parsed, parse_problems = _parse_plan(plan)
    problems.extend(parse_problems)
    # Range arithmetic needs the four ranges; nodes with an unusable address are left out of it
    # (they are already reported).
    if all(key in parsed for key in ("gateway", "node_network", "pod_cidr", "service_cidr")):
        problems.extend(_network_problems(parsed, plan))
    return problems
