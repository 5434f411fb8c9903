"""jc_pipeline/resnet_split.py on a real torch: ResNet-50 cut by layers gives the unsplit model's
logits (exactly with float32 between stages; within the stated tolerance and with the same
top-1 class with the float16 wire). The test virtualenv has no torch (see tests/skips_allowed.yml);
tests/integration/test_jc_resnet_split_torch.py runs this file in the Debian torch container and
fails on any skip, and benchmarks/results/pipeline_h200_run3/ holds a run on the GPU machine."""

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "pipeline_workload" / "files"))

from jc_pipeline import resnet_split, split_plan  # noqa: E402


@pytest.fixture(scope="module")
def model_and_batch():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = torchvision.models.resnet50().eval()
    batch = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        reference = model(batch)
    return model, batch, reference


@pytest.mark.parametrize("cuts", [[], ["layer2"], ["layer1", "layer3"], ["stem", "layer1", "layer2", "layer3", "layer4"]],
                         ids=lambda c: ",".join(c) or "none")
def test_split_without_the_wire_is_exactly_the_unsplit_model(model_and_batch, cuts):
    model, batch, reference = model_and_batch
    stages = resnet_split.build_stages(model, split_plan.ranges_from_cuts(cuts))
    logits, sent = resnet_split.run_split(stages, batch, wire=False)
    assert len(stages) == len(cuts) + 1 and len(sent) == len(cuts)
    assert torch.equal(logits, reference)


@pytest.mark.parametrize("cuts", [["layer1", "layer3"], ["stem", "layer1", "layer2", "layer3", "layer4"]],
                         ids=lambda c: ",".join(c))
def test_float16_wire_stays_within_tolerance_with_the_same_predictions(model_and_batch, cuts):
    model, batch, reference = model_and_batch
    stages = resnet_split.build_stages(model, split_plan.ranges_from_cuts(cuts))
    logits, sent = resnet_split.run_split(stages, batch, wire=True)
    got = resnet_split.agreement(reference, logits)
    assert got["within"] and got["same_top1"], got
    assert got["max_abs_diff"] > 0  # the float16 wire does round: the tolerance is not vacuous
    expected = split_plan.output_bytes(96, batch=2)
    assert sent == [expected[c] for c in cuts]


def test_stages_share_the_unsplit_models_weights(model_and_batch):
    model = model_and_batch[0]
    stages = resnet_split.build_stages(model, split_plan.ranges_from_cuts(["layer2"]))
    assert stages[0][4] is model.layer1 and stages[1][-1] is model.fc


def test_ranges_that_skip_a_block_are_refused(model_and_batch):
    with pytest.raises(split_plan.SplitError, match="do not cover"):
        resnet_split.build_stages(model_and_batch[0], [("stem", "layer1"), ("layer3", "layer4", "head")])


def test_cli_reports_agreement_times_and_the_plan(capsys):
    assert resnet_split.main(["--cuts", "layer2", "--batch", "1", "--size", "64", "--threads", "2"]) == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["exact_equal"] and report["float16_wire"]["within"]
    assert set(report["block_seconds_per_image"]) == set(split_plan.BLOCKS)
    assert report["plan"]["cuts"] and "cut after" in report["plan"]["explanation"]


def test_split_plan_command_times_the_blocks_here_and_prints_the_planners_cuts(capsys):
    # `python3 -m jc_pipeline split-plan`, the planner the role's Docker runner of the split runs on
    # its first host (roles/pipeline_workload/tasks/split_run.yml) unless the cuts are configured.
    import json

    from jc_pipeline import __main__ as jc_main

    assert jc_main.main(["split-plan", "--stages", "3", "--batch", "1", "--size", "64", "--threads", "2",
                         "--link-mbit", "1000"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["kind"] == "resnet_split_plan" and line["stages"] == 3 and len(line["cuts"]) == 2
    assert set(line["block_seconds_per_image"]) == set(split_plan.BLOCKS)
    assert line["cut_bytes_per_image"] == split_plan.output_bytes(64)
    # The planner's own choice on these times (nothing else decides the cuts).
    again = split_plan.plan(line["block_seconds_per_image"], line["cut_bytes_per_image"], 1000e6 / 8, 3)
    assert line["cuts"] == again["cuts"] and line["explanation"] == again["explanation"]
    assert jc_main.main(["split-plan", "--stages", "2", "--size", "50"]) == 2  # not a multiple of 32
