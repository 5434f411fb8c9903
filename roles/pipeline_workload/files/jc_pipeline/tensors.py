"""The tensor codec of the ResNet-50 split: one batch of activations as bytes (numpy only, no torch).

    offset 0   4 bytes  magic b"JCT1"
    offset 4   u8       dtype code: 1 = float16, 2 = float32 (little-endian)
    offset 5   u8       ndim, 1..8
    offset 6   u16      reserved, 0
    offset 8   ndim x u32  shape (little-endian), every dimension >= 1
    then       the values, C order: prod(shape) x itemsize bytes, nothing after them

Between split stages the activations travel as float16 (half the bytes of float32); the last
stage sends its logits as float32. One encoded batch is carried by wire.blob_replies as one
"image" of the stream (chunked like any image when it is larger than the chunk size the
consumer asked for), so a batch of B images is one item of the GetData stream.
"""

import struct

import numpy as np

from .wire import WireError

MAGIC = b"JCT1"
HEAD = struct.Struct("<4sBBH")
DTYPES = {1: np.dtype("<f2"), 2: np.dtype("<f4")}
CODES = dict((dtype, code) for code, dtype in DTYPES.items())
MAX_NDIM = 8


def encode(array):
    """bytes of ``array`` (float16 or float32; converted to little-endian, C order)."""
    array = np.asarray(array)
    dtype = np.dtype("<f%d" % array.dtype.itemsize) if array.dtype.kind == "f" else None
    if dtype not in CODES:
        raise WireError("the codec carries float16 and float32, not %s" % array.dtype)
    if not 1 <= array.ndim <= MAX_NDIM or 0 in array.shape:
        raise WireError("the codec carries 1..%d non-empty dimensions, not shape %s" % (MAX_NDIM, array.shape))
    body = np.ascontiguousarray(array, dtype=dtype)
    return b"".join((HEAD.pack(MAGIC, CODES[dtype], array.ndim, 0),
                     struct.pack("<%dI" % array.ndim, *array.shape), body.tobytes()))


def decode(data):
    """The array in ``data`` (any bytes-like object): a view of it, no copy (read-only when
    ``data`` is, as a gRPC message is)."""
    view = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else memoryview(data)
    if len(view) < HEAD.size:
        raise WireError("tensor of %d bytes is shorter than its %d-byte header" % (len(view), HEAD.size))
    magic, code, ndim, reserved = HEAD.unpack_from(view)
    if magic != MAGIC:
        raise WireError("tensor does not start with %r (got %r)" % (MAGIC, bytes(magic)))
    if code not in DTYPES:
        raise WireError("tensor dtype code %d is not one of %s" % (code, sorted(DTYPES)))
    if not 1 <= ndim <= MAX_NDIM or reserved:
        raise WireError("tensor header: ndim %d (1..%d), reserved %d (0)" % (ndim, MAX_NDIM, reserved))
    offset = HEAD.size + 4 * ndim
    if len(view) < offset:
        raise WireError("tensor of %d bytes ends inside its shape" % len(view))
    shape = struct.unpack_from("<%dI" % ndim, view, HEAD.size)
    if 0 in shape:
        raise WireError("tensor shape %s has an empty dimension" % (shape,))
    dtype = DTYPES[code]
    expected = dtype.itemsize
    for dim in shape:
        expected *= dim
    if len(view) - offset != expected:
        raise WireError("tensor %s %s needs %d bytes of values, got %d"
                        % (dtype.name, shape, expected, len(view) - offset))
    return np.frombuffer(view, dtype=dtype, offset=offset).reshape(shape)
