#!/usr/bin/env python3
"""Regenerate the tables and the plot of docs/benchmarks.md from benchmarks/results/*.json.

    python benchmarks/report.py            # rewrites the part between the markers, and the PNG

Each results file is what benchmarks/gpu_bench.py wrote on the GPU machine (see device_run.sh).
The text around the markers (what bounds each mode, and why) is written by hand from these numbers.
"""

import glob
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
PLOT = os.path.join(ROOT, "docs", "benchmarks.png")
BEGIN, END = "<!-- report.py: begin -->", "<!-- report.py: end -->"
STARTUP_RUN = os.path.join(RESULTS, "startup_h200x2_run4", "results.json")  # startup_bench.py, issue 15
STARTUP_PLOT = os.path.join(ROOT, "docs", "startup_time_to_result.png")
# The model path jc_infer runs by default (eager fp16, channels_last, its own stream) at its batch.
CEILING_KEY = "jc_eager_fp16_b256"

E2E_LABELS = {
    "gpu_decode_b256_inprocess": "nvJPEG in-process (run 3; the default since run 3)",
    "gpu_decode_b256_nohelpers": "nvJPEG in-process (run 2)",
    "gpu_decode_b256": "nvJPEG, jc_infer default of that run",
    "gpu_decode_b256_graphs": "as the default of that run + the model as a CUDA graph (CUDA_GRAPHS=on; jc_infer's default since run 7)",
    "gpu_decode_b512": "as the default of that run, batch 512",
    "gpu_decode_b128": "as the default of that run, batch 128",
    "gpu_decode_b256_nographs": "nvJPEG in-process, no CUDA graph (run 1)",
    "gpu_decode_b256_conn8": "as the default, with CUDA's default of 8 hardware queues (CUDA_DEVICE_MAX_CONNECTIONS=8)",
    "cpu_decode_b256": "CPU decode, 15 Pillow workers (10,000 images)",
    "synthetic_b256": "synthetic (random tensors on the GPU)",
    "synthetic_b256_graphs": "synthetic, the model as a CUDA graph (CUDA_GRAPHS=on)",
    "nvimgcodec_b256": "nvImageCodec (hardware JPEG decoder first, hybrid fallback) in-process",
    "nvimgcodec_badfiles": "nvImageCodec on 60 good + 5 bad files, batch 32 (error accounting)",
}
RUN_DEFAULTS = {  # what "gpu_decode_b256" meant in each run (the program changed between runs)
    "h100_x1_run1": "nvJPEG in-process, model on the default stream, CUDA graph, BatchNorm folded",
    "h100_x1_run2": "nvJPEG in-process + 12 CPU helper processes, model on its own stream",
    "h100_x1_run3": "nvJPEG in a separate decode process (CUDA IPC), model on its own stream",
    "h100_x1_run4_hw": "nvJPEG in-process, model on its own stream",
    "h100_x1_run5": "nvJPEG in-process, model on its own stream, CUDA_DEVICE_MAX_CONNECTIONS=32, short last batch not padded",
    "h100_x1_run6": "as run 5 + the short last batch padded to the full batch size",
    "h100_x1_run7": "as run 6 (model eager: CUDA_GRAPHS=auto meant off until run 7)",
}


def load():
    runs = {}
    for path in sorted(glob.glob(os.path.join(RESULTS, "*.json"))):
        with open(path) as handle:
            runs[os.path.splitext(os.path.basename(path))[0]] = json.load(handle)
    return runs


def med(values):
    return statistics.median(values) if values else float("nan")


def fmt(x, digits=0):
    return ("{:,.%df}" % digits).format(x)


def ceiling_for(label, run, default):
    """The model-only measurement an e2e variant is compared with: jc_infer's model path at the
    variant's batch size, as a CUDA graph when the variant used one; the default ceiling otherwise."""
    ceilings = run.get("micro", {}).get("ceiling", {})
    batch = next((part[1:] for part in label.split("_") if part[:1] == "b" and part[1:].isdigit()), "256")
    key = "jc_%s_fp16_b%s" % ("graph" if "graphs" in label.split("_") else "eager", batch)
    if key in ceilings:
        return key, ceilings[key]
    return CEILING_KEY, default


def tables(runs):
    out = []
    last = runs[sorted(runs)[-1]]
    env = last["env"]
    smi = env["nvidia_smi"].splitlines()[1].split(", ") if "\n" in env["nvidia_smi"] else []
    out.append("### Machine and versions\n")
    out.append("| | |\n| --- | --- |")
    out.append("| GPU | %s (driver %s, %s) |" % (", ".join(env["gpu_names"]), smi[2] if len(smi) > 2 else "?",
                                                smi[3] if len(smi) > 3 else "?"))
    out.append("| CPU | %d cores, %s |" % (env["cpus"], env["cpu_model"].split(":")[-1].strip()))
    out.append("| software | Python %s, torch %s, torchvision %s, CUDA runtime %s, cuDNN %s |"
               % (env["python"], env["torch"], env["torchvision"], env["cuda_runtime"], env["cudnn"]))
    out.append("| DALI | %s |" % env["dali"])
    ds = last["dataset"]
    out.append("| dataset | %s unique synthetic JPEGs, %dx%d, quality %d, %.1f KB mean; timed sets: %s files "
               "(%d hard-linked copies of each), warm page cache |" % (
                   fmt(ds["unique_images"]), ds["width"], ds["height"], ds["quality"], ds["mean_bytes"] / 1e3,
                   fmt(ds["view_images"]), ds["replicas"]))
    out.append("| runs | %s |" % ", ".join("%s (%s)" % (k, runs[k]["env"]["date"]) for k in sorted(runs)))
    out.append("")

    out.append("### Model only (device-resident random input, median img/s)\n")
    keys = sorted(set(k for r in runs.values() for k in r.get("micro", {}).get("ceiling", {})))
    out.append("| variant | " + " | ".join(sorted(runs)) + " |")
    out.append("| --- |" + " ---: |" * len(runs))
    for key in keys:
        cells = []
        for name in sorted(runs):
            c = runs[name].get("micro", {}).get("ceiling", {}).get(key)
            cells.append(fmt(c["median"]) if c else "")
        out.append("| `%s` | %s |" % (key, " | ".join(cells)))
    out.append("")

    out.append("### End to end, from JPEG files to predictions (jc_infer processes, median of the runs)\n")
    out.append("| run | mode | img/s (median) | samples | % of ceiling | warm-up s | start-up s |")
    out.append("| --- | --- | ---: | --- | ---: | ---: | ---: |")
    for name in sorted(runs):
        r = runs[name]
        ceiling = r.get("micro", {}).get("ceiling", {}).get(CEILING_KEY) or \
            r.get("micro", {}).get("ceiling", {}).get("eager_fp16_b256")
        ref = r.get("micro", {}).get("reference_loop")
        if ref:
            out.append("| %s | reference-style loop (Pillow, fp32, batch 1, in-process) | %s | %s | %.1f | | |" % (
                name, fmt(ref["median"], 1), ", ".join(fmt(x, 1) for x in ref["samples"]),
                100 * ref["median"] / ceiling["median"]))
        for label, e in sorted(r.get("e2e", {}).items()):
            if label.startswith("multi") or label == "gpu_decode_badfiles":
                continue
            desc = E2E_LABELS.get(label, label)
            if label == "gpu_decode_b256":
                desc = RUN_DEFAULTS.get(name, desc)
            runs_ = e["runs"]
            key, own = ceiling_for(label, r, ceiling)
            out.append("| %s | `%s`: %s | %s | %s | %.1f%s | %.2f | %.2f |" % (
                name, label, desc, fmt(e["median"]), ", ".join(fmt(x["throughput"]) for x in runs_),
                100 * e["median"] / own["median"], "" if key == CEILING_KEY else " (of `%s`)" % key,
                med([x["warmup_seconds"] for x in runs_]), med([x["startup_seconds"] for x in runs_])))
    out.append("\n%% of ceiling: against `%s` of the same run (the model path jc_infer runs by default, on the "
               "same GPU); a variant with a CUDA graph or another batch size against the ceiling of that model "
               "path, where the run measured it (named beside the percentage)." % CEILING_KEY)
    out.append("")

    out.append("### Components (median)\n")
    out.append("| measurement | " + " | ".join(sorted(runs)) + " |")
    out.append("| --- |" + " ---: |" * len(runs))

    def row(title, getter, digits=0):
        cells = []
        for name in sorted(runs):
            try:
                cells.append(fmt(getter(runs[name]), digits))
            except (KeyError, TypeError):
                cells.append("")
        out.append("| %s | %s |" % (title, " | ".join(cells)))
    for b in (64, 256, 512):
        row("nvJPEG batched decode alone, batch %d (img/s)" % b, lambda r, b=b: r["micro"]["decode"]["nvjpeg_b%d" % b]["median"])
    row("nvJPEG + GPU crop/resize/normalize, batch 256 (img/s)", lambda r: r["micro"]["decode"]["nvjpeg_prep_b256"]["median"])
    row("serial: decode, preprocess, model, sync per batch (img/s)", lambda r: r["micro"]["decode"]["serial_pipeline_b256"]["median"])
    row("model while a thread decodes, model on the default stream (img/s)",
        lambda r: r["micro"]["decode"]["concurrent_default_stream"]["model_img_per_s"])
    row("... nvJPEG meanwhile (img/s)", lambda r: r["micro"]["decode"]["concurrent_default_stream"]["decode_img_per_s"])
    row("model while a thread decodes, model on its own stream (img/s)",
        lambda r: r["micro"]["decode"]["concurrent_own_stream"]["model_img_per_s"])
    row("... nvJPEG meanwhile (img/s)", lambda r: r["micro"]["decode"]["concurrent_own_stream"]["decode_img_per_s"])
    row("Pillow decode + crop/resize, one core (img/s)", lambda r: r["micro"]["pil_per_core_img_per_s"])
    row("pinned host-to-device copy (GB/s)", lambda r: r["micro"]["h2d_pinned_gb_per_s"]["median"], 1)
    row("cold-cache file read, 8 threads (img/s)", lambda r: r["dataset"]["cold_read"]["img_per_s"])
    row("cold-cache file read (MB/s)", lambda r: r["dataset"]["cold_read"]["mb_per_s"])
    out.append("")

    out.append("### Process start-up (median over every jc_infer run of the newest run, seconds)\n")
    parts = {}
    for e in last.get("e2e", {}).values():
        for x in e["runs"]:
            for k, v in x["startup"].items():
                parts.setdefault(k, []).append(v)
            parts.setdefault("warm-up (untimed: cuDNN autotune, decoder init)", []).append(x["warmup_seconds"])
            parts.setdefault("whole process, wall", []).append(x["wall_seconds"])
    out.append("| phase | median | min | max |\n| --- | ---: | ---: | ---: |")
    # Older runs have "import" and "model_load"; newer ones split them (issue 15's breakdown).
    for k in ("interpreter", "file_listing", "import", "import_torch", "import_torchvision", "device_init",
              "model_load", "model_build", "weights", "warm-up (untimed: cuDNN autotune, decoder init)",
              "whole process, wall"):
        if k in parts:
            out.append("| %s | %.2f | %.2f | %.2f |" % (k, med(parts[k]), min(parts[k]), max(parts[k])))
    out.append("")

    hw = [(n, r["hw"]) for n, r in sorted(runs.items()) if isinstance(r.get("hw"), dict) and "skipped" not in r["hw"]]
    if hw:
        out.append("### The GPU's hardware JPEG decoder through nvImageCodec (`hw` stage, in-process, median)\n")
        out.append("| run | measurement | img/s |")
        out.append("| --- | --- | ---: |")
        for n, h in hw:
            for key, what in (("decode_b64", "decode alone, batch 64"), ("decode_b256", "decode alone, batch 256"),
                              ("decode_prep_b64", "decode + GPU crop/resize/normalize, batch 64"),
                              ("decode_prep_b256", "decode + GPU crop/resize/normalize, batch 256")):
                if key in h:
                    out.append("| %s | %s | %s |" % (n, what, fmt(h[key]["median"])))
        out.append("")

    out.append("### Several GPUs (one jc_infer process per GPU, JOB_COMPLETION_INDEX partition)\n")
    multi = [(n, k, v) for n, r in sorted(runs.items()) for k, v in r.get("multi", {}).items()
             if isinstance(v, dict) and "efficiency" in v]
    if multi:
        out.append("| run | config | GPUs | img/s | speedup | efficiency | imbalance | speedup incl. start-up |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n, k, v in multi:
            out.append("| %s | %s | %d | %s | %.3f | %.3f | %.3f | %.2f |" % (
                n, k, v["gpus"], fmt(v["throughput"]["median"]), v["speedup"]["median"], v["efficiency"]["median"],
                v["imbalance"]["median"], v["wall_speedup"]["median"]))
    else:
        out.append("Not measured: see the text below.")
    return "\n".join(out)


def plot(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Each bar from the newest run that measured it (later runs measure fewer things), named under it;
    # the ceiling and its 75 % line from the newest run.
    def newest(has):
        return sorted(n for n, r in runs.items() if has(r))[-1]

    def short(run_name):
        return run_name.replace("h100_x1_", "")

    name = newest(lambda r: "gpu_decode_b256" in r.get("e2e", {}))
    ceiling = runs[name]["micro"]["ceiling"][CEILING_KEY]["median"]
    comp = newest(lambda r: "reference_loop" in r.get("micro", {}))
    bars = [("reference loop\n(PIL, fp32, b1)\n%s" % short(comp), runs[comp]["micro"]["reference_loop"]["median"])]
    for label, title in (("cpu_decode_b256", "CPU decode\n15 workers"),
                         ("gpu_decode_b256_conn8", "nvJPEG, eager,\n8 CUDA queues"),
                         ("gpu_decode_b256", "nvJPEG, eager,\n32 queues"),
                         ("gpu_decode_b256_graphs", "nvJPEG, graph,\n32 queues (default)"),
                         ("synthetic_b256_graphs", "synthetic, graph\n(jc_infer)")):
        found = [n for n, r in runs.items() if label in r.get("e2e", {})]
        if found:
            src = sorted(found)[-1]
            bars.append(("%s\n%s" % (title, short(src)), runs[src]["e2e"][label]["median"]))
    d = runs[comp]["micro"]["decode"]
    bars.append(("serial decode\n+ model\n%s" % short(comp), d["serial_pipeline_b256"]["median"]))
    bars.append(("nvJPEG alone\n(+ resize)\n%s" % short(comp), d["nvjpeg_prep_b256"]["median"]))
    bars.append(("model alone, eager\n(ceiling)\n%s" % short(name), ceiling))
    fig, ax = plt.subplots(figsize=(11, 4.8))
    xs = range(len(bars))
    ax.bar(xs, [b[1] for b in bars], color=["#999999"] + ["#4477aa"] * (len(bars) - 4) + ["#cc6677", "#ddcc77", "#117733"])
    ax.axhline(0.75 * ceiling, color="#117733", linestyle="--", linewidth=1)
    graph = runs[name]["micro"]["ceiling"].get("jc_graph_fp16_b256")
    if graph:  # the graph variant's own ceiling (the model alone as a CUDA graph)
        ax.axhline(0.75 * graph["median"], color="#117733", linestyle=":", linewidth=1)
        ax.text(-0.4, 0.75 * graph["median"] + 150, "dotted: 75 %% of the CUDA-graph ceiling (%s img/s)"
                % fmt(graph["median"]), va="bottom", ha="left", fontsize=7, color="#117733")
    ax.text(-0.4, 0.75 * ceiling - 150, "dashed: 75 % of the model-only ceiling, eager (target)", va="top",
            ha="left", fontsize=7, color="#117733")
    for x, (_, v) in zip(xs, bars):
        ax.text(x, v, fmt(v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b[0] for b in bars], fontsize=8)
    ax.set_ylabel("images / second (median)")
    ax.set_title("ResNet-50 inference on one %s (median img/s; the run under each bar)"
                 % runs[name]["env"]["gpu_names"][0], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _median_run(runs):
    """The run whose job wall is the median of the runs (the middle one, not an average of phases)."""
    ordered = sorted(runs, key=lambda r: r["job_wall_seconds"])
    return ordered[len(ordered) // 2]


def startup_series(results):
    """From a startup_bench.py results.json: per variant and GPU count, the median run's pods as
    (label, {start-up, warm-up, timed window, rest, exit}) in seconds (rest = what the process spent
    before its result line outside the three phases; exit = the result line to the exit), and
    the job walls (median, min, max)."""
    out = {}
    multi = results.get("multi", {})
    for variant in ("before", "after"):
        if variant not in multi:
            continue
        for key in sorted(k for k in multi[variant] if k.endswith("_gpu")):
            rec = multi[variant][key]
            run = _median_run(rec["runs"])
            pods = []
            for pod in run["pods"]:
                # The pod's own clock up to its result line (process_seconds, from /proc), the parent's
                # for the rest: exit = the parent's wall clock - process_seconds (the line to the exit,
                # plus the spawn before the process existed). Not result_to_exit_seconds: the parent
                # reads the pods' lines one after the other, so a later pod's line is read late.
                pods.append(("%s %s #%d" % (variant, key.replace("_gpu", " GPU"), pod["index"]),
                             {"start-up": pod["startup_seconds"], "warm-up": pod["warmup_seconds"],
                              "timed window": pod["seconds"], "rest": max(0.0, pod["fixed"]["other"]),
                              "exit": max(0.0, pod["wall_seconds"] - pod["process_seconds"])}))
            walls = [r["job_wall_seconds"] for r in rec["runs"]]
            out[(variant, key)] = {"pods": pods, "wall": (med(walls), min(walls), max(walls)),
                                   "images": run["pods"][0]["assigned"] * len(run["pods"])}
    return out


def startup_plot(results, path):
    """Time to result on the GPU machine: per pod a bar of start-up / warm-up / timed window / rest /
    exit (the median run of each), and the job's wall clock for 1 vs N GPUs, before and after."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = startup_series(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    colors = {"start-up": "#999999", "warm-up": "#ddaa33", "timed window": "#117733", "rest": "#aa4499",
              "exit": "#4477aa"}
    labels, bottoms = [], []
    pods = [p for key in sorted(series) for p in series[key]["pods"]]
    labels = [label for label, _ in pods]
    bottoms = [0.0] * len(pods)
    for phase, color in colors.items():
        heights = [phases[phase] for _, phases in pods]
        left.bar(range(len(pods)), heights, bottom=bottoms, color=color, label=phase)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    left.set_xticks(range(len(pods)))
    left.set_xticklabels(labels, fontsize=8, rotation=20)
    left.set_ylabel("seconds (parent's clock)")
    left.set_title("per pod, median run of 3 (%s images)" % fmt(max(v["images"] for v in series.values())), fontsize=10)
    left.legend(fontsize=8)
    walls = sorted(series.items())
    xs = range(len(walls))
    right.bar(xs, [v["wall"][0] for _, v in walls], color=["#cc6677" if k[0] == "before" else "#4477aa" for k, _ in walls],
              yerr=[[v["wall"][0] - v["wall"][1] for _, v in walls], [v["wall"][2] - v["wall"][0] for _, v in walls]],
              capsize=3)
    for x, (_, v) in zip(xs, walls):
        right.text(x, v["wall"][0] / 2, "%.1f s" % v["wall"][0], ha="center", fontsize=8, color="white")
    right.set_xticks(list(xs))
    right.set_xticklabels(["%s\n%s" % (k[0], k[1].replace("_gpu", " GPU")) for k, _ in walls], fontsize=8)
    right.set_ylabel("job wall clock (s), median, min-max")
    right.set_title("job: first start to last exit", fontsize=10)
    fig.suptitle("Time to result, %s, startup_bench.py (%s)" % (results["env"]["gpu"], results["env"]["date"]),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def write_startup_plot():
    """docs/startup_time_to_result.png from STARTUP_RUN, if it is there."""
    if os.path.exists(STARTUP_RUN):
        with open(STARTUP_RUN) as handle:
            startup_plot(json.load(handle), STARTUP_PLOT)
        print("wrote %s" % STARTUP_PLOT)


def main():
    runs = load()
    if not runs:
        sys.exit("no results in %s" % RESULTS)
    with open(DOC) as handle:
        doc = handle.read()
    if BEGIN not in doc or END not in doc:
        sys.exit("%s lacks the markers %s ... %s" % (DOC, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = tables(runs)  # before the file is opened for writing: a failure leaves it as it was
    with open(DOC, "w") as handle:
        handle.write(head + BEGIN + "\n" + body + "\n" + END + tail)
    write_startup_plot()
    plot(runs, PLOT)
    print("wrote %s and %s" % (DOC, PLOT))
    pipeline_plot()


def pipeline_plot():
    """Workload III's panels (benchmarks/pipeline_plots.py) from its newest results, if any."""
    import pipeline_plots

    path = pipeline_plots.newest_results()
    if path:
        with open(path) as handle:
            print("wrote %s" % pipeline_plots.write(json.load(handle), placements=pipeline_plots.newest_matrix()))


if __name__ == "__main__":
    main()
