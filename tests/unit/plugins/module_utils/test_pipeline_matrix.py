"""plugins/module_utils/pipeline_matrix.py: the placement matrix, hosts per stage, the result rows."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils import pipeline_matrix as pm
from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.pipeline_placement import SUPPORTED_DEPTHS


def test_placements_are_the_references_edge_first_family():
    assert pm.placements_for(4) == ["SSSS", "ESSS", "EESS", "EEES", "EEEE"]
    assert pm.placements_for(2) == ["SS", "ES", "EE"]
    assert pm.DEPTHS == SUPPORTED_DEPTHS


def test_the_whole_matrix_has_every_placement_at_every_size():
    runs = pm.expand()
    assert len(runs) == (3 + 4 + 5) * 5
    assert {"depth": 4, "placement": "EESS", "size": "1280x720"} in runs


@pytest.mark.parametrize("kwargs, message", [
    ({"placements": ["EXSS"]}, "string of S and E"), ({"placements": ["EEEEE"]}, "5 stages"),
    ({"sizes": ["12x"]}, "not <width>x<height>"), ({"depths": [5]}, "depth 5"), ({"placements": []}, "no placements")])
def test_bad_matrices_say_why(kwargs, message):
    with pytest.raises(pm.PipelineMatrixError, match=message):
        pm.expand(**kwargs)


def test_hosts_follow_the_letters_edge_hosts_in_turn():
    assert pm.assign_hosts("EESS", ["gw"], ["j1", "j2"]) == ["j1", "j2", "gw", "gw"]
    assert pm.assign_hosts("EEE", ["gw"], ["j1", "j2"]) == ["j1", "j2", "j1"]
    with pytest.raises(pm.PipelineMatrixError, match="needs edge hosts"):
        pm.assign_hosts("ES", ["gw"], [])


@given(st.sampled_from([p for d in pm.DEPTHS for p in pm.placements_for(d)]),
       st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
def test_every_stage_gets_a_host_of_its_letter(placement, edges):
    hosts = pm.assign_hosts(placement, ["server"], edges)
    assert [h == "server" for h in hosts] == [letter == "S" for letter in placement]


def runs():
    out = [{"kind": "monolith", "node": node, "size": "128x128", "fps": fps}
           for node, fps in (("S", 100.0), ("S", 110.0), ("S", 90.0), ("E", 40.0))]
    out += [{"kind": "pipeline", "size": "128x128", "depth": 2, "placement": p, "hosts": ["x", "y"], "fps": fps,
             "ccr": 0.5, "ccr_cpu": 0.7, "latency_median": 0.002, "bound_cpu_fps": 300.0}
            for p, fps in (("SS", 150.0), ("SS", 160.0), ("SS", 170.0), ("ES", 60.0))]
    return out


def test_rows_compare_each_placement_with_the_monolith_of_its_first_stages_node():
    rows = pm.aggregate(runs())
    assert [(r["placement"], r["repeats"], r["fps"], r["monolith_fps"], r["monolith_node"]) for r in rows] == [
        ("ES", 1, 60.0, 40.0, "E"), ("SS", 3, 160.0, 100.0, "S")]
    assert rows[1]["speedup"] == pytest.approx(1.6) and rows[1]["ccr_cpu"] == 0.7
    table = pm.markdown(rows)
    assert "| 128x128 | 2 | SS | x,y | 160.0 (3) | 100.0 (S) | 1.60x | 0.50 / 0.70 | 2.00 |" in table


@pytest.mark.parametrize("bad, message", [
    ({"kind": "other"}, "not a pipeline or monolith"), ({"kind": "monolith", "size": "8x8", "fps": 0}, "no positive fps"),
    ({"kind": "monolith", "size": "8x8", "fps": 1.0, "node": "X"}, "node must be S or E"),
    ({"kind": "pipeline", "size": "128x128", "fps": 1.0, "depth": 3, "placement": "SS"}, "does not have depth 3")])
def test_bad_results_say_why(bad, message):
    with pytest.raises(pm.PipelineMatrixError, match=message):
        pm.aggregate(runs() + [bad])


def test_a_placement_without_its_monolith_is_refused():
    only_s = [r for r in runs() if r.get("node") != "E"]
    with pytest.raises(pm.PipelineMatrixError, match="no monolith run on an E node at 128x128 to compare ES"):
        pm.aggregate(only_s)


def test_images_per_run_spends_about_the_same_pixels_on_every_size_within_its_bounds():
    # 20,000,000 pixels: 1280x720 = 921,600 -> 21 images; 128x128 would be 1,220, capped at 500.
    assert pm.images_per_run("1280x720", 20000000, least=10, most=500) == 21
    assert pm.images_per_run("128x128", 20000000, least=10, most=500) == 500
    assert pm.images_per_run("1024x1024", 5000000, least=10, most=500) == 10
    with pytest.raises(pm.PipelineMatrixError, match="not <width>x<height>"):
        pm.images_per_run("1280", 20000000, least=10, most=500)
