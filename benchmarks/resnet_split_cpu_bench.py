#!/usr/bin/env python3
"""Workload III's ResNet-50 split as gRPC stages, each in its own container, against workload I's
data parallelism (jc_infer, the Indexed Job's program) in one and two containers of the same kind,
on the CPU of this machine (issue 13; results in docs/benchmarks.md).

Every container runs the same image (Debian bookworm's CPU torch 1.13 / torchvision 0.14 with
Debian's grpcio 1.51: tests/helpers/torch_image.py, the image the split's integration tests use),
the checkout mounted read-only, with ``--cpus CPUS`` (default 1) and one torch thread
(OMP_NUM_THREADS=1, split-stage --threads 1), ResNet-50 with random weights, fp32, 224 x 224:

  jc_infer1  one jc_infer container, WORKLOAD_MODE=synthetic, TOTAL_JOBS=1
  jc_infer2  two jc_infer containers at once (JOB_COMPLETION_INDEX=0/1, TOTAL_JOBS=2), each
             --images; images/s summed (the Indexed Job's data parallelism on two "nodes")
  chain1     the split machinery with one stage (the whole model in one split-stage container):
             the unsplit model on the split's own code path
  split2     2 split-stage containers, cut chosen by split_plan.plan from block times measured
             in this image, activations float16 over gRPC across a Docker network
  split3     3 split-stage containers, the same (3 containers of --cpus 1 on this 2-core machine)
  layout     one container: the model's seconds per image in torch's default layout (the split's)
             and in channels_last (jc_infer's), same batch and thread

The chains' sink (split-pull) runs in one more container (no CPU limit; it decodes 4 KB of
logits per image) by ``docker exec``; each chain streams one untimed warm-up stream, then
--repeats timed ones (fps between the first and the last batch's arrival). jc_infer's fps is its
own timed window after its warm-up. Every split-pull JSON line is kept as it came
(splitpull_<variant>_<n>.json) for the report renderer's fixture.

    python3 benchmarks/resnet_split_cpu_bench.py --out DIR [--images 16 --batch 4 --repeats 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "helpers"))

NET = "jc-split-bench"
PREFIX = "jc-split-bench-"
PY = "/src/roles/pipeline_workload/files"
GEN = "python3 -m jc_pipeline generate --out /tmp/gen >/dev/null && "


def log(text):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def docker(*args, check=True, timeout=1800):
    proc = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode:
        raise RuntimeError("docker %s: exit %d: %s" % (" ".join(args[:3]), proc.returncode, proc.stderr[-3000:]))
    return proc


def run_args(name, cpus, env=()):
    out = ["run", "--name", PREFIX + name, "--network", NET, "-v", "%s:/src:ro" % ROOT, "-w", "/src",
           "-e", "PYTHONDONTWRITEBYTECODE=1", "-e", "PYTHONUNBUFFERED=1", "-e", "OMP_NUM_THREADS=1",
           "-e", "PYTHONPATH=%s:/src/roles/gpu_workloads/files" % PY, "-e", "JC_PIPELINE_GENERATED=/tmp/gen"]
    if cpus:
        out += ["--cpus", str(cpus)]
    for item in env:
        out += ["-e", item]
    return out


def cleanup():
    names = docker("ps", "-aq", "--filter", "name=" + PREFIX, check=False).stdout.split()
    if names:
        docker("rm", "-f", *names, check=False)


def measure_blocks(image, args):
    """Per-block seconds per image in this image, one thread, --cpus; the planner's cuts."""
    script = (
        "import json, torch; torch.set_num_threads(1)\n"
        "from jc_pipeline import resnet_split, split_plan, split_stage\n"
        "m = split_stage.build_model(0); x = torch.rand(%d, 3, %d, %d)\n"
        "blocks = resnet_split.time_blocks(m, x, repeats=1)\n"
        "cut = split_plan.output_bytes(%d)\n"
        "plans = dict((n, split_plan.plan(blocks, cut, %r, n)) for n in (2, 3))\n"
        "print(json.dumps({'block_seconds_per_image': blocks, 'cut_bytes_per_image': cut, 'plans': dict((n, "
        "{'cuts': p['cuts'], 'bound_fps': p['bound_fps'], 'explanation': p['explanation']}) for n, p in "
        "plans.items())}))\n" % (args.batch, args.size, args.size, args.size, args.link_gbyte * 1e9))
    proc = docker(*(run_args("blocks", args.cpus) + ["--rm", image, "python3", "-c", script]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def chain_variant(image, args, label, cuts, out_dir):
    depth = len(cuts) + 1
    key = "%dx%d,seed=1" % (args.size, args.size)
    try:
        for i in range(depth):
            cmd = ("python3 -m jc_pipeline split-stage --cuts '%s' --index %d --listen 0.0.0.0:50051 --batch %d "
                   "--threads 1 --input-cache-mb 512 --idle-timeout 600 %s"
                   % (",".join(cuts), i, args.batch, ("--upstream %s%s-%d:50051" % (PREFIX, label, i - 1)) if i else ""))
            docker(*(run_args("%s-%d" % (label, i), args.cpus) + ["-d", image, "sh", "-c", GEN + "exec " + cmd]))
        docker(*(run_args("%s-sink" % label, None) + ["-d", image, "sh", "-c", GEN + "exec sleep 36000"]))
        pull = ["exec", PREFIX + label + "-sink", "python3", "-m", "jc_pipeline", "split-pull", "--address",
                "%s%s-%d:50051" % (PREFIX, label, depth - 1), "--key", key, "--datacount", str(args.images),
                "--batch", str(args.batch)]
        time.sleep(3)
        started = time.time()
        docker(*pull)
        log("%s warm-up stream %.1f s" % (label, time.time() - started))
        runs = []
        for repeat in range(args.repeats):
            load = os.getloadavg()[0]
            proc = docker(*pull)
            line = proc.stdout.strip().splitlines()[-1]
            with open(os.path.join(out_dir, "splitpull_%s_%d.json" % (label, repeat)), "w") as handle:
                handle.write(line + "\n")
            report = json.loads(line)
            log("%s run %d: %.3f img/s, bound %.3f, slowest %s (load %.1f)"
                % (label, repeat, report["fps"], report["bound_fps"], report["slowest_stage"], load))
            runs.append({"fps": report["fps"], "load_before": load, "report": report})
    finally:
        cleanup()
    return {"fps": statistics.median(r["fps"] for r in runs), "cuts": list(cuts), "runs": runs}


def infer_variant(image, args, label, containers):
    runs = []
    for repeat in range(args.repeats):
        load = os.getloadavg()[0]
        names = []
        try:
            for index in range(containers):
                name = "%s-%d" % (label, index)
                env = ["WORKLOAD_MODE=synthetic", "JOB_COMPLETION_INDEX=%d" % index, "TOTAL_JOBS=%d" % containers,
                       "TOTAL_IMAGES=%d" % (args.images * containers), "BATCH_SIZE=%d" % args.batch,
                       "DEVICE=cpu", "PRECISION=fp32", "WARMUP_BATCHES=1"]
                docker(*(run_args(name, args.cpus, env) + ["-d", image, "python3", "-m", "jc_infer"]))
                names.append(PREFIX + name)
            results = []
            for name in names:
                code = docker("wait", name).stdout.strip()
                logs = docker("logs", name)
                lines = [ln for ln in logs.stdout.splitlines() if ln.startswith("{")]
                if code != "0" or not lines:
                    raise RuntimeError("%s: exit %s: %s" % (name, code, logs.stderr[-2000:]))
                results.append(json.loads(lines[-1]))
                with open(os.path.join(args.out, "dataparallel_%s_%d.json" % (label, repeat)), "a") as handle:
                    handle.write(lines[-1] + "\n")
        finally:
            cleanup()
        total = sum(r["throughput"] for r in results)
        log("%s run %d: %.3f img/s (%s) (load %.1f)" % (label, repeat, total,
                                                      ", ".join("%.3f" % r["throughput"] for r in results), load))
        runs.append({"fps": total, "load_before": load, "processes": results})
    return {"fps": statistics.median(r["fps"] for r in runs), "runs": runs}


def report_dir(out, results):
    """<out>/split/ as the benchmark report reads it (jc_report.load_split): split-pull.log (every
    timed stream's split-pull line, as printed), dataparallel.log (every jc_infer result line, as
    printed) and meta.json."""
    folder = os.path.join(out, "split")
    names = sorted(os.listdir(out))
    if not any(n.startswith("splitpull_") for n in names):
        return
    os.makedirs(folder, exist_ok=True)
    for target, prefix in (("split-pull.log", "splitpull_"), ("dataparallel.log", "dataparallel_")):
        with open(os.path.join(folder, target), "w") as handle:
            for name in names:
                if name.startswith(prefix) and name.endswith(".json"):
                    with open(os.path.join(out, name)) as source:
                        handle.write(source.read())
    with open(os.path.join(folder, "meta.json"), "w") as handle:
        json.dump({"machine_cpus": results.get("cpus_online"), "container_cpus": results["args"]["cpus"],
                   "where": "in containers of one machine (benchmarks/resnet_split_cpu_bench.py)"}, handle)


def layout_variant(image, args):
    """jc_infer runs the model in channels_last; the split stages in torch's default layout. The
    same model, batch and thread in both layouts, seconds per image (median of --repeats)."""
    script = (
        "import json, time, torch; torch.set_num_threads(1)\n"
        "from jc_pipeline import split_stage\n"
        "m = split_stage.build_model(0); x = torch.rand(%d, 3, %d, %d); out = {}\n"
        "for name, fmt in (('contiguous', torch.contiguous_format), ('channels_last', torch.channels_last)):\n"
        "    mm, xx = m.to(memory_format=fmt), x.contiguous(memory_format=fmt); times = []\n"
        "    with torch.no_grad():\n"
        "        for i in range(%d + 1):\n"
        "            t = time.perf_counter(); mm(xx); times.append((time.perf_counter() - t) / xx.shape[0])\n"
        "    out[name] = sorted(times[1:])[len(times[1:]) // 2]\n"
        "print(json.dumps(out))\n" % (args.batch, args.size, args.size, args.repeats))
    proc = docker(*(run_args("layout", args.cpus) + ["--rm", image, "python3", "-c", script]))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    log("layout: seconds per image %s" % result)
    return {"fps": 1.0 / result["contiguous"], "seconds_per_image": result}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--images", type=int, default=16, help="images per stream / per jc_infer container")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=float, default=1.0, help="docker --cpus of every stage / jc_infer container")
    parser.add_argument("--link-gbyte", type=float, default=1.0, help="link GB/s for the planner")
    parser.add_argument("--variants", default="jc_infer1,jc_infer2,chain1,split2,split3,layout")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    from torch_image import GRPC_PACKAGES, torch_image

    image = torch_image(GRPC_PACKAGES)
    cleanup()
    docker("network", "rm", NET, check=False)
    docker("network", "create", NET)
    results = {"args": vars(args), "image": image, "cpus_online": os.cpu_count(),
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    variants = {}

    def save():
        results["variants"] = variants
        with open(os.path.join(args.out, "resnet_split_cpu.json"), "w") as handle:
            json.dump(results, handle, indent=1, sort_keys=True)

    try:
        results["plan"] = measure_blocks(image, args)
        for n in ("2", "3"):
            log("plan %s stages: %s" % (n, results["plan"]["plans"][n]["explanation"]))
        for name in args.variants.split(","):
            log("variant %s" % name)
            if name == "jc_infer1":
                variants[name] = infer_variant(image, args, name, 1)
            elif name == "jc_infer2":
                variants[name] = infer_variant(image, args, name, 2)
            elif name == "chain1":
                variants[name] = chain_variant(image, args, name, [], args.out)
            elif name == "layout":
                variants[name] = layout_variant(image, args)
            elif name in ("split2", "split3"):
                variants[name] = chain_variant(image, args, name, results["plan"]["plans"][name[-1]]["cuts"],
                                               args.out)
            else:
                raise SystemExit("unknown variant %r" % name)
            save()
    finally:
        cleanup()
        docker("network", "rm", NET, check=False)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save()
    report_dir(args.out, results)
    print(json.dumps(dict((k, v["fps"]) for k, v in variants.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
