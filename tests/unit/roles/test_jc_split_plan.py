"""jc_pipeline/split_plan.py: ResNet-50's blocks, the placement file and the cut planner (no torch)."""

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "pipeline_workload" / "files"))

from jc_pipeline import split_plan  # noqa: E402
from jc_pipeline.split_plan import BLOCKS, SplitError  # noqa: E402


def test_cuts_give_consecutive_ranges_covering_every_block():
    assert split_plan.ranges_from_cuts(["layer1", "layer3"]) == [
        ("stem", "layer1"), ("layer2", "layer3"), ("layer4", "head")]
    assert split_plan.ranges_from_cuts([]) == [BLOCKS]


@pytest.mark.parametrize("cuts, message", [(["head"], "cannot cut after 'head'"), (["layer3", "layer1"], "in network order"),
                                           (["layer1", "layer1"], "distinct")])
def test_bad_cuts_say_why(cuts, message):
    with pytest.raises(SplitError, match=message):
        split_plan.ranges_from_cuts(cuts)


def test_placement_file_gives_hosts_and_layer_ranges():
    doc = {"stages": [{"host": "jetson-1", "layers": ["stem", "layer1"]}, {"host": "jetson-2", "layers": "layer2"},
                      {"host": "gateway", "layers": ["layer3", "head"]}]}
    assert split_plan.parse_placement(doc) == [("jetson-1", ("stem", "layer1")), ("jetson-2", ("layer2",)),
                                               ("gateway", ("layer3", "layer4", "head"))]


@pytest.mark.parametrize("doc, message", [
    ({}, "non-empty list 'stages'"),
    ({"stages": [{"host": "a", "layers": ["stem", "layer4"]}]}, r"\['head'\] are not placed"),
    ({"stages": [{"host": "a", "layers": ["layer1", "head"]}]}, "do not start at stem"),
    ({"stages": [{"host": "a", "layers": ["stem", "head"]}, {"host": "b", "layers": "head"}]}, "do not start at the end"),
    ({"stages": [{"host": "a", "layers": ["stem", "fc"]}]}, "layers must be"),
    ({"stages": [{"host": "", "layers": "stem"}]}, "host must be"),
    ({"stages": [{"host": "a"}]}, "exactly 'host' and 'layers'"),
])
def test_bad_placements_say_why(doc, message):
    with pytest.raises(SplitError, match=message):
        split_plan.parse_placement(doc)


def test_cut_sizes_are_resnet50s_activations_in_float16():
    sizes = split_plan.output_bytes(224)
    assert sizes["layer1"] == 256 * 56 * 56 * 2 and sizes["layer3"] == 1024 * 14 * 14 * 2 and sizes["head"] == 2000
    assert split_plan.output_bytes(448, batch=2)["layer2"] == 512 * 56 * 56 * 2 * 2
    with pytest.raises(SplitError):
        split_plan.output_bytes(100)


SECONDS = {"stem": 0.002, "layer1": 0.004, "layer2": 0.005, "layer3": 0.008, "layer4": 0.004, "head": 0.0005}


def test_planner_balances_compute_on_a_fast_link():
    chosen = split_plan.plan(SECONDS, split_plan.output_bytes(), 1e12, 2)
    # total 23.5 ms: after layer2 gives 11 / 12.5 ms, the best balance of two contiguous ranges.
    assert chosen["cuts"] == ["layer2"] and chosen["bound_fps"] == pytest.approx(1 / 0.0125, rel=1e-3)
    assert "cut after layer2" in chosen["explanation"] and "next best" in chosen["explanation"]


def test_planner_avoids_big_activations_on_a_slow_link():
    # 100 Mbit/s: layer1's 1.6 MB output costs 128 ms, layer3's 0.4 MB 32 ms: cut late.
    chosen = split_plan.plan(SECONDS, split_plan.output_bytes(), 100e6 / 8, 2)
    assert chosen["cuts"] == ["layer4"]
    assert chosen["alternatives"][0] == (["layer4"], chosen["bound_fps"])


def test_one_stage_is_the_unsplit_model():
    chosen = split_plan.plan(SECONDS, split_plan.output_bytes(), 1e9, 1)
    assert chosen["cuts"] == [] and chosen["bound_fps"] == pytest.approx(1 / sum(SECONDS.values()))


@settings(max_examples=60, deadline=None)
@given(times=st.lists(st.floats(1e-5, 1.0), min_size=6, max_size=6), link=st.floats(1e3, 1e12),
       stages=st.integers(1, 6))
def test_the_chosen_cuts_are_never_beaten_by_another(times, link, stages):
    seconds = dict(zip(BLOCKS, times))
    chosen = split_plan.plan(seconds, split_plan.output_bytes(), link, stages)
    assert len(chosen["ranges"]) == stages
    assert all(chosen["bound_fps"] >= fps for _, fps in chosen["alternatives"])
    assert sum(len(r) for r in chosen["ranges"]) == len(BLOCKS)


def test_bad_plan_requests_say_why():
    with pytest.raises(SplitError, match="missing"):
        split_plan.plan({"stem": 1.0}, split_plan.output_bytes(), 1e9, 2)
    with pytest.raises(SplitError, match="stages must be"):
        split_plan.plan(SECONDS, split_plan.output_bytes(), 1e9, 7)
    with pytest.raises(SplitError, match="link speed"):
        split_plan.plan(SECONDS, split_plan.output_bytes(), 0, 2)
