"""The maths, one source for the stages and the monolith.

Pixel layout: one channel, float32 little-endian, row-major (C order), ``height`` rows of
``width`` pixels. The producer's image ``index`` of a stream is uniform in [0, 1), drawn by
numpy's PCG64 generator seeded with ``(seed, index)``, so every stage and the monolith see the
same pixels without sending them around.

Blocks, in order:
- ``produce``: make the image (above).
- ``conv``: 2-D cross-correlation with ``KERNEL`` (3x3 Laplacian, symmetric, so it equals
  convolution), zero padding, same size out, all in float32 in a fixed order, so every process
  computes the same bits. A 3x3 kernel whose eight outer taps are equal (the Laplacian: -1,
  centre 8) is ``outer * box3x3(x) + (centre - outer) * x`` (for the Laplacian ``9x - box``),
  the box sum separable: three-tap row sums, then three-tap column sums of those (5 passes
  over the image instead of 11). Other kernels: taps of equal weight summed, then scaled,
  groups added in order of first appearance.
- ``relu``: max(x, 0), in place when the image is writable.
- ``pool``: 2x2 max pooling, stride 2; an odd last row/column is dropped
  (out: height // 2 x width // 2): the max of row pairs (contiguous rows), then of column pairs.

Depths: which blocks each stage runs (``PLANS``). The producer always stays alone, the
cheapest blocks (ReLU, maxpool) merge first.
"""

import threading

import numpy as np

DTYPE = np.dtype("<f4")

KERNEL = np.array([[-1.0, -1.0, -1.0],
                   [-1.0, 8.0, -1.0],
                   [-1.0, -1.0, -1.0]], dtype=DTYPE)

BLOCKS = ("produce", "conv", "relu", "pool")

PLANS = {
    2: (("produce",), ("conv", "relu", "pool")),
    3: (("produce",), ("conv",), ("relu", "pool")),
    4: (("produce",), ("conv",), ("relu",), ("pool",)),
}


class PlanError(ValueError):
    """A depth or stage index that no plan has."""


def stage_blocks(depth, index):
    """The blocks stage ``index`` (0 = producer) of a ``depth``-stage chain runs."""
    if depth not in PLANS:
        raise PlanError("depth must be one of %s, not %r" % (sorted(PLANS), depth))
    if not 0 <= index < depth:
        raise PlanError("stage index must be 0..%d for depth %d, not %r" % (depth - 1, depth, index))
    return PLANS[depth][index]


def stage_name(blocks):
    """A readable name for a stage (``producer``, ``conv``, ``relu-pool``)."""
    return "-".join("producer" if block == "produce" else block for block in blocks)


def produce(width, height, seed, index):
    rng = np.random.Generator(np.random.PCG64([seed, index]))
    return rng.random((height, width), dtype=np.float32)


def _box_plus_centre(kernel):
    """(outer, centre) when ``kernel`` is 3x3 with eight equal outer taps, else None."""
    if kernel.shape != (3, 3):
        return None
    outer = kernel[0, 0]
    ring = np.array(kernel, copy=True)
    ring[1, 1] = outer
    return (outer, kernel[1, 1]) if (ring == outer).all() else None


_SCRATCH = threading.local()


def _scratch(height, width):
    """This thread's work arrays for the box path (padded image, row sums, box sums), kept
    between calls of one size: no fresh pages to fault in for every image."""
    cached = getattr(_SCRATCH, "arrays", None)
    if cached is None or cached[0].shape != (height + 2, width + 2):
        padded = np.zeros((height + 2, width + 2), dtype=DTYPE)
        cached = (padded, np.empty((height + 2, width), dtype=DTYPE), np.empty((height, width), dtype=DTYPE))
        _SCRATCH.arrays = cached
    return cached


def conv(image, kernel=KERNEL):
    height, width = image.shape
    ky, kx = kernel.shape
    split = _box_plus_centre(kernel)
    if split is not None:
        outer, centre = (DTYPE.type(v) for v in split)
        padded, rows, box = _scratch(height, width)
        padded[1:height + 1, 1:width + 1] = image  # the border stays zero
        np.add(padded[:, 0:width], padded[:, 1:width + 1], out=rows)
        rows += padded[:, 2:width + 2]
        np.add(rows[0:height], rows[1:height + 1], out=box)
        box += rows[2:height + 2]
        out = np.multiply(padded[1:height + 1, 1:width + 1], centre - outer)
        if outer == -1:
            out -= box
        elif outer != 0:
            box *= outer
            out += box
        return out
    padded = np.zeros((height + ky - 1, width + kx - 1), dtype=DTYPE)
    padded[ky // 2:ky // 2 + height, kx // 2:kx // 2 + width] = image
    # Taps with the same weight are summed first and multiplied once (the Laplacian: eight
    # -1 taps and one 8): fewer passes over the image than one multiply-add per tap.
    groups = []
    for dy in range(ky):
        for dx in range(kx):
            weight = kernel[dy, dx]
            if weight == 0:
                continue
            for group in groups:
                if group[0] == weight:
                    group[1].append((dy, dx))
                    break
            else:
                groups.append((weight, [(dy, dx)]))
    out = None
    for weight, taps in groups:
        (dy, dx), rest = taps[0], taps[1:]
        acc = padded[dy:dy + height, dx:dx + width].copy()
        for dy, dx in rest:
            acc += padded[dy:dy + height, dx:dx + width]
        if weight != 1:
            acc *= weight
        if out is None:
            out = acc
        else:
            out += acc
    return out if out is not None else np.zeros((height, width), dtype=DTYPE)


def relu(image):
    return np.maximum(image, DTYPE.type(0), out=image if image.flags.writeable else None)


def pool(image):
    rows, cols = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    pairs = np.maximum(image[0:rows:2, 0:cols], image[1:rows:2, 0:cols])
    return np.maximum(pairs[:, 0::2], pairs[:, 1::2])


APPLY = {"conv": conv, "relu": relu, "pool": pool}


def apply(blocks, image):
    """Run the non-producing ``blocks`` on ``image`` in order."""
    for block in blocks:
        image = APPLY[block](image)
    return image
