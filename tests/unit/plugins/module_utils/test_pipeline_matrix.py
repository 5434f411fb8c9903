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


ADDRESSES = {"m": "10.0.0.1", "w1": "10.0.0.2", "w2": "10.0.0.3"}


def test_docker_plan_gives_every_stage_its_own_port_and_its_upstreams_address():
    plan = pm.docker_plan(pm.expand([4], ["128x128", "1280x720"], ["EESS"]), ["m"], ["w1", "w2"], ADDRESSES, 50051,
                          {"128x128": 300, "1280x720": 21})
    (chain,) = plan["chains"]
    assert chain["hosts"] == ["w1", "w2", "m", "m"] and chain["sink_host"] == "m"
    assert [(s["host"], s["listen"], s["upstream"]) for s in chain["stages"]] == [
        ("w1", "0.0.0.0:50051", ""), ("w2", "0.0.0.0:50052", "10.0.0.2:50051"),
        ("m", "0.0.0.0:50053", "10.0.0.3:50052"), ("m", "0.0.0.0:50054", "10.0.0.1:50053")]
    assert chain["address"] == "10.0.0.1:50054"
    assert chain["sizes"] == [{"size": "128x128", "datacount": 300}, {"size": "1280x720", "datacount": 21}]
    # The chain starts on the edge: one monolith there, on the first edge host, every size.
    assert plan["monoliths"] == [{"node": "E", "host": "w1", "sizes": chain["sizes"]}]


def test_docker_plan_runs_a_monolith_on_each_kind_of_node_a_chain_starts_on():
    plan = pm.docker_plan(pm.expand([2], ["64x64"]), ["m"], ["w1"], ADDRESSES, 7000, {"64x64": 10})
    assert [c["placement"] for c in plan["chains"]] == ["SS", "ES", "EE"]
    assert [(m["node"], m["host"]) for m in plan["monoliths"]] == [("S", "m"), ("E", "w1")]


@pytest.mark.parametrize("addresses, images, message", [
    ({"m": "a"}, {"64x64": 10}, "host w1 has no address"), (ADDRESSES, {}, "no image count for size 64x64")])
def test_docker_plan_says_what_is_missing(addresses, images, message):
    with pytest.raises(pm.PipelineMatrixError, match=message):
        pm.docker_plan(pm.expand([2], ["64x64"], ["ES"]), ["m"], ["w1"], addresses, 7000, images)


SINK = {"kind": "pipeline", "key": "256x256,seed=3", "fps": 50.0, "ccr": 2.0, "ccr_cpu": 1.5, "latency_median": 0.03,
        "bound_cpu_fps": 70.0, "communication_median": 0.004, "computation_median": 0.002, "stages": [{"stage": "conv"}]}
MONOLITH = {"kind": "monolith", "key": "256x256", "fps": 100.0, "ccr": 0.0, "ccr_cpu": None, "latency_median": 0.01,
            "bound_cpu_fps": 110.0, "communication_median": 0.0, "computation_median": 0.009}


def test_a_sink_report_becomes_a_run_with_its_size_and_where_it_ran():
    run = pm.run_from_report(SINK, depth=2, placement="ES", hosts=["w1", "m"])
    assert run["size"] == "256x256" and run["kind"] == "pipeline" and run["fps"] == 50.0
    assert (run["communication"], run["computation"], run["stages"]) == (0.004, 0.002, [{"stage": "conv"}])
    assert (run["depth"], run["placement"], run["hosts"]) == (2, "ES", ["w1", "m"])
    mono = pm.run_from_report(MONOLITH, node="E")
    assert (mono["node"], mono["communication"], mono["computation"]) == ("E", 0.0, 0.009)
    with pytest.raises(pm.PipelineMatrixError, match="not a jc_pipeline sink or monolith report"):
        pm.run_from_report({"kind": "job"})


def test_reports_are_found_among_log_lines_and_their_absence_quotes_the_end():
    import json
    text = "conv: 10 images, receive 0.1 s\n" + json.dumps(SINK) + "\n{not json\n" + json.dumps(MONOLITH) + "\n"
    assert pm.reports_in(text) == [SINK, MONOLITH]
    with pytest.raises(pm.PipelineMatrixError, match="no jc_pipeline report in x.log; it ends: a | b"):
        pm.reports_in("a\nb\n", "x.log")


def test_rows_by_size_compare_depths_on_their_all_server_placement():
    runs = [pm.run_from_report(MONOLITH, node="S"), pm.run_from_report(dict(MONOLITH, fps=60.0), node="E")]
    for depth, placement, fps in ((2, "SS", 150.0), (2, "ES", 90.0), (4, "SSSS", 180.0), (4, "EEEE", 70.0)):
        runs.append(pm.run_from_report(dict(SINK, fps=fps), depth=depth, placement=placement, hosts=[]))
    sizes = pm.by_size(pm.aggregate(runs))
    entry = sizes["256x256"]
    assert entry["monolith"] == {"fps": 100.0, "latency": 0.009, "node": "S"}
    assert (entry["depth2"]["placement"], entry["depth2"]["speedup"]) == ("SS", 1.5)
    assert (entry["depth4"]["placement"], entry["depth4"]["fps"]) == ("SSSS", 180.0)
    assert entry["depth4"]["latency"] == pytest.approx(0.006) and entry["depth4"]["ccr_cpu_throughput"] == 1.5


def test_rows_by_size_need_every_depth_at_every_size():
    runs = [pm.run_from_report(MONOLITH, node="S"), pm.run_from_report(dict(MONOLITH, key="64x64"), node="S"),
            pm.run_from_report(SINK, depth=2, placement="SS", hosts=[]),
            pm.run_from_report(dict(SINK, key="64x64"), depth=4, placement="SSSS", hosts=[])]
    with pytest.raises(pm.PipelineMatrixError, match="was not measured at every depth"):
        pm.by_size(pm.aggregate(runs))


# --- The ResNet-50 split on named hosts (tasks/split_run.yml) ------------------------------------
SPLIT_ADDRESSES = {"worker1": "10.0.0.2", "worker2": "10.0.0.3", "master": "10.0.0.1"}


def test_split_plan_chains_the_hosts_in_order_each_stage_on_its_own_port():
    plan = pm.split_docker_plan(["worker1", "worker2"], SPLIT_ADDRESSES, 50051, ["layer2"], 4, 2)
    assert plan["stages"] == [
        {"index": 0, "host": "worker1", "listen": "0.0.0.0:50051", "upstream": ""},
        {"index": 1, "host": "worker2", "listen": "0.0.0.0:50052", "upstream": "10.0.0.2:50051"}]
    # The sink runs on the last stage's host and pulls from it; jc_infer index i on host i.
    assert (plan["sink_host"], plan["address"]) == ("worker2", "10.0.0.3:50052")
    assert plan["dataparallel"] == [{"index": 0, "host": "worker1"}, {"index": 1, "host": "worker2"}]
    assert (plan["depth"], plan["cuts"], plan["images"], plan["batch"]) == (2, ["layer2"], 4, 2)


@given(st.permutations(sorted(SPLIT_ADDRESSES)), st.integers(2, 3), st.integers(1, 60000))
def test_split_plan_every_stage_pulls_from_the_one_before(hosts, depth, port):
    hosts = list(hosts)[:depth]
    plan = pm.split_docker_plan(hosts, SPLIT_ADDRESSES, port, ["layer%d" % i for i in range(1, depth)], 8, 4)
    assert [s["host"] for s in plan["stages"]] == hosts == [d["host"] for d in plan["dataparallel"]]
    for before, stage in zip(plan["stages"], plan["stages"][1:]):
        assert stage["upstream"] == "%s:%d" % (SPLIT_ADDRESSES[before["host"]], port + before["index"])
    assert plan["address"] == "%s:%d" % (SPLIT_ADDRESSES[hosts[-1]], port + depth - 1)


@pytest.mark.parametrize("args, message", [
    ((["worker1"], SPLIT_ADDRESSES, 50051, [], 4, 2), "at least 2 hosts"),
    ((["worker1", "worker1"], SPLIT_ADDRESSES, 50051, ["layer2"], 4, 2), "name one host twice"),
    ((["worker1", "worker2"], SPLIT_ADDRESSES, 50051, [], 4, 2), "2 stages need 1 cuts"),
    ((["worker1", "worker2"], SPLIT_ADDRESSES, 50051, ["layer1", "layer2"], 4, 2), "2 stages need 1 cuts"),
    ((["worker1", "worker2"], SPLIT_ADDRESSES, 50051, ["layer2"], 2, 2), "at least 2"),
    ((["worker1", "worker2"], SPLIT_ADDRESSES, 50051, ["layer2"], 4, 0), "batch is 0"),
    ((["worker1", "worker2"], SPLIT_ADDRESSES, 65535, ["layer2"], 4, 2), "ports 65535..65536"),
    ((["worker1", "elsewhere"], SPLIT_ADDRESSES, 50051, ["layer2"], 4, 2), "host elsewhere has no address"),
])
def test_split_plan_says_what_is_wrong(args, message):
    with pytest.raises(pm.PipelineMatrixError, match=message):
        pm.split_docker_plan(*args)
