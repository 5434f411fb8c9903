"""python3 -m jc_pipeline {generate,stage,pull,monolith,plan,split-stage,split-pull,split-plan} -- see README.md."""

import argparse
import json
import os
import signal
import sys
import threading

from . import metrics, ops, wire


def _stage_blocks(args):
    if args.blocks:
        return tuple(b.strip() for b in args.blocks.split(",") if b.strip())
    return ops.stage_blocks(args.depth, args.index)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="jc_pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    gen = sub.add_parser("generate", help="generate conv_pb2*.py with grpcio-tools")
    gen.add_argument("--out", default=wire.generated_dir())

    st = sub.add_parser("stage", help="serve one stage")
    st.add_argument("--depth", type=int, default=int(os.environ.get("JC_PIPELINE_DEPTH", "4")))
    st.add_argument("--index", type=int, default=int(os.environ.get("JC_PIPELINE_INDEX", "0")))
    st.add_argument("--blocks", default=os.environ.get("JC_PIPELINE_BLOCKS", ""),
                    help="comma-separated blocks instead of --depth/--index")
    st.add_argument("--listen", default=os.environ.get("JC_PIPELINE_LISTEN", "0.0.0.0:50051"))
    st.add_argument("--upstream", default=os.environ.get("JC_PIPELINE_UPSTREAM", ""))
    st.add_argument("--chunk-bytes", type=int, default=wire.DEFAULT_CHUNK_BYTES,
                    help="chunks for a client that asks for no size")
    st.add_argument("--pull-chunk-bytes", type=int, default=wire.MAX_CHUNK_BYTES,
                    help="ask upstream for chunks of this many bytes (default: whole images; 0: its default)")
    st.add_argument("--idle-timeout", type=float, default=30.0,
                    help="base seconds without upstream messages; stage i waits base * (1 + i/2)")
    st.add_argument("--connect-timeout", type=float, default=60.0)
    st.add_argument("--timings", default="", help="append per-image records (JSON lines) here")
    st.add_argument("--cpu", type=int, default=-1, help="pin this process to one CPU")

    for name, help_text in (("pull", "the sink: pull from the last stage and report"),
                            ("monolith", "the one-process baseline")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--key", required=True, help="<width>x<height>[,seed=N][,interval=S]")
        cmd.add_argument("--datacount", type=int, required=True)
        cmd.add_argument("--cpu", type=int, default=-1)
        if name == "pull":
            cmd.add_argument("--address", required=True)
            cmd.add_argument("--connect-timeout", type=float, default=60.0)
            # Longer than any stage's (stage.idle_timeout_for), so a stage reports a stall first.
            cmd.add_argument("--idle-timeout", type=float, default=300.0)
            cmd.add_argument("--pull-chunk-bytes", type=int, default=wire.MAX_CHUNK_BYTES,
                             help="ask upstream for chunks of this many bytes (default: whole images; 0: its default)")
        else:
            cmd.add_argument("--no-digest", action="store_true",
                             help="do not hash the outputs (the hashing would count in the monolith's time)")

    sp = sub.add_parser("split-stage", help="serve one stage of the ResNet-50 split (torch)")
    sp.add_argument("--placement", default=os.environ.get("JC_SPLIT_PLACEMENT", ""),
                    help="placement file (YAML or JSON, split_plan.parse_placement); stage --index of it")
    sp.add_argument("--cuts", default=os.environ.get("JC_SPLIT_CUTS", ""),
                    help="instead of --placement: cut after these blocks (comma-separated)")
    sp.add_argument("--index", type=int, default=int(os.environ.get("JC_PIPELINE_INDEX", "0")))
    sp.add_argument("--listen", default=os.environ.get("JC_PIPELINE_LISTEN", "0.0.0.0:50051"))
    sp.add_argument("--upstream", default=os.environ.get("JC_PIPELINE_UPSTREAM", ""))
    sp.add_argument("--device", default=os.environ.get("JC_SPLIT_DEVICE", "cpu"))
    sp.add_argument("--batch", type=int, default=int(os.environ.get("JC_SPLIT_BATCH", "8")),
                    help="images per stream item; the same for every stage and the sink")
    sp.add_argument("--seed", type=int, default=0, help="torch.manual_seed of the random weights")
    sp.add_argument("--weights", default=os.environ.get("JC_SPLIT_WEIGHTS", ""), help="a resnet50 state_dict file")
    sp.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    sp.add_argument("--input-cache-mb", type=int, default=0,
                    help="stage 0: keep input batches on the device between streams (benchmarks)")
    sp.add_argument("--chunk-bytes", type=int, default=wire.DEFAULT_CHUNK_BYTES)
    sp.add_argument("--pull-chunk-bytes", type=int, default=wire.MAX_CHUNK_BYTES)
    sp.add_argument("--idle-timeout", type=float, default=60.0)
    sp.add_argument("--connect-timeout", type=float, default=120.0)
    sp.add_argument("--timings", default="")
    sp.add_argument("--cpu", type=int, default=-1)

    spull = sub.add_parser("split-pull", help="the sink of the ResNet-50 split: pull logits and report")
    spull.add_argument("--address", required=True)
    spull.add_argument("--key", default="224x224", help="<width>x<height>[,seed=N][,interval=S]")
    spull.add_argument("--datacount", type=int, required=True, help="images")
    spull.add_argument("--batch", type=int, default=int(os.environ.get("JC_SPLIT_BATCH", "8")))
    spull.add_argument("--connect-timeout", type=float, default=120.0)
    spull.add_argument("--idle-timeout", type=float, default=600.0)
    spull.add_argument("--top1", action="store_true", help="keep every image's class in the report")
    spull.add_argument("--cpu", type=int, default=-1)

    spp = sub.add_parser("split-plan", help="time ResNet-50's blocks here and choose the split's cuts (JSON)")
    spp.add_argument("--stages", type=int, default=2)
    spp.add_argument("--batch", type=int, default=2, help="images per timed forward pass")
    spp.add_argument("--size", type=int, default=224)
    spp.add_argument("--repeats", type=int, default=1, help="timed passes after one warm-up pass")
    spp.add_argument("--device", default="cpu")
    spp.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    spp.add_argument("--link-mbit", type=float, default=1000.0, help="the link between the stages, Mbit/s")

    pl = sub.add_parser("plan", help="print the blocks of every stage for a depth (JSON)")
    pl.add_argument("--depth", type=int, required=True)

    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required")
    if getattr(args, "cpu", -1) >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    try:
        return COMMANDS[args.command](args)
    except (wire.WireError, ops.PlanError, ValueError, IOError) as exc:
        sys.stderr.write("jc_pipeline: %s\n" % exc)
        return 2


def cmd_generate(args):
    print(wire.generate(args.out))
    return 0


def _serve_until_signalled(server):
    """After the "listening on port" line (LocalChain and the runners wait for it): serve until
    SIGTERM or SIGINT, then stop, giving streams in flight 5 s."""
    sys.stdout.flush()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop(5).wait()
    return 0


def cmd_stage(args):
    from . import stage
    server_stage = stage.Stage(_stage_blocks(args), args.upstream or None, args.chunk_bytes, args.idle_timeout,
                               args.connect_timeout, args.timings or None, args.index,
                               pull_chunk_bytes=args.pull_chunk_bytes)
    server, port = stage.serve(server_stage, args.listen)
    sys.stdout.write("jc_pipeline stage %s listening on port %d\n" % (server_stage.name, port))
    return _serve_until_signalled(server)


def cmd_pull(args):
    from . import sink, stage
    try:
        report = sink.run(args.address, args.key, args.datacount, args.connect_timeout, args.idle_timeout,
                          chunk_bytes=args.pull_chunk_bytes)
    except stage.StageError as exc:
        sys.stderr.write("jc_pipeline: pipeline failed: %s\n" % exc)
        return 1
    print(metrics.to_json(report))
    return 0


def cmd_monolith(args):
    from . import monolith
    print(metrics.to_json(monolith.run(args.key, args.datacount, digest=not args.no_digest)))
    return 0


def cmd_plan(args):
    plan = [ops.stage_blocks(args.depth, i) for i in range(max(args.depth, 1))]
    print(json.dumps([{"index": i, "name": ops.stage_name(blocks), "blocks": list(blocks)}
                      for i, blocks in enumerate(plan)]))
    return 0


def split_blocks(placement, cuts, index):
    """The blocks of stage ``index`` from a placement file or a list of cuts; (blocks, host, depth)."""
    from . import split_plan
    if placement:
        with open(placement) as handle:
            text = handle.read()
        try:
            import yaml
            document = yaml.safe_load(text)
        except ImportError:
            document = json.loads(text)
        stages = split_plan.parse_placement(document)
    else:
        stages = [("", blocks) for blocks in split_plan.ranges_from_cuts([c for c in cuts.split(",") if c])]
    if not 0 <= index < len(stages):
        raise split_plan.SplitError("stage index %d: the placement has stages 0..%d" % (index, len(stages) - 1))
    return stages[index][1], stages[index][0], len(stages)


def cmd_split_stage(args):
    from . import split_stage, stage
    blocks, host, depth = split_blocks(args.placement, args.cuts, args.index)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    server_stage = split_stage.SplitStage(blocks, args.upstream or None, args.device, args.batch, args.seed,
                                          args.weights or None, args.index, args.chunk_bytes, args.idle_timeout,
                                          args.connect_timeout, args.timings or None, args.pull_chunk_bytes,
                                          input_cache_mb=args.input_cache_mb)
    server, port = stage.serve(server_stage, args.listen)
    sys.stdout.write("jc_pipeline split stage %d/%d %s (%s) on %s listening on port %d\n"
                     % (args.index, depth, server_stage.name, host or "-", args.device, port))
    return _serve_until_signalled(server)


def cmd_split_pull(args):
    from . import split_stage, stage
    try:
        report = split_stage.pull(args.address, args.key, args.datacount, args.batch, args.connect_timeout,
                                  args.idle_timeout)
    except stage.StageError as exc:
        sys.stderr.write("jc_pipeline: pipeline failed: %s\n" % exc)
        return 1
    if not args.top1:
        report.pop("top1")
    print(metrics.to_json(report))
    return 0


def cmd_split_plan(args):
    """The planner on this node: seconds per image of every block measured here (random weights,
    the stages' model), then split_plan.plan's cuts for --stages over a --link-mbit link; one JSON
    line {kind, stages, cuts, ranges, bound_fps, explanation, block_seconds_per_image,
    cut_bytes_per_image, link_mbit, batch, size}."""
    import torch
    import torchvision

    from . import resnet_split, split_plan  # not split_stage: the planner needs no gRPC
    if args.batch < 1 or args.repeats < 1 or not args.link_mbit > 0:
        raise ValueError("--batch and --repeats must be >= 1 and --link-mbit positive")
    if args.threads:
        torch.set_num_threads(args.threads)
    cut_bytes = split_plan.output_bytes(args.size)
    torch.manual_seed(0)  # the stages' random weights (split_stage.build_model); times do not depend on them
    model = torchvision.models.resnet50().eval().to(args.device)
    batch = torch.rand(args.batch, 3, args.size, args.size, device=args.device)
    blocks = resnet_split.time_blocks(model, batch, repeats=args.repeats)
    chosen = split_plan.plan(blocks, cut_bytes, args.link_mbit * 1e6 / 8.0, args.stages)
    print(json.dumps({"kind": "resnet_split_plan", "stages": args.stages, "cuts": chosen["cuts"],
                      "ranges": chosen["ranges"], "bound_fps": chosen["bound_fps"],
                      "explanation": chosen["explanation"], "block_seconds_per_image": blocks,
                      "cut_bytes_per_image": cut_bytes, "link_mbit": args.link_mbit, "batch": args.batch,
                      "size": args.size}, sort_keys=True))
    return 0


COMMANDS = {"generate": cmd_generate, "stage": cmd_stage, "pull": cmd_pull, "monolith": cmd_monolith,
            "plan": cmd_plan,
            "split-stage": cmd_split_stage, "split-pull": cmd_split_pull, "split-plan": cmd_split_plan}

if __name__ == "__main__":
    sys.exit(main())
