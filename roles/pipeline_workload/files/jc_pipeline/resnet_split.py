"""ResNet-50 split by layers into stages (torch, torchvision): build, run, measure.

Blocks and cuts: split_plan.py. A stage is an ``nn.Sequential`` of the unsplit model's own
modules (no copies: the same weights), so without the float16 wire the split gives exactly the
unsplit model's logits; with it (activations sent as float16 bytes, as between nodes) the
logits stay within a stated tolerance and the predictions are the same (tests:
tests/unit/roles/test_jc_resnet_split_torch.py).

    python3 -m jc_pipeline.resnet_split --cuts layer1,layer3 --batch 8 [--device cuda]
prints per-block seconds, bytes per image at every cut, the split's agreement with the unsplit
model, and the planner's choice for a link speed (JSON).
"""

import argparse
import json
import sys
import time

import numpy as np

from . import split_plan

# The agreement promised between the float16-wire split and the unsplit float32 model:
# |split - unsplit| <= LOGIT_ATOL + LOGIT_RTOL * max|unsplit| for every logit.
LOGIT_RTOL = 5e-3
LOGIT_ATOL = 1e-3


def block_modules(model):
    """The unsplit model's modules grouped into split_plan.BLOCKS (name -> list of modules)."""
    import torch

    return {
        "stem": [model.conv1, model.bn1, model.relu, model.maxpool],
        "layer1": [model.layer1], "layer2": [model.layer2], "layer3": [model.layer3], "layer4": [model.layer4],
        "head": [model.avgpool, torch.nn.Flatten(1), model.fc],
    }


def build_stages(model, ranges):
    """One ``nn.Sequential`` per range of blocks (split_plan.ranges_from_cuts / parse_placement)."""
    import torch

    groups = block_modules(model)
    covered = [b for blocks in ranges for b in blocks]
    if covered != list(split_plan.BLOCKS):
        raise split_plan.SplitError("stage ranges %s do not cover %s once, in order" % (ranges, split_plan.BLOCKS))
    return [torch.nn.Sequential(*[m for b in blocks for m in groups[b]]).eval() for blocks in ranges]


def to_wire(tensor):
    """An activation as the bytes that travel: float16, C order (shape travels beside it)."""
    return tensor.detach().to("cpu", dtype=__import__("torch").float16).contiguous().numpy().tobytes()


def from_wire(data, shape, device="cpu"):
    import torch

    array = np.frombuffer(data, dtype=np.float16).reshape(shape)
    return torch.from_numpy(array.copy()).to(device=device, dtype=torch.float32)


def run_split(stages, batch, wire=True):
    """The batch through every stage in turn; between stages the activation goes through
    float16 bytes when ``wire`` (as it would between nodes). Returns (logits, bytes per cut)."""
    import torch

    sent = []
    with torch.no_grad():
        x = batch
        for position, stage in enumerate(stages):
            x = stage(x)
            if position < len(stages) - 1:
                if wire:
                    data = to_wire(x)
                    sent.append(len(data))
                    x = from_wire(data, tuple(x.shape), device=batch.device)
                else:
                    sent.append(x.numel() * split_plan.WIRE_BYTES_PER_VALUE)
    return x, sent


def agreement(reference, split):
    """Largest |difference| of logits, the allowed one, and whether the top-1 classes are equal."""
    reference, split = reference.float().cpu(), split.float().cpu()
    worst = float((reference - split).abs().max())
    allowed = LOGIT_ATOL + LOGIT_RTOL * float(reference.abs().max())
    same_top1 = bool((reference.argmax(1) == split.argmax(1)).all())
    return {"max_abs_diff": worst, "allowed": allowed, "within": worst <= allowed, "same_top1": same_top1}


def time_blocks(model, batch, repeats=5):
    """Median seconds per image of every block (one synchronised forward each, after a warm-up)."""
    import torch

    groups = block_modules(model)
    seconds = dict((b, []) for b in split_plan.BLOCKS)
    sync = torch.cuda.synchronize if batch.is_cuda else (lambda: None)
    with torch.no_grad():
        for attempt in range(repeats + 1):
            x = batch
            for block in split_plan.BLOCKS:
                sync()
                start = time.perf_counter()
                for module in groups[block]:
                    x = module(x)
                sync()
                if attempt:
                    seconds[block].append((time.perf_counter() - start) / batch.shape[0])
    return dict((b, float(np.median(v))) for b, v in seconds.items())


def main(argv=None):
    import torch
    import torchvision

    parser = argparse.ArgumentParser(prog="python3 -m jc_pipeline.resnet_split", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", default="layer1,layer3", help="blocks to cut after (comma-separated)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--link-mbit", type=float, default=1000.0, help="link speed for the planner, Mbit/s")
    parser.add_argument("--stages", type=int, default=0, help="planner depth (default: as many as --cuts gives)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval().to(args.device)
    batch = torch.rand(args.batch, 3, args.size, args.size, device=args.device)
    ranges = split_plan.ranges_from_cuts([c for c in args.cuts.split(",") if c])
    stages = build_stages(model, ranges)
    with torch.no_grad():
        reference = model(batch)
    exact, _ = run_split(stages, batch, wire=False)
    wired, sent = run_split(stages, batch, wire=True)
    blocks = time_blocks(model, batch)
    cut_bytes = split_plan.output_bytes(args.size)
    depth = args.stages or len(ranges)
    chosen = split_plan.plan(blocks, cut_bytes, args.link_mbit * 1e6 / 8, depth)
    print(json.dumps({
        "torch": torch.__version__, "device": args.device, "batch": args.batch, "size": args.size,
        "ranges": [list(r) for r in ranges], "exact_equal": bool(torch.equal(reference, exact)),
        "float16_wire": agreement(reference, wired), "bytes_sent_per_cut": sent,
        "block_seconds_per_image": blocks, "cut_bytes_per_image": cut_bytes,
        "plan": {"link_mbit": args.link_mbit, "stages": depth, "cuts": chosen["cuts"],
                 "bound_fps": chosen["bound_fps"], "explanation": chosen["explanation"]},
    }, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
