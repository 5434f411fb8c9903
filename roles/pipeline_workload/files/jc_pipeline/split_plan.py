"""ResNet-50 cut into consecutive blocks, one range of blocks per stage: the placement file and
the planner that chooses the cuts. Pure Python (no torch): resnet_split.py runs the stages.

The blocks, in order (torchvision's resnet50 children, grouped):
  stem   = conv1, bn1, relu, maxpool      out  64 x 56 x 56 at 224 x 224 input
  layer1 .. layer4 (the bottleneck groups) out 256x56x56, 512x28x28, 1024x14x14, 2048x7x7
  head   = avgpool, flatten, fc            out 1000 logits
A cut goes after a block; what crosses it is that block's output, sent as float16 bytes
(2 bytes per value, per image of the batch).

The placement (a small YAML/JSON document, as PipeEdge writes its partitions as layer ranges
per host):
    stages:
      - {host: jetson-1, layers: [stem, layer1]}
      - {host: jetson-2, layers: [layer2, layer3]}
      - {host: gateway, layers: [layer4, head]}
``layers`` is [first, last] (inclusive; one name for one block); the ranges must cover every
block once, in order.

The planner (``plan``) takes measured seconds per block and image, bytes per image crossing each
possible cut and the link's bytes per second, and picks the cuts that make the slowest stage
fastest: a stage's time per image is its blocks' compute plus sending its output (the last
stage sends only logits) plus receiving its input (on a shared link both ends pay the
transfer; ``receive_costs=False`` when the network card moves the bytes off the stage's
compute). Exhaustive over contiguous partitions (ResNet-50 has 6 blocks: at most 10 choices per
depth), so the explanation can list every alternative's bound.
"""

import itertools

BLOCKS = ("stem", "layer1", "layer2", "layer3", "layer4", "head")
# Values per image at the output of each block for a 224 x 224 RGB input.
OUTPUT_VALUES_224 = {"stem": 64 * 56 * 56, "layer1": 256 * 56 * 56, "layer2": 512 * 28 * 28,
                     "layer3": 1024 * 14 * 14, "layer4": 2048 * 7 * 7, "head": 1000}
WIRE_BYTES_PER_VALUE = 2  # float16


class SplitError(ValueError):
    """A placement or a plan request that cannot work; the message says why."""


def output_bytes(size=224, batch=1):
    """Bytes crossing a cut after each block (float16), for ``batch`` images of size x size.

    Spatial sizes scale with the input: stem and layer1 at size/4, then /8, /16, /32."""
    if size < 32 or size % 32:
        raise SplitError("input size must be a multiple of 32, at least 32, not %r" % (size,))
    scale = (size // 32) ** 2 / 49.0
    out = {}
    for block, values in OUTPUT_VALUES_224.items():
        out[block] = int(round(values * (scale if block != "head" else 1.0))) * WIRE_BYTES_PER_VALUE * batch
    return out


def ranges_from_cuts(cuts):
    """Cuts after the named blocks -> the blocks of every stage: ["layer1", "layer3"] ->
    [(stem, layer1), (layer2, layer3), (layer4, head)]."""
    positions = []
    for cut in cuts:
        if cut not in BLOCKS[:-1]:
            raise SplitError("cannot cut after %r: cuts go after one of %s" % (cut, list(BLOCKS[:-1])))
        positions.append(BLOCKS.index(cut) + 1)
    if positions != sorted(set(positions)):
        raise SplitError("cuts %s are not distinct and in network order" % (list(cuts),))
    bounds = [0] + positions + [len(BLOCKS)]
    return [BLOCKS[a:b] for a, b in zip(bounds, bounds[1:])]


def parse_placement(document):
    """The placement document (a dict, from YAML or JSON) -> [(host, blocks)] in chain order."""
    if not isinstance(document, dict) or not isinstance(document.get("stages"), list) or not document["stages"]:
        raise SplitError("a placement is a mapping with a non-empty list 'stages'")
    stages, expected = [], 0
    for position, entry in enumerate(document["stages"]):
        if not isinstance(entry, dict) or set(entry) != {"host", "layers"}:
            raise SplitError("stage %d: needs exactly 'host' and 'layers', got %r" % (position, entry))
        host, layers = entry["host"], entry["layers"]
        if not isinstance(host, str) or not host:
            raise SplitError("stage %d: host must be a name, not %r" % (position, host))
        if isinstance(layers, str):
            layers = [layers]
        if not isinstance(layers, list) or not 1 <= len(layers) <= 2 or any(b not in BLOCKS for b in layers):
            raise SplitError("stage %d: layers must be [first, last] of %s, not %r" % (position, list(BLOCKS), layers))
        first, last = BLOCKS.index(layers[0]), BLOCKS.index(layers[-1])
        if first != expected or last < first:
            raise SplitError("stage %d: layers %r do not start at %s (the ranges must cover every block once, "
                             "in order)" % (position, layers, BLOCKS[expected] if expected < len(BLOCKS) else "the end"))
        stages.append((host, BLOCKS[first:last + 1]))
        expected = last + 1
    if expected != len(BLOCKS):
        raise SplitError("the stages end at %s; %s are not placed" % (BLOCKS[expected - 1], list(BLOCKS[expected:])))
    return stages


def stage_times(ranges, block_seconds, cut_bytes, link_bytes_per_s, receive_costs=True):
    """Per stage: compute, send and receive seconds per image, and their sum (its service time)."""
    out = []
    for position, blocks in enumerate(ranges):
        compute = sum(block_seconds[b] for b in blocks)
        send = cut_bytes[blocks[-1]] / float(link_bytes_per_s) if position < len(ranges) - 1 else 0.0
        receive = (cut_bytes[ranges[position - 1][-1]] / float(link_bytes_per_s)
                   if position and receive_costs else 0.0)
        out.append({"blocks": list(blocks), "compute": compute, "send": send, "receive": receive,
                    "service": compute + send + receive})
    return out


def plan(block_seconds, cut_bytes, link_bytes_per_s, stages, receive_costs=True):
    """The cuts into ``stages`` ranges whose slowest stage is fastest, with every alternative.

    Returns {cuts, ranges, stage_times, bound_fps (images/s), transfer_bytes (per image, all
    cuts), alternatives: [(cuts, bound_fps)] best first, explanation}."""
    missing = [b for b in BLOCKS if b not in block_seconds or b not in cut_bytes]
    if missing:
        raise SplitError("block times and cut sizes are needed for every block; missing %s" % missing)
    if not 1 <= stages <= len(BLOCKS):
        raise SplitError("stages must be 1..%d, not %r" % (len(BLOCKS), stages))
    if not link_bytes_per_s > 0:
        raise SplitError("the link speed must be positive bytes/s, not %r" % (link_bytes_per_s,))
    options = []
    for cuts in itertools.combinations(BLOCKS[:-1], stages - 1):
        ranges = ranges_from_cuts(cuts)
        times = stage_times(ranges, block_seconds, cut_bytes, link_bytes_per_s, receive_costs)
        slowest = max(t["service"] for t in times)
        options.append((slowest, list(cuts), ranges, times))
    options.sort(key=lambda item: (item[0], sum(cut_bytes[c] for c in item[1])))
    slowest, cuts, ranges, times = options[0]
    total = sum(block_seconds[b] for b in BLOCKS)
    worst = max(times, key=lambda t: t["service"])
    explanation = (
        "cut after %s: the slowest stage (%s) needs %.2f ms per image (compute %.2f, send %.2f, receive %.2f) "
        "-> at most %.1f images/s, %.2fx one node's %.1f; %d bytes per image cross the links; "
        "next best: %s" % (
            ", ".join(cuts) or "nothing", "+".join(worst["blocks"]), 1000 * worst["service"],
            1000 * worst["compute"], 1000 * worst["send"], 1000 * worst["receive"], 1.0 / slowest,
            total / slowest, 1.0 / total, sum(cut_bytes[c] for c in cuts),
            "; ".join("after %s %.1f/s" % (",".join(o[1]) or "nothing", 1.0 / o[0]) for o in options[1:3]) or "none"))
    return {"cuts": cuts, "ranges": [list(r) for r in ranges], "stage_times": times, "bound_fps": 1.0 / slowest,
            "transfer_bytes": sum(cut_bytes[c] for c in cuts),
            "alternatives": [(o[1], 1.0 / o[0]) for o in options], "explanation": explanation}
