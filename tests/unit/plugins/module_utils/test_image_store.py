"""The workload image goes where k3s's pods look for it (plugins/module_utils/image_store.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.image_store import (
    ImageStoreError,
    default_image_store,
    image_store_problems,
    k3s_runtime,
)

UNSET = None
SETTING = st.sampled_from([UNSET, True, False, "true", "false", "yes", "no"])


@pytest.mark.parametrize(
    "kubernetes, server, server_docker, agent_docker, k3s_docker, store",
    [
        (True, False, UNSET, UNSET, UNSET, "docker"),          # every default: k3s on Docker
        (True, True, UNSET, UNSET, UNSET, "docker"),
        (True, False, UNSET, UNSET, False, "containerd"),       # k3s_docker: false everywhere
        (True, False, UNSET, False, UNSET, "containerd"),       # this agent on containerd
        (True, True, UNSET, False, UNSET, "docker"),            # an agent's setting is not the server's
        (True, True, False, UNSET, True, "containerd"),         # the role's setting beats k3s_docker
        (True, False, UNSET, "true", "false", "docker"),
        (False, False, UNSET, UNSET, False, "docker"),          # no Kubernetes: the Docker runner
    ],
)
def test_default_store_follows_k3s_runtime(kubernetes, server, server_docker, agent_docker, k3s_docker, store):
    assert default_image_store(kubernetes, server, server_docker, agent_docker, k3s_docker) == store


def test_the_old_default_is_refused_with_k3s_defaults():
    # Before: gpu_workloads_image_store was 'containerd' whenever cluster_kubernetes was true,
    # while k3s_server_docker / k3s_agent_docker default to true.
    problems = image_store_problems("containerd", True)
    assert len(problems) == 1
    assert "gpu_workloads_image_store is 'containerd' but k3s_docker is true" in problems[0]


def test_the_new_default_agrees_with_k3s_defaults():
    assert image_store_problems(default_image_store(True), True) == []


@pytest.mark.parametrize(
    "store, server, server_docker, agent_docker, named",
    [
        ("containerd", False, UNSET, True, "k3s_agent_docker is true"),
        ("containerd", True, True, UNSET, "k3s_server_docker is true"),
        ("docker", False, UNSET, False, "k3s_agent_docker is false"),
        ("docker", True, False, UNSET, "k3s_server_docker is false"),
    ],
)
def test_contradiction_names_both_variables(store, server, server_docker, agent_docker, named):
    (problem,) = image_store_problems(store, True, server, server_docker, agent_docker)
    assert problem.startswith("gpu_workloads_image_store is '%s' but %s" % (store, named))


def test_containerd_without_kubernetes_is_refused():
    (problem,) = image_store_problems("containerd", False)
    assert "cluster_kubernetes is false" in problem


def test_unknown_store_is_refused():
    (problem,) = image_store_problems("podman", True)
    assert "'podman'" in problem and "docker, containerd" in problem


@pytest.mark.parametrize("value", ["maybe", "", 2, [True]])
def test_a_setting_that_is_not_a_boolean_is_an_error(value):
    with pytest.raises(ImageStoreError, match="k3s_docker must be true or false"):
        default_image_store(True, k3s_docker=value)


def test_runtime_variable_is_the_hosts_own_when_set():
    assert k3s_runtime(False, server_docker=False, agent_docker=UNSET, k3s_docker=False) == ("k3s_docker", False)
    assert k3s_runtime(True, server_docker=UNSET, agent_docker=UNSET, k3s_docker=UNSET) == ("k3s_docker", True)


@given(kubernetes=st.booleans(), server=st.booleans(), server_docker=SETTING, agent_docker=SETTING,
       k3s_docker=SETTING)
def test_the_default_never_contradicts_the_rule(kubernetes, server, server_docker, agent_docker, k3s_docker):
    store = default_image_store(kubernetes, server, server_docker, agent_docker, k3s_docker)
    assert image_store_problems(store, kubernetes, server, server_docker, agent_docker, k3s_docker) == []


@given(store=st.text(max_size=12), kubernetes=st.booleans(), k3s_docker=SETTING)
def test_any_store_text_gives_sentences_not_a_traceback(store, kubernetes, k3s_docker):
    problems = image_store_problems(store, kubernetes, k3s_docker=k3s_docker)
    assert all(isinstance(problem, str) and "gpu_workloads_image_store" in problem for problem in problems)
