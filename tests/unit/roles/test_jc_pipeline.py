"""jc_pipeline's maths, request keys and framing (roles/pipeline_workload/files/jc_pipeline),
without gRPC: tests/integration/test_jc_pipeline_grpc.py runs the chain itself."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "pipeline_workload" / "files"))

from jc_pipeline import metrics, monolith, ops, wire  # noqa: E402


def reference_conv(image, kernel):
    """The textbook loop, in float64, for comparison."""
    height, width = image.shape
    padded = np.pad(image.astype(np.float64), 1)
    out = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            out[y, x] = (padded[y:y + 3, x:x + 3] * kernel).sum()
    return out


def test_conv_is_the_3x3_laplacian_with_zero_padding():
    image = ops.produce(13, 9, 1, 0)
    assert np.allclose(ops.conv(image), reference_conv(image, ops.KERNEL.astype(np.float64)), atol=1e-5)


def test_conv_handles_any_kernel_with_zero_taps():
    kernel = np.array([[0, 1, 0], [2, 0, 2], [0, 1, 0]], dtype=np.float32)
    image = ops.produce(8, 5, 2, 0)
    assert np.allclose(ops.conv(image, kernel), reference_conv(image, kernel.astype(np.float64)), atol=1e-5)


def test_conv_keeps_shape_and_float32():
    out = ops.conv(ops.produce(17, 11, 0, 3))
    assert (out.shape, out.dtype) == ((11, 17), np.float32)


def test_relu_clamps_negatives_only():
    assert ops.relu(np.array([[-1.5, 0.0, 2.0]], dtype=np.float32)).tolist() == [[0.0, 0.0, 2.0]]


def test_pool_takes_2x2_maxima_and_drops_the_odd_edge():
    image = np.arange(35, dtype=np.float32).reshape(5, 7)
    assert ops.pool(image).tolist() == [[8, 10, 12], [22, 24, 26]]


def test_producer_is_deterministic_per_seed_and_index():
    assert ops.produce(40, 30, 3, 5).tobytes() == ops.produce(40, 30, 3, 5).tobytes()
    assert ops.produce(40, 30, 3, 5).tobytes() != ops.produce(40, 30, 3, 6).tobytes()


@pytest.mark.parametrize("depth", sorted(ops.PLANS))
def test_every_plan_runs_all_blocks_once_in_order_with_the_producer_alone(depth):
    plan = ops.PLANS[depth]
    assert (sum(plan, ()), plan[0], len(plan)) == (ops.BLOCKS, ("produce",), depth)


@pytest.mark.parametrize("depth, index", [(1, 0), (5, 0), (4, 4), (2, -1)])
def test_unknown_plans_are_refused(depth, index):
    with pytest.raises(ops.PlanError):
        ops.stage_blocks(depth, index)


@pytest.mark.parametrize("key, expected", [
    ("1280x720", {"width": 1280, "height": 720, "seed": 0, "interval": 0.0}),
    ("64x48,seed=3", {"width": 64, "height": 48, "seed": 3, "interval": 0.0}),
    (" 8 x 2 , interval=0.25 , seed=1", {"width": 8, "height": 2, "seed": 1, "interval": 0.25}),
])
def test_keys_parse(key, expected):
    assert wire.parse_key(key) == expected


@pytest.mark.parametrize("key, message", [
    ("", "is not '<width>x<height>"),
    ("1280", "is not '<width>x<height>"),
    ("0x10", "must have 1.."),
    ("100000x100000", "must have 1.."),
    ("8x8,colour=red", "unknown option 'colour'"),
    ("8x8,seed=-1", "bad value for seed"),
    ("8x8,interval=abc", "bad value for interval"),
])
def test_bad_keys_say_why(key, message):
    with pytest.raises(wire.WireError, match=message):
        wire.parse_key(key)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_key_parses_or_raises_wire_error(key):
    try:
        parsed = wire.parse_key(key)
    except wire.WireError:
        return
    assert parsed["width"] * parsed["height"] <= wire.MAX_PIXELS


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.integers(1, 70), st.integers(12, 5000))
def test_frames_reassemble_to_the_same_image(width, height, chunk_bytes):
    image = ops.produce(width, height, 0, 1)
    assembler = wire.Assembler()
    results = [assembler.add(data) for data in wire.frames(image, 9, 123.5, chunk_bytes)]
    assert all(r is None for r in results[:-1])
    index, produced, out = results[-1]
    assert (index, produced, out.tobytes()) == (9, 123.5, image.tobytes())
    assert max(len(d) for d in wire.frames(image, 9, 123.5, chunk_bytes)) <= chunk_bytes + wire.HEADER.size


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.integers(1, 70), st.integers(12, 5000), st.floats(0, 2e9))
def test_replies_are_the_data_reply_protobuf_writes(width, height, chunk_bytes, produced):
    # The stages serialise DataReply themselves; a generated client must read the same bytes.
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    image = ops.produce(width, height, 0, 1)
    data_reply = _data_reply_class(descriptor_pb2, descriptor_pool, message_factory)
    frames = list(wire.frames(image, 3, produced, chunk_bytes))
    messages = list(wire.replies(image, 3, produced, chunk_bytes))
    assert messages == [data_reply(data=frame).SerializeToString() for frame in frames]
    assert [bytes(wire.reply_data(m)) for m in messages] == frames


_DATA_REPLY = []


def _data_reply_class(descriptor_pb2, descriptor_pool, message_factory):
    """conv.DataReply built from its descriptor (as protoc's conv_pb2 does), without protoc."""
    if not _DATA_REPLY:
        proto = descriptor_pb2.FileDescriptorProto(name="jc_test_conv.proto", package="jc_test_conv", syntax="proto3")
        message = proto.message_type.add(name="DataReply")
        message.field.add(name="data", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
                          label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        descriptor = pool.FindMessageTypeByName("jc_test_conv.DataReply")
        _DATA_REPLY.append(message_factory.GetMessageClass(descriptor) if hasattr(message_factory, "GetMessageClass")
                           else message_factory.MessageFactory(pool).GetPrototype(descriptor))
    return _DATA_REPLY[0]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_reply_bytes_decode_or_raise_wire_error(data):
    try:
        wire.reply_data(data)
    except wire.WireError:
        pass


def test_reply_data_skips_unknown_fields_and_takes_the_last_data():
    message = b"\x10\x05" + b"\x0a\x02ab" + b"\x1d\x00\x00\x00\x00" + b"\x0a\x01c" + b"\x21" + b"\x00" * 8
    assert bytes(wire.reply_data(message)) == b"c"
    assert bytes(wire.reply_data(b"")) == b""
    with pytest.raises(wire.WireError, match="truncated"):
        wire.reply_data(b"\x0a\x05ab")


def test_a_whole_image_in_one_message_needs_no_copy_and_relu_leaves_it_alone():
    image = ops.produce(20, 10, 0, 0) - 0.5
    (message,) = wire.replies(image, 0, 0.0, 1 << 20)
    _, _, got = wire.Assembler().add(wire.reply_data(message))
    assert not got.flags.writeable and got.tobytes() == image.tobytes()
    assert ops.relu(got).tobytes() == np.maximum(image, 0).tobytes() and got.tobytes() == image.tobytes()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 3), st.sampled_from([-1.0, 0.0, 0.5, 2.0]),
       st.sampled_from([8.0, -3.0, 1.0, 0.0]))
def test_box_path_equals_the_tap_by_tap_path(width, height, index, outer, centre):
    # Kernels with eight equal outer taps take the separable box path; the reference and the
    # grouped path (a kernel with one off tap moved back) must agree with it.
    image = ops.produce(width, height, 1, index)
    kernel = np.full((3, 3), outer, dtype=ops.DTYPE)
    kernel[1, 1] = centre
    got = ops.conv(image, kernel)
    assert got.shape == image.shape
    assert np.allclose(got, reference_conv(image, kernel.astype(np.float64)), atol=1e-4)
    assert ops.conv(image, kernel).tobytes() == got.tobytes()  # the cached work arrays carry nothing over


def test_conv_of_another_size_after_a_cached_one():
    big, small = ops.produce(30, 20, 0, 0), ops.produce(7, 5, 0, 0)
    ops.conv(big)
    assert np.allclose(ops.conv(small), reference_conv(small, ops.KERNEL.astype(np.float64)), atol=1e-5)


def test_chunks_out_of_order_are_refused():
    chunks = list(wire.frames(ops.produce(64, 64, 0, 0), 0, 0.0, 4096))
    assembler = wire.Assembler()
    assembler.add(chunks[0])
    with pytest.raises(wire.WireError, match="out of order"):
        assembler.add(chunks[2])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_assemble_or_raise_wire_error(data):
    try:
        wire.Assembler().add(data)
    except wire.WireError:
        pass


def test_monolith_runs_every_block_and_reports():
    report = monolith.run("32x16", 3, keep=True)
    expected = ops.pool(ops.relu(ops.conv(ops.produce(32, 16, 0, 2))))
    assert report["outputs"][2].tobytes() == expected.tobytes()
    assert set(report["median_block"]) == set(ops.BLOCKS) and report["images"] == 3


def test_chain_report_bound_is_the_slowest_stage_service_time():
    stages = [{"stage": "a", "median_recv": 0.0, "median_send": 0.001, "median_compute": 0.004, "median_service": 0.005},
              {"stage": "b", "median_recv": 0.002, "median_send": 0.0, "median_compute": 0.008, "median_service": 0.010}]
    report = metrics.chain_report(stages, [10.0, 10.1, 10.2], [9.9, 10.0, 10.1], [0.001] * 3)
    assert (report["slowest_stage"], round(report["bound_fps"], 6), round(report["fps"], 6)) == ("b", 100.0, 10.0)
    assert round(report["ccr"], 6) == round(0.004 / 0.012, 6)


def stage_log(name, records):
    log = metrics.StageLog(name, ["conv"])
    for index, record in enumerate(records):
        log.add(index, **record)
    return log.summary()


def test_ccr_and_cpu_bound_come_from_the_stage_records_in_one_place():
    # producer: 4 ms compute, 6 ms CPU; conv: 3 ms compute, 1 ms recv, 2 ms send, 7 ms CPU.
    producer = stage_log("producer", [dict(wait=0.0, recv=0.0, compute=0.004, send=0.001, cpu=0.006)] * 3)
    conv = stage_log("conv", [dict(wait=0.5, recv=0.001, compute=0.003, send=0.002, cpu=c) for c in (0.007, 0.007, 0.009)])
    assert (conv["total_recv"], conv["total_wait"]) == (pytest.approx(0.003), pytest.approx(1.5))
    assert conv["median_comm_cpu"] == pytest.approx(0.004) and conv["median_cpu"] == pytest.approx(0.007)
    ratios = metrics.ccr([producer, conv], sink_recv=[0.001, 0.001])
    assert ratios["wall"] == pytest.approx((0.001 + 0.003 + 0.001) / 0.007)
    assert ratios["cpu"] == pytest.approx((0.002 + 0.004) / 0.007)
    report = metrics.chain_report([producer, conv], [1.0, 1.01, 1.02], [0.9, 0.91, 0.92], [0.001] * 3)
    assert report["ccr"] == pytest.approx(ratios["wall"]) and report["ccr_cpu"] == pytest.approx(ratios["cpu"])
    assert (report["busiest_cpu_stage"], report["bound_cpu_fps"]) == ("conv", pytest.approx(1 / 0.007))
    line = metrics.totals_line(conv)
    assert line == "conv: 3 images, receive 0.003 s (idle wait 1.500 s), process 0.009 s, send 0.006 s, CPU 0.023 s"


def test_cpu_ccr_compares_cpu_with_cpu_when_the_core_is_shared():
    # Preempted: the blocks took 10 ms of wall clock but 3 ms of their thread's CPU; the process
    # used 7 ms of CPU in all, so 4 ms went to the transfers, not 0 (7 - 10 clipped).
    shared = stage_log("conv", [dict(recv=0.0, compute=0.010, send=0.001, cpu=0.007, compute_cpu=0.003)] * 3)
    assert shared["median_comm_cpu"] == pytest.approx(0.004)
    assert metrics.ccr([shared])["cpu"] == pytest.approx(0.004 / 0.003)


def test_thread_cpu_counts_only_work():
    before = metrics.thread_cpu()
    time.sleep(0.05)
    slept = metrics.thread_cpu() - before
    sum(i * i for i in range(200000))
    assert 0 <= slept < 0.04 and metrics.thread_cpu() - before > slept


def test_ccr_without_cpu_records_is_nan_not_an_error():
    old = stage_log("old", [dict(recv=0.001, compute=0.002, send=0.001)])
    ratios = metrics.ccr([old])
    assert ratios["wall"] == pytest.approx(1.0) and np.isnan(ratios["cpu"])
    assert np.isnan(metrics.chain_report([old], [1.0], [0.9], [0.0])["bound_cpu_fps"])


def test_monolith_cpu_covers_its_compute_and_digest_is_optional():
    report = monolith.run("64x48", 4, digest=False)
    (summary,) = report["stages"]
    assert report["sha256"] is None and summary["images"] == 4
    assert summary["total_cpu"] > 0 and summary["median_comm_cpu"] >= 0
    assert monolith.run("64x48", 4)["sha256"] == monolith.run("64x48", 4)["sha256"] is not None


def run_cli(*args):
    import subprocess

    files = Path(__file__).resolve().parents[3] / "roles" / "pipeline_workload" / "files"
    return subprocess.run([sys.executable, "-m", "jc_pipeline"] + list(args), cwd=str(files),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


def test_cli_plan_names_the_merged_stages():
    import json

    proc = run_cli("plan", "--depth", "3")
    assert [stage["name"] for stage in json.loads(proc.stdout)] == ["producer", "conv", "relu-pool"]


@pytest.mark.parametrize("args, message", [
    (("plan", "--depth", "7"), "depth must be one of [2, 3, 4], not 7"),
    (("monolith", "--key", "8x8,foo=1", "--datacount", "1"), "unknown option 'foo'"),
    (("monolith", "--key", "8x8", "--datacount", "0"), "datacount must be >= 1"),
])
def test_cli_bad_input_exits_2_with_a_message(args, message):
    proc = run_cli(*args)
    assert (proc.returncode, message in proc.stderr, "Traceback" in proc.stderr) == (2, True, False)
