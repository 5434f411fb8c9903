# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Filters that name k3s release assets; the logic lives in module_utils/k3s_release.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.k3s_release import (
    DEFAULT_RELEASE_URL,
    K3sReleaseError,
    checksum_for,
    parse_version,
    release_assets,
    version_from_output,
)


def _filter_error(function):
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except K3sReleaseError as exc:
            raise AnsibleFilterError(str(exc))

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


@_filter_error
def k3s_version(version):
    return parse_version(version)


@_filter_error
def k3s_version_from_output(output):
    return version_from_output(output)


@_filter_error
def k3s_release_assets(version, machine, release_url=DEFAULT_RELEASE_URL):
    return release_assets(version, machine, release_url)


@_filter_error
def k3s_checksum(checksum_list, name):
    return checksum_for(checksum_list, name)


class FilterModule(object):
    """edgeai.jetson_cluster k3s release filters."""

    def filters(self):
        return {
            "k3s_version": k3s_version,
            "k3s_version_from_output": k3s_version_from_output,
            "k3s_release_assets": k3s_release_assets,
            "k3s_checksum": k3s_checksum,
        }
