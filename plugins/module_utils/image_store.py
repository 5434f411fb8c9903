# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Which image store the workload image must go to, given how k3s runs its pods.

k3s started with ``--docker`` (``docker: true`` in config.yaml; k3s_server_docker /
k3s_agent_docker, the default) runs pods through cri-dockerd in Docker and starts no containerd
of its own: an image must be ``docker load``ed, and ``k3s ctr images import`` fails because
/run/k3s/containerd/containerd.sock does not exist. Only a k3s without ``--docker`` runs its
bundled containerd, which does not see Docker's images. Without Kubernetes (the Docker runner)
the image goes to Docker. The Jobs use ``imagePullPolicy: Never``, so an image in the wrong
store is never found.

Pure functions, no Ansible: the filters in plugins/filter/image_store.py call them, the
gpu_workloads role's default and preflight call the filters, the unit tests call them directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

STORES = ("docker", "containerd")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class ImageStoreError(ValueError):
    """A setting this module reads is not a boolean or not a known store."""


def as_bool(name, value):
    """An inventory boolean (YAML bool or its string forms); anything else is refused."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ImageStoreError("%s must be true or false, not %r" % (name, value))


def k3s_runtime(server, server_docker=None, agent_docker=None, k3s_docker=None):
    """(variable, docker) of k3s's runtime on a host, as the k3s roles decide it.

    The host's role setting (k3s_server_docker on the server, k3s_agent_docker on an agent) when
    the inventory sets it, else k3s_docker, else true: the default of roles/k3s_common
    (k3s_common_docker), which k3s_server_docker and k3s_agent_docker default to. None means
    "not set".
    """
    name, value = ("k3s_server_docker", server_docker) if server else ("k3s_agent_docker", agent_docker)
    if value is not None:
        return name, as_bool(name, value)
    if k3s_docker is not None:
        return "k3s_docker", as_bool("k3s_docker", k3s_docker)
    return "k3s_docker", True


def default_image_store(kubernetes, server=False, server_docker=None, agent_docker=None, k3s_docker=None):
    """The store the workload runtime reads: containerd only when k3s runs its own."""
    if as_bool("cluster_kubernetes", kubernetes) and not k3s_runtime(server, server_docker, agent_docker,
                                                                     k3s_docker)[1]:
        return "containerd"
    return "docker"


def image_store_problems(store, kubernetes, server=False, server_docker=None, agent_docker=None, k3s_docker=None,
                         store_variable="gpu_workloads_image_store"):
    """Sentences naming both variables when the image store contradicts k3s's runtime; [] if none."""
    if store not in STORES:
        return ["%s is %r; it must be one of %s." % (store_variable, store, ", ".join(STORES))]
    kubernetes = as_bool("cluster_kubernetes", kubernetes)
    docker_variable, docker = k3s_runtime(server, server_docker, agent_docker, k3s_docker)
    if not kubernetes:
        if store == "containerd":
            return ["%s is 'containerd' but cluster_kubernetes is false: without k3s there is no "
                    "containerd to import the image into; leave %s unset (docker)." % (store_variable, store_variable)]
        return []
    if docker and store == "containerd":
        return ["%s is 'containerd' but %s is true: k3s runs its pods through Docker (--docker) and starts "
                "no containerd, so `k3s ctr images import` fails and the Job's pods (imagePullPolicy: Never) "
                "would not find the image in Docker. Leave %s unset (it follows %s), set it to 'docker', "
                "or set %s: false." % (store_variable, docker_variable, store_variable, docker_variable,
                                       docker_variable)]
    if not docker and store == "docker":
        return ["%s is 'docker' but %s is false: k3s runs its pods in its own containerd, which does not "
                "see Docker's images, so the Job's pods (imagePullPolicy: Never) would not find the image. "
                "Leave %s unset (it follows %s), set it to 'containerd', or set %s: true."
                % (store_variable, docker_variable, store_variable, docker_variable, docker_variable)]
    return []
