"""The ResNet-50 split's tensor codec (jc_pipeline/tensors.py) and the bytes frames that carry an
encoded batch through the chain's chunking (wire.blob_replies / wire.Assembler), without torch or
gRPC: tests/unit/roles/test_jc_resnet_split_grpc_torch.py runs the stages themselves."""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "pipeline_workload" / "files"))

from jc_pipeline import tensors, wire  # noqa: E402

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float16, np.float32, np.dtype(">f2"), np.dtype(">f4")]), shapes))
def test_round_trip_keeps_shape_dtype_and_every_bit(array):
    data = tensors.encode(array)
    back = tensors.decode(data)
    assert back.shape == array.shape and back.dtype == np.dtype("<f%d" % array.dtype.itemsize)
    assert back.tobytes() == array.astype(back.dtype).tobytes()  # NaN payloads and -0.0 too
    assert len(data) == 8 + 4 * array.ndim + array.size * array.dtype.itemsize


def test_layout_is_the_documented_header_then_the_values():
    array = np.arange(6, dtype=np.float16).reshape(2, 3)
    data = tensors.encode(array)
    assert data[:8] == b"JCT1" + bytes([1, 2, 0, 0])
    assert struct.unpack("<2I", data[8:16]) == (2, 3)
    assert data[16:] == array.astype("<f2").tobytes()


def test_decode_is_a_view_without_a_copy_read_only_for_bytes():
    data = bytearray(tensors.encode(np.ones((2, 2), dtype=np.float32)))
    assert np.shares_memory(tensors.decode(memoryview(data)), np.frombuffer(data, dtype=np.uint8))
    assert not tensors.decode(bytes(data)).flags.writeable


@pytest.mark.parametrize("array,message", [
    (np.zeros((2, 2), dtype=np.float64), "float16 and float32, not float64"),
    (np.zeros((2, 2), dtype=np.int32), "float16 and float32, not int32"),
    (np.zeros((2, 0), dtype=np.float16), "non-empty dimensions"),
    (np.float32(1.0), "non-empty dimensions"),
])
def test_encode_refuses_what_it_cannot_carry(array, message):
    with pytest.raises(wire.WireError, match=message):
        tensors.encode(array)


GOOD = tensors.encode(np.ones((2, 3), dtype=np.float16))


@pytest.mark.parametrize("data,message", [
    (b"", "shorter than its 8-byte header"),
    (b"XXXX" + GOOD[4:], "does not start with"),
    (GOOD[:4] + b"\x03" + GOOD[5:], "dtype code 3"),
    (GOOD[:5] + b"\x00" + GOOD[6:], "ndim 0"),
    (GOOD[:5] + b"\x09" + GOOD[6:], "ndim 9"),
    (GOOD[:12], "ends inside its shape"),
    (GOOD[:8] + struct.pack("<2I", 2, 0) + GOOD[16:], "empty dimension"),
    (GOOD[:-1], "needs 12 bytes of values, got 11"),
    (GOOD + b"\x00", "needs 12 bytes of values, got 13"),
])
def test_decode_says_what_is_wrong(data, message):
    with pytest.raises(wire.WireError, match=message):
        tensors.decode(data)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=96), st.binary(max_size=64).map(lambda tail: GOOD[:8] + tail),
                 st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)).map(
                     lambda p: GOOD[:p[0]] + bytes([p[1]]) + GOOD[p[0] + 1:])))
def test_any_bytes_decode_or_raise_wire_error(data):
    try:
        back = tensors.decode(data)
    except wire.WireError:
        return
    assert back.nbytes == len(data) - 8 - 4 * back.ndim


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float16, shapes), st.integers(1, 200), st.integers(0, 2 ** 32 - 1))
def test_a_batch_crosses_the_chunked_frames_unchanged(array, chunk_bytes, index):
    payload = tensors.encode(array)
    messages = list(wire.blob_replies(payload, index, 12.5, chunk_bytes))
    assert len(messages) == max(1, -(-len(payload) // chunk_bytes))
    assembler, done = wire.Assembler(), []
    for message in messages:
        item = assembler.add(wire.reply_data(message))
        if item is not None:
            done.append(item)
    assert len(done) == 1 and done[0][:2] == (index, 12.5)
    assert tensors.decode(done[0][2]).tobytes() == array.tobytes()


def test_a_bytes_frame_must_not_claim_an_image_size():
    header = wire.HEADER.pack(wire.BLOB_MAGIC, 0, 0, 1, 4, 1, 0.0, 4)
    with pytest.raises(wire.WireError, match="width and height 0"):
        wire.Assembler().add(header + b"abcd")


def test_a_bytes_frame_over_the_limit_is_refused_before_any_allocation():
    header = wire.HEADER.pack(wire.BLOB_MAGIC, 0, 0, 2, 0, 0, 0.0, wire.MAX_BLOB_BYTES + 1)
    with pytest.raises(wire.WireError, match="more than"):
        wire.Assembler().add(header + b"abcd")


PLACEMENT = """stages:
  - {host: jetson-1, layers: [stem, layer1]}
  - {host: jetson-2, layers: [layer2, layer3]}
  - {host: gateway, layers: [layer4, head]}
"""


def test_split_stage_takes_its_blocks_from_the_placement_file(tmp_path):
    from jc_pipeline.__main__ import split_blocks

    path = tmp_path / "placement.yaml"
    path.write_text(PLACEMENT)
    assert split_blocks(str(path), "", 1) == (("layer2", "layer3"), "jetson-2", 3)
    assert split_blocks("", "layer2", 0) == (("stem", "layer1", "layer2"), "", 2)


@pytest.mark.parametrize("placement,args,message", [
    (PLACEMENT.replace("layer2, layer3", "layer3, layer3"), ["--index", "0"], "do not start at layer2"),
    (PLACEMENT, ["--index", "3"], "stage index 3: the placement has stages 0..2"),
    (None, ["--cuts", "layer9"], "cannot cut after 'layer9'"),
    ("", ["--index", "0"], "a placement is a mapping"),
])
def test_split_stage_cli_refuses_a_bad_placement_before_loading_torch(tmp_path, capsys, placement, args, message):
    from jc_pipeline.__main__ import main

    if placement is not None:
        path = tmp_path / "placement.yaml"
        path.write_text(placement)
        args = ["--placement", str(path)] + args
    assert main(["split-stage"] + args) == 2
    assert message in capsys.readouterr().err
