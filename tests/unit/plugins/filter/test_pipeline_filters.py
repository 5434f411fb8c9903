"""The filter shell in plugins/filter/pipeline.py: name, doc file, pass-through, error wrapping."""

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.filter.pipeline import FilterModule

FILTERS = FilterModule().filters()
LETTERS = {"S": {"role": "server"}, "E": {"node-type": "worker"}}


def test_every_filter_has_a_doc_file():
    docs = Path(__file__).resolve().parents[4] / "plugins" / "filter"
    assert sorted(name for name in FILTERS if not (docs / (name + ".yml")).is_file()) == []


def test_pipeline_stages_filter_passes_prefix_and_port_through():
    stages = FILTERS["pipeline_stages"]("ES", LETTERS, "wl", "7000")
    assert [(s["name"], s["upstream"], s["node_selector"]) for s in stages] == [
        ("wl-s0", "", {"node-type": "worker"}), ("wl-s1", "wl-s0:7000", {"role": "server"})]


def test_pipeline_stages_filter_names_itself_in_errors():
    with pytest.raises(AnsibleFilterError, match="pipeline_stages: placement 'Q'"):
        FILTERS["pipeline_stages"]("Q", LETTERS)


def test_pipeline_matrix_filter_gives_the_runs_and_takes_chosen_placements():
    assert FILTERS["pipeline_matrix"](["2"], ["64x64"]) == [
        {"depth": 2, "placement": p, "size": "64x64"} for p in ("SS", "ES", "EE")]
    assert FILTERS["pipeline_matrix"]([4], ["64x64"], ["EESS"]) == [{"depth": 4, "placement": "EESS", "size": "64x64"}]


def test_pipeline_matrix_filter_names_itself_in_errors():
    with pytest.raises(AnsibleFilterError, match="pipeline_matrix: placement 'SXS'"):
        FILTERS["pipeline_matrix"]([3], ["64x64"], ["SXS"])


def test_pipeline_docker_plan_filter_counts_images_by_size_and_plans_the_chains():
    runs = FILTERS["pipeline_matrix"]([2], ["128x128", "1280x720"], ["ES"])
    plan = FILTERS["pipeline_docker_plan"](runs, ["m"], ["w"], {"m": "10.0.0.1", "w": "10.0.0.2"}, "7000",
                                           "20000000", "16", "300")
    assert plan["chains"][0]["sizes"] == [{"size": "128x128", "datacount": 300}, {"size": "1280x720", "datacount": 21}]
    assert plan["chains"][0]["stages"][1]["upstream"] == "10.0.0.2:7000"


def test_pipeline_docker_plan_filter_names_itself_in_errors():
    with pytest.raises(AnsibleFilterError, match="pipeline_docker_plan: host w has no address"):
        FILTERS["pipeline_docker_plan"](FILTERS["pipeline_matrix"]([2], ["64x64"], ["ES"]), ["m"], ["w"],
                                        {"m": "a"}, 7000, 1000, 2, 10)


def test_pipeline_split_plan_filter_takes_ansibles_strings_and_plans_the_split():
    plan = FILTERS["pipeline_split_plan"](["w1", "w2"], {"w1": "a", "w2": "b"}, "7000", ["layer2"], "4", "2")
    assert [(s["host"], s["listen"], s["upstream"]) for s in plan["stages"]] == [
        ("w1", "0.0.0.0:7000", ""), ("w2", "0.0.0.0:7001", "a:7000")]
    assert plan["address"] == "b:7001"


def test_pipeline_split_plan_filter_names_itself_in_errors():
    with pytest.raises(AnsibleFilterError, match="pipeline_split_plan: 2 stages need 1 cuts"):
        FILTERS["pipeline_split_plan"](["w1", "w2"], {"w1": "a", "w2": "b"}, 7000, [], 4, 2)
