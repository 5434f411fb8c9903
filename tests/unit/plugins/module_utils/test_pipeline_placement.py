"""Placement of workload III's stages (plugins/module_utils/pipeline_placement.py)."""

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.pipeline_placement import (
    SUPPORTED_DEPTHS,
    PipelinePlacementError,
    pipeline_stages,
)

ROOT = Path(__file__).resolve().parents[4]
LETTERS = {"S": {"node-role.kubernetes.io/control-plane": "true"}, "E": {"node-type": "worker"}}


def test_depths_are_those_the_stage_program_plans():
    sys.path.insert(0, str(ROOT / "roles" / "pipeline_workload" / "files"))
    from jc_pipeline import ops

    assert SUPPORTED_DEPTHS == tuple(sorted(ops.PLANS))


@pytest.mark.parametrize("placement", ["SSSS", "ESSS", "EESS", "EEES", "EEEE"])
def test_reference_placements_map_letters_to_selectors(placement):
    stages = pipeline_stages(placement, LETTERS)
    assert [s["node_selector"] for s in stages] == [LETTERS[letter] for letter in placement]


def test_each_stage_pulls_from_the_service_before_it():
    stages = pipeline_stages("EES", LETTERS, "wl3", 6000)
    assert [(s["name"], s["upstream"], s["depth"]) for s in stages] == [
        ("wl3-s0", "", 3), ("wl3-s1", "wl3-s0:6000", 3), ("wl3-s2", "wl3-s1:6000", 3)]


def test_explicit_list_pins_hosts_and_labels():
    stages = pipeline_stages([{"host": "jetson-worker1"}, "E", {"labels": {"gpu": "titan-v"}}], LETTERS)
    assert [s["node_selector"] for s in stages] == [
        {"kubernetes.io/hostname": "jetson-worker1"}, {"node-type": "worker"}, {"gpu": "titan-v"}]


@pytest.mark.parametrize("placement, message", [
    ("S", "has 1 stages; the pipeline has 2 or 3 or 4"),
    ("SSSSS", "has 5 stages"),
    ("SXSS", "stage 1: placement letter 'X' is not one of"),
    ("ssss", "placement letter 's'"),
    (["S", {"host": ""}], "stage 1: host must be a node name"),
    (["S", {"labels": {}}], "stage 1: labels must be a non-empty mapping"),
    (["S", {"host": "a", "labels": {"b": "c"}}], "neither a letter"),
    (42, "must be a string of letters or a list"),
])
def test_bad_placements_say_which_stage_and_why(placement, message):
    with pytest.raises(PipelinePlacementError, match=message):
        pipeline_stages(placement, LETTERS)


def test_bad_name_prefix_is_refused():
    with pytest.raises(PipelinePlacementError, match="not a short DNS label"):
        pipeline_stages("SS", LETTERS, "Not_DNS")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=8), st.lists(st.one_of(st.text(max_size=2), st.dictionaries(
    st.sampled_from(["host", "labels", "x"]), st.one_of(st.text(max_size=5), st.dictionaries(
        st.text(max_size=3), st.text(max_size=3), max_size=2)), max_size=2)), max_size=6)))
def test_any_placement_gives_stages_or_a_placement_error(placement):
    try:
        stages = pipeline_stages(placement, LETTERS)
    except PipelinePlacementError:
        return
    assert len(stages) in SUPPORTED_DEPTHS and all(s["node_selector"] for s in stages)
