#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: deb_packages
short_description: Install or remove Debian/Ubuntu packages with dpkg-query and apt-get, without python3-apt
version_added: 0.1.0
author:
  - edgeai.jetson_cluster contributors (@edgeai)
description:
  - Makes sure the named packages are installed (O(state=present)) or removed (O(state=absent)),
    optionally refreshing the package lists first. It asks C(dpkg-query) which packages are
    installed and runs C(apt-get) (non-interactive, C(-y)) only for the ones that are not in the
    wanted state, so a second run changes nothing.
  - It needs no Python bindings for apt (C(python3-apt)), so it runs under any Python that
    ansible-core can run modules with, on any Debian or Ubuntu release.
  - B(Why it exists.) JetPack 4.x boards run Ubuntu 18.04, whose Python is 3.6; ansible-core 2.17
    and newer cannot run modules with it, so C(playbooks/bootstrap_python.yml) installs
    C(python3.8) from Ubuntu's universe component. Ubuntu 18.04 builds C(python3-apt) for
    Python 3.6 only, and M(ansible.builtin.apt)'s fallback (running itself again under
    C(/usr/bin/python3)) cannot work there because ansible-core 2.19's module code needs 3.8.
    M(ansible.builtin.apt) (and M(ansible.builtin.package), which calls it) therefore fails on
    such boards with a message that starts with
    C(Could not import the python3-apt module using /usr/bin/python3.8) and ends with
    C(attempted ['/usr/bin/python3', '/usr/bin/python']), after having run C(apt-get update) and
    C(apt-get install python3-apt) (already installed, for Python 3.6).
  - Its options have the names and meanings of M(ansible.builtin.apt)'s, so the roles of this
    collection install packages with M(ansible.builtin.package) and keep M(ansible.builtin.apt)
    wherever it works; only hosts with C(ansible_package_use=edgeai.jetson_cluster.deb_packages)
    use this module instead. C(playbooks/bootstrap_python.yml) sets that variable on the hosts
    that need it (see the examples).
  - Where M(ansible.builtin.apt) works, prefer it. It has many more features (versions,
    C(latest), C(.deb) files, upgrades, autoremove, purge, diff).
requirements:
  - C(dpkg-query) and C(apt-get) on the target (every Debian and Ubuntu system).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports which packages would be installed or removed, from C(dpkg-query), without
        refreshing the lists or running C(apt-get); RV(cache_updated) says whether a refresh
        would run. It does not check that the packages can be downloaded.
  diff_mode:
    support: none
  platform:
    platforms: debian
options:
  name:
    description:
      - Package names, for example V(nfs-common). Only plain names are accepted; versions
        (C(name=1.0)), releases (C(name/bionic)), architectures (C(name:arm64)) and wildcards are
        refused with an error.
      - Name real packages, not virtual ones (C(mail-transport-agent)). dpkg knows no package of
        a virtual name, so the module fails after C(apt-get) installed a provider.
      - May be empty (or left out) to only refresh the package lists.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) installs the packages that are not installed (or only half installed).
      - V(absent) removes the installed ones with C(apt-get remove) (configuration files stay,
        as with M(ansible.builtin.apt) without C(purge)).
    type: str
    choices: [present, absent]
    default: present
  update_cache:
    description:
      - Run C(apt-get update) first, unless the lists are younger than O(cache_valid_time).
      - Refreshing the lists alone does not make the task C(changed); RV(cache_updated) says
        whether it ran.
    type: bool
    default: false
  cache_valid_time:
    description:
      - Skip the refresh when the lists are younger than this many seconds. Setting it implies
        O(update_cache=true).
      - The age is that of C(/var/lib/apt/periodic/update-success-stamp), or without that file
        of the C(/var/lib/apt/lists) directory, as M(ansible.builtin.apt) reads it. Lists that
        hold no package index (a fresh image or container) are always refreshed, however recent
        the directory is.
    type: int
    default: 0
  install_recommends:
    description:
      - V(false) passes C(--no-install-recommends), which keeps small boards lean.
      - V(true) installs recommended packages, even where the system's apt configuration turns
        them off.
      - Unlike M(ansible.builtin.apt), whose default follows the system's configuration, the
        default is V(false).
    type: bool
    default: false
  lock_timeout:
    description:
      - How many seconds to keep retrying while another process (C(unattended-upgrades) on a
        freshly booted board, another C(apt-get)) holds the dpkg or package-list lock.
      - V(0) fails at once.
    type: int
    default: 60
notes:
  - C(changed) is V(true) only when a package was (or, in check mode, would be) installed or
    removed.
  - C(apt-get update) exits 0 when some index could not be fetched; the module passes those
    lines on as warnings and goes on (M(ansible.builtin.apt) fails instead). An unreachable mirror
    then shows when a package cannot be found.
seealso:
  - module: ansible.builtin.apt
  - module: ansible.builtin.package
    description: Picks the package module per host; C(ansible_package_use) or its C(use) option
      can point it at this one.
"""

EXAMPLES = r"""
- name: Install the NFS client on a JetPack 4.x board managed with python3.8
  edgeai.jetson_cluster.deb_packages:
    name: nfs-common
    update_cache: true
    cache_valid_time: 3600

- name: Remove a package
  edgeai.jetson_cluster.deb_packages:
    name: [whoopsie]
    state: absent

- name: Only refresh the package lists when they are older than a day
  edgeai.jetson_cluster.deb_packages:
    cache_valid_time: 86400

# How this collection's roles install packages: apt where it works, this module where the
# inventory (or playbooks/bootstrap_python.yml) says
#   ansible_package_use: edgeai.jetson_cluster.deb_packages
# Keep to the options both modules have: name, state, update_cache, cache_valid_time,
# install_recommends, lock_timeout.
- name: Install nfs-kernel-server
  ansible.builtin.package:
    name: nfs-kernel-server
    state: present
    update_cache: true
    cache_valid_time: 3600
"""

RETURN = r"""
installed:
  description: The packages that were installed (in check mode, would be), in the order given.
  returned: always
  type: list
  elements: str
  sample: [nfs-common]
removed:
  description: The packages that were removed (in check mode, would be), in the order given.
  returned: always
  type: list
  elements: str
  sample: []
cache_updated:
  description: Whether C(apt-get update) ran (in check mode, would run).
  returned: always
  type: bool
  sample: true
cmd:
  description: The C(apt-get) command that installed or removed the packages (in check mode, would).
  returned: when packages were (or would be) installed or removed
  type: list
  elements: str
  sample: [/usr/bin/apt-get, install, -y, -q, -o, "Dpkg::Options::=--force-confdef", -o,
           "Dpkg::Options::=--force-confold", --no-install-recommends, nfs-common]
rc:
  description: Exit status of that C(apt-get).
  returned: when apt-get installed or removed packages, and on its failure
  type: int
  sample: 0
stdout:
  description: Standard output of that C(apt-get).
  returned: when apt-get installed or removed packages, and on its failure
  type: str
stderr:
  description: Standard error of that C(apt-get).
  returned: when apt-get installed or removed packages, and on its failure
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.deb_packages import (
    APT_ENV,
    DebPackagesError,
    apt_get_argv,
    cache_is_fresh,
    dpkg_query_argv,
    failure_reason,
    fetch_warnings,
    in_wanted_state,
    is_index_file,
    is_lock_error,
    needs_refresh,
    package_names,
    packages_to_change,
    parse_dpkg_query,
    unsettled,
)

APT_LISTS_PATH = "/var/lib/apt/lists"
APT_UPDATE_SUCCESS_STAMP_PATH = "/var/lib/apt/periodic/update-success-stamp"
# Seconds between tries while another process holds apt's lock.
LOCK_RETRY_DELAY = 5


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _lists_fresh(cache_valid_time):
    try:
        has_indexes = any(is_index_file(entry) for entry in os.listdir(APT_LISTS_PATH))
    except OSError:
        has_indexes = False
    return cache_is_fresh(
        time.time(),
        cache_valid_time,
        stamp_mtime=_mtime(APT_UPDATE_SUCCESS_STAMP_PATH),
        lists_mtime=_mtime(APT_LISTS_PATH),
        has_indexes=has_indexes,
    )


def _apt_get(module, argv):
    """Run apt-get, retrying while another process holds its lock (up to lock_timeout)."""
    deadline = time.time() + module.params["lock_timeout"]
    while True:
        rc, stdout, stderr = module.run_command(argv, environ_update=APT_ENV, errors="surrogate_then_replace")
        if rc == 0 or not is_lock_error(stderr) or time.time() >= deadline:
            return rc, stdout, stderr
        time.sleep(LOCK_RETRY_DELAY)


def _fail_apt_get(module, what, argv, rc, stdout, stderr, result):
    waited = ""
    if is_lock_error(stderr) and module.params["lock_timeout"] > 0:
        waited = " after waiting %d s for the lock (lock_timeout)" % module.params["lock_timeout"]
    result.update(cmd=argv, rc=rc, stdout=stdout, stderr=stderr)
    module.fail_json(msg="%s failed (exit %d)%s: %s" % (what, rc, waited, failure_reason(stderr, stdout)), **result)


def _query(module, dpkg_query, names):
    argv = dpkg_query_argv(dpkg_query, names)
    rc, stdout, stderr = module.run_command(argv, environ_update=APT_ENV, errors="surrogate_then_replace")
    # Exit 1: some names are unknown to dpkg (it says so on stderr); they are not installed.
    if rc not in (0, 1):
        module.fail_json(msg="dpkg-query failed (exit %d): %s" % (rc, failure_reason(stderr, stdout)),
                         cmd=argv, rc=rc, stdout=stdout, stderr=stderr)
    try:
        return parse_dpkg_query(stdout)
    except DebPackagesError as exc:
        module.fail_json(msg=str(exc), cmd=argv, stdout=stdout, stderr=stderr)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            update_cache=dict(type="bool", default=False),
            cache_valid_time=dict(type="int", default=0),
            install_recommends=dict(type="bool", default=False),
            lock_timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for option in ("cache_valid_time", "lock_timeout"):
        if params[option] < 0:
            module.fail_json(msg="%s must not be negative, got %d" % (option, params[option]))
    try:
        names = package_names(params["name"])
    except DebPackagesError as exc:
        module.fail_json(msg=str(exc))

    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    apt_get = module.get_bin_path("apt-get", required=True)
    result = dict(changed=False, installed=[], removed=[], cache_updated=False)

    if needs_refresh(params["update_cache"], params["cache_valid_time"], _lists_fresh(params["cache_valid_time"])):
        result["cache_updated"] = True
        if not module.check_mode:
            argv = apt_get_argv(apt_get, "update", [])
            rc, stdout, stderr = _apt_get(module, argv)
            if rc != 0:
                _fail_apt_get(module, "apt-get update", argv, rc, stdout, stderr, result)
            for warning in fetch_warnings(stderr):
                module.warn("apt-get update: %s" % warning)

    if not names:
        result["msg"] = "package lists refreshed" if result["cache_updated"] else "nothing to do"
        module.exit_json(**result)

    state = params["state"]
    todo = packages_to_change(state, names, _query(module, dpkg_query, names))
    if not todo:
        result["msg"] = "all %s already %s" % (", ".join(names), "installed" if state == "present" else "absent")
        module.exit_json(**result)

    action = "install" if state == "present" else "remove"
    done_key = "installed" if state == "present" else "removed"
    argv = apt_get_argv(apt_get, action, todo, params["install_recommends"])
    if module.check_mode:
        result.update({"changed": True, done_key: todo, "cmd": argv, "msg": "would %s %s" % (action, ", ".join(todo))})
        module.exit_json(**result)

    rc, stdout, stderr = _apt_get(module, argv)
    after = _query(module, dpkg_query, todo)
    # What apt-get really did, read back from dpkg: also after a failure half-way through.
    done = [name for name in todo if in_wanted_state(state, after.get(name))]
    result.update({"changed": bool(done), done_key: done})
    if rc != 0:
        _fail_apt_get(module, "apt-get %s %s" % (action, " ".join(todo)), argv, rc, stdout, stderr, result)

    result.update(cmd=argv, rc=rc, stdout=stdout, stderr=stderr)
    left = unsettled(state, todo, after)
    if left:
        module.fail_json(
            msg="apt-get %s exited 0, but dpkg does not list as %s: %s. A virtual package name? "
                "Name the real package (apt-cache showpkg NAME lists its providers)."
                % (action, done_key, "; ".join(left)),
            **result
        )
    result["msg"] = "%s %s" % (done_key, ", ".join(done))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
