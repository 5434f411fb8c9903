"""python3 -m jc_pipeline {generate,stage,pull,monolith,plan} -- see README.md."""

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

    pl = sub.add_parser("plan", help="print the blocks of every stage for a depth (JSON)")
    pl.add_argument("--depth", type=int, required=True)

    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required")
    if getattr(args, "cpu", -1) >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    try:
        return COMMANDS[args.command](args)
    except (wire.WireError, ops.PlanError, ValueError) as exc:
        sys.stderr.write("jc_pipeline: %s\n" % exc)
        return 2


def cmd_generate(args):
    print(wire.generate(args.out))
    return 0


def cmd_stage(args):
    from . import stage
    server_stage = stage.Stage(_stage_blocks(args), args.upstream or None, args.chunk_bytes, args.idle_timeout,
                               args.connect_timeout, args.timings or None, args.index,
                               pull_chunk_bytes=args.pull_chunk_bytes)
    server, port = stage.serve(server_stage, args.listen)
    sys.stdout.write("jc_pipeline stage %s listening on port %d\n" % (server_stage.name, port))
    sys.stdout.flush()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop(5).wait()
    return 0


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


COMMANDS = {"generate": cmd_generate, "stage": cmd_stage, "pull": cmd_pull, "monolith": cmd_monolith,
            "plan": cmd_plan}

if __name__ == "__main__":
    sys.exit(main())
