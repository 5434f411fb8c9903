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


# RFC 1123 DNS subdomain, the rule Kubernetes applies to node names: lowercase only.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def valid_node_name(name):
    """Whether ``name`` can be a node's hostname and k3s node name: a lowercase RFC 1123 DNS subdomain.

    Upper case is refused, not folded: the kubelet registers the lowercased hostname, so a board
    called ``Jetson-A`` would be node ``jetson-a`` while its hostname, /etc/hosts line and inventory
    say otherwise. One rule, used by the preflight role and by every role's own preflight.
    """
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    return all(_DNS_LABEL.match(label) for label in name.split("."))


# ---------------------------------------------------------------------------------------------
# The inventory rules. network_plan_problems() is the only entry point; a rule runs when the
# plan holds the keys it reads, so the preflight role (which passes every key) checks the whole
# inventory and each role's own preflight passes the part it depends on (e.g. k3s_server: the
# groups, its node address and its ranges) and gets the same rule and the same sentence.
# ---------------------------------------------------------------------------------------------

PLAN_KEYS = (
    "gateway_address", "node_network", "pod_cidr", "service_cidr", "nfs_export_network",
    "node_ips", "node_names", "node_hosts", "servers", "agents", "gateways", "nfs_servers",
    "nfs_clients", "node_ip_variable",
)

# The variable each range comes from, as the sentences name it.
_RANGE_VARIABLES = (
    ("node_network", "cluster_node_network"),
    ("pod_cidr", "cluster_pod_cidr"),
    ("service_cidr", "cluster_service_cidr"),
)


def _hosts(hosts):
    return ", ".join(sorted(str(host) for host in hosts))


def _host_values(values_by_host):
    return ", ".join("%s (%s)" % (host, value) for host, value in sorted(values_by_host.items()))


def _topology_problems(plan):
    problems = []
    if "servers" in plan:
        servers = sorted(plan.get("servers") or [])
        if not servers:
            problems.append(
                "k3s_server holds no host: put exactly one board (the control plane) in the k3s_server group."
            )
        elif len(servers) > 1:
            problems.append(
                "k3s_server must hold exactly one host (the collection runs one k3s server, no HA "
                "control plane); it holds %d: %s." % (len(servers), _hosts(servers))
            )
        both = sorted(set(servers) & set(plan.get("agents") or []))
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
    if "node_names" in plan:
        # An unset hostname means the node keeps its inventory name.
        names = dict((host, host if name in (None, "") else name)
                     for host, name in (plan.get("node_names") or {}).items())
        invalid = dict((host, name) for host, name in names.items() if not valid_node_name(name))
        if invalid:
            problems.append(
                "hostnames that cannot be k3s node names (lowercase letters, digits, '-' and '.', "
                "labels of at most 63 characters; upper case is refused because the kubelet would "
                "register a lowercased name): %s." % _host_values(invalid)
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


def _export_networks(value):
    """cluster_nfs_export_network: one CIDR or address, or a list of them (an export's clients)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise NetworkPlanError("cluster_nfs_export_network is empty: name the network allowed to mount the export")
    networks = []
    for item in values:
        if isinstance(item, str) and "/" not in item:
            networks.append(netaddr.IPNetwork("%s/32" % parse_address(item, "cluster_nfs_export_network")))
        else:
            networks.append(parse_network(item, "cluster_nfs_export_network"))
    return networks


def _parse_plan(plan, ip_variable):
    """Parse the plan's networks and node addresses that are present; return (parsed, problems)."""
    problems = []
    parsed = {}
    if "gateway_address" in plan:
        try:
            parsed["gateway"] = parse_interface_address(plan.get("gateway_address"), "cluster_gateway_address")
        except NetworkPlanError as exc:
            problems.append("%s." % exc)
    for key, variable in _RANGE_VARIABLES:
        if key in plan:
            try:
                parsed[key] = parse_network(plan.get(key), variable)
            except NetworkPlanError as exc:
                problems.append("%s." % exc)
    # The export is checked only where an NFS server exists (or the caller does not say: a role's
    # own preflight that passes no nfs_servers is the NFS role itself).
    if "nfs_export_network" in plan and (plan.get("nfs_servers") or "nfs_servers" not in plan):
        try:
            parsed["nfs_export_network"] = _export_networks(plan.get("nfs_export_network"))
        except NetworkPlanError as exc:
            problems.append("%s." % exc)
    node_ips = {}
    invalid = {}
    for host, value in sorted((plan.get("node_ips") or {}).items()):
        try:
            node_ips[host] = parse_address(value, ip_variable)
        except NetworkPlanError:
            invalid[host] = "%r" % (value,) if value not in (None, "") else "unset"
    if invalid:
        problems.append("%s is missing or not an IPv4 address on: %s." % (ip_variable, _host_values(invalid)))
    parsed["node_ips"] = node_ips
    return parsed, problems


def _range_problems(parsed):
    problems = []
    labels = {}
    networks = []
    if "gateway" in parsed:
        gateway = parsed["gateway"]
        labels["gateway"] = "the gateway network %s (cluster_gateway_address %s)" % (gateway.cidr, gateway)
        networks.append(("gateway", gateway.cidr))
    for key, variable in _RANGE_VARIABLES:
        if key in parsed:
            labels[key] = "%s %s" % (variable, parsed[key])
            networks.append((key, parsed[key]))
    # The node LAN lives inside the gateway's network by design; every other pair must be apart.
    for overlap in find_overlaps(dict((key, str(network)) for key, network in networks)):
        first, second = overlap["names"]
        if set((first, second)) == set(("gateway", "node_network")):
            continue
        problems.append(
            "%s overlaps %s: the two ranges must not share addresses (k3s routes its pod and "
            "service ranges inside the cluster, away from the LAN)." % (labels[first], labels[second])
        )
    if "gateway" in parsed and "node_network" in parsed and parsed["node_network"] not in parsed["gateway"].cidr:
        problems.append(
            "cluster_node_network %s is not inside %s: the boards could not reach the laptop."
            % (parsed["node_network"], labels["gateway"])
        )
    return problems, labels


def _node_ip_problems(parsed, labels, plan, ip_variable):
    problems = []
    node_ips = parsed["node_ips"]
    outside_gateway = {}
    if "gateway" in parsed:
        gateway = parsed["gateway"]
        outside_gateway = dict((host, ip) for host, ip in node_ips.items() if ip not in gateway.cidr)
        if outside_gateway:
            problems.append("%s outside %s: %s." % (ip_variable, labels["gateway"], _host_values(outside_gateway)))
    if "node_network" in parsed:
        outside_nodes = dict(
            (host, ip) for host, ip in node_ips.items()
            if host not in outside_gateway and ip not in parsed["node_network"]
        )
        if outside_nodes:
            problems.append("%s outside cluster_node_network %s: %s."
                            % (ip_variable, parsed["node_network"], _host_values(outside_nodes)))
    if "gateway" in parsed:
        reserved = dict(
            (host, ip) for host, ip in node_ips.items()
            if ip in (gateway.cidr.network, gateway.cidr.broadcast)
        )
        if reserved:
            problems.append("%s is the network or broadcast address of %s: %s."
                            % (ip_variable, labels["gateway"], _host_values(reserved)))
    for key in ("pod_cidr", "service_cidr"):
        if key in parsed:
            inside = dict((host, ip) for host, ip in node_ips.items() if ip in parsed[key])
            if inside:
                problems.append("%s inside %s, which k3s keeps for itself: %s."
                                % (ip_variable, labels[key], _host_values(inside)))
    if "gateway" in parsed:
        takes_gateway = sorted(host for host, ip in node_ips.items() if ip == gateway.ip)
        if takes_gateway:
            problems.append("%s %s is the gateway's own address (cluster_gateway_address): %s."
                            % (ip_variable, gateway.ip, _hosts(takes_gateway)))
    for address, hosts in find_duplicates(dict((host, str(ip)) for host, ip in node_ips.items())).items():
        problems.append("duplicate %s %s on %s." % (ip_variable, address, _hosts(hosts)))

    if "nfs_export_network" in parsed:
        exports = parsed["nfs_export_network"]
        clients = plan.get("nfs_clients") or []
        refused = dict((host, node_ips[host]) for host in clients
                       if host in node_ips and not any(node_ips[host] in export for export in exports))
        if refused:
            problems.append(
                "cluster_nfs_export_network %s does not contain these NFS clients, which could not "
                "mount the dataset: %s." % (", ".join(str(export) for export in exports), _host_values(refused))
            )
    return problems


def network_plan_problems(plan):
    """Check a network plan; return the problems as sentences (empty list: all good).

    ``plan`` is a mapping with keys from PLAN_KEYS (see plugins/filter/network_plan_problems.yml):
    the cluster-wide networks, each node's ``cluster_node_ip`` (``node_ips``), the hostnames the
    nodes will get (``node_names``), their ``ansible_host`` values (``node_hosts``) and the group
    members (``servers``, ``agents``, ``gateways``, ``nfs_servers``, ``nfs_clients``).
    Each rule runs when the plan holds the keys it reads (the preflight role passes them all; a
    role's own preflight passes what it depends on). ``node_ip_variable`` names the variable the
    addresses come from in the sentences (default ``cluster_node_ip``).
    Every sentence names the inventory variable and the hosts/values to fix.
    """
    if not isinstance(plan, dict):
        raise TypeError("network_plan_problems expects a mapping, got %s" % type(plan).__name__)
    unknown = sorted(set(plan) - set(PLAN_KEYS))
    if unknown:
        raise TypeError("network_plan_problems: unknown keys %s (known: %s)" % (
            ", ".join(unknown), ", ".join(PLAN_KEYS)))
    ip_variable = plan.get("node_ip_variable") or "cluster_node_ip"
    problems = _topology_problems(plan) + _name_problems(plan)
    parsed, parse_problems = _parse_plan(plan, ip_variable)
    problems.extend(parse_problems)
    # Nodes with an unusable address are left out of the range arithmetic (already reported);
    # ranges that do not parse are reported and left out too.
    range_problems, labels = _range_problems(parsed)
    problems.extend(range_problems)
    problems.extend(_node_ip_problems(parsed, labels, plan, ip_variable))
    return problems
