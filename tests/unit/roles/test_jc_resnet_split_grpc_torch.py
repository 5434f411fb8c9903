"""The ResNet-50 split as real gRPC stages (jc_pipeline split-stage processes on 127.0.0.1, the
convolution chain's GetDataService, Upstream, chunking and failure reporting): the chain's top-1
classes are the unsplit model's on the same images, the bytes at each cut are what split_plan
says, a batch over 4 MiB crosses a hop whole and in 1 MiB chunks, and a stage killed mid-stream
ends the chain with an error naming it. Needs torch, torchvision and grpcio-tools: the test
virtualenv has no torch (tests/skips_allowed.yml); tests/integration/test_jc_resnet_split_grpc_torch.py
runs this file in the Debian torch container with Debian's grpcio and fails on any skip."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from jc_pipeline_generated import generated_code

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("grpc_tools")

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "pipeline_workload" / "files"))

from jc_pipeline import resnet_split, sink, split_plan, split_stage, stage, wire  # noqa: E402
from jc_pipeline.local import LocalChain  # noqa: E402

pytestmark = pytest.mark.timeout(300)


generated = pytest.fixture(scope="module", autouse=True, name="generated")(generated_code)


def unsplit(key, count):
    torch.set_num_threads(1)
    model = split_stage.build_model(seed=0)
    batch = torch.from_numpy(split_stage.make_inputs(wire.parse_key(key), 0, count))
    with torch.no_grad():
        return model(batch)


def split_args(cuts, batch, *more):
    return ["--cuts", cuts, "--batch", str(batch), "--threads", "1"] + list(more)


@pytest.mark.parametrize("cuts,key,count,batch,pull_chunks", [
    # 3 stages, 2 batches of 2 small images.
    ("layer1,layer3", "64x64,seed=3", 4, 2, None),
    # 2 stages, one batch of 3 ImageNet-sized images: 3 x 256 x 56 x 56 float16 = 4.8 MB crosses
    # the cut, as one message (the hop raises its limit) and as 1 MiB chunks (0: asks for none).
    ("layer1", "224x224,seed=5", 3, 3, None),
    ("layer1", "224x224,seed=5", 3, 3, 0),
], ids=["3-stages", "2-stages-whole-4.8MB", "2-stages-1MiB-chunks"])
def test_grpc_split_chain_gives_the_unsplit_top1(cuts, key, count, batch, pull_chunks):
    depth = cuts.count(",") + 2
    with LocalChain(depth, split=split_args(cuts, batch), pull_chunk_bytes=pull_chunks) as chain:
        report = split_stage.pull(chain.last, key, count, batch, keep=True)
    reference = unsplit(key, count)
    assert report["top1"] == reference.argmax(1).tolist()
    agreement = resnet_split.agreement(reference, torch.from_numpy(report["logits"]))
    assert agreement["within"] and agreement["same_top1"], agreement
    size = wire.parse_key(key)["width"]
    expected = split_plan.output_bytes(size)
    assert [s["stage"] for s in report["stages"]] == ["-".join(r) for r in split_plan.ranges_from_cuts(cuts.split(","))]
    # float16 activations per image at each cut, plus the codec's header per batch.
    for cut, measured in zip(cuts.split(","), report["cut_bytes_per_image"]):
        assert expected[cut] <= measured <= expected[cut] + 64.0 / batch
    last = report["stages"][-1]
    assert last["bytes_per_image"] == pytest.approx(4000 + 16.0 / batch)  # float32 logits, 16-byte header
    assert report["images"] == count and report["batches"] == -(-count // batch)
    for summary in report["stages"]:
        assert summary["images"] == count and summary["median_compute"] > 0 and summary["median_send"] > 0


def test_a_split_stage_killed_mid_stream_fails_the_chain_clearly():
    count = 60
    with LocalChain(3, split=split_args("layer1,layer3", 1), idle_timeout=20) as chain:
        middle = chain.processes[1]
        upstream = stage.Upstream(chain.last, sink.Request("64x64", count), 30, 120, expected=count)
        received, error, started = 0, None, None
        try:
            for _ in upstream.images():
                received += 1
                if received == 2:
                    started = time.monotonic()
                    os.kill(middle.pid, signal.SIGKILL)
        except stage.StageError as exc:
            error = exc
        seconds = time.monotonic() - started
    assert error is not None and 2 <= received < count, (received, error)
    message = str(error)
    assert "stage layer4-head" in message and "upstream %s failed" % chain.addresses[1] in message, message
    assert seconds < 20
