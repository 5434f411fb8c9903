#!/usr/bin/env python3
"""Workload III's placement matrix in one command: every placement (SSSS ... EEEE and the merged
3- and 2-stage families) at every image size, against the monolith, through the Docker runner.

    python3 benchmarks/pipeline_matrix.py --out DIR [--server gateway] [--edge jetson-1,jetson-2]
        [--depths 2,3,4] [--sizes 128x128,...] [--repeats 3] [--pixels-per-run N] [--image TAG]

Each stage is its own container (roles/pipeline_workload/files/Dockerfile), one CPU each
(``--cpus 1``: one core per node), on one user-defined Docker network; stage i pulls from stage
i - 1 by its container name, over gRPC across that network, and the sink is a container too.
The placement's letters are turned into hosts by plugins/module_utils/pipeline_matrix.py
(``assign_hosts``: S = the server-class host, E = the edge hosts in turn); each container is
named and labelled with its host. **Here every container runs on this one Docker daemon, so on
one machine whatever the letters say** (as in the lab, whose nodes are containers of one host):
the matrix then measures the chain's transport and CPU sharing, not edge against server speed.
On a Kubernetes cluster the same letters become node selectors (role pipeline_workload,
pipeline_placement.pipeline_stages). The monolith runs in one container per node kind.

Writes DIR/runs.json (every sink and monolith report), DIR/matrix.json (pipeline_matrix.aggregate's
rows) and DIR/matrix.md; benchmarks/pipeline_plots.py draws fps by placement from matrix.json.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "plugins", "module_utils"))

import pipeline_matrix  # noqa: E402

FILES = os.path.join(ROOT, "roles", "pipeline_workload", "files")
NETWORK = "jc-pipeline-matrix"
PREFIX = "jc-plm"
PORT = 50051


def docker(*args, **kwargs):
    check = kwargs.pop("check", True)
    return subprocess.run(["docker"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=check, **kwargs)


def image_tag(base, grpc_source="apt"):
    """The image's tag: a digest of the Dockerfile, the stage program, the base and, when not the
    default apt, where its grpcio comes from (the Dockerfile's GRPC_SOURCE)."""
    digest = hashlib.sha256(base.encode() + (b"" if grpc_source == "apt" else b"\0" + grpc_source.encode()))
    for folder, _, names in sorted(os.walk(os.path.join(FILES, "jc_pipeline"))):
        if "__pycache__" in folder or "_generated" in folder:
            continue
        for name in sorted(names):
            with open(os.path.join(folder, name), "rb") as handle:
                digest.update(name.encode() + handle.read())
    with open(os.path.join(FILES, "Dockerfile"), "rb") as handle:
        digest.update(handle.read())
    return "edgeai-jc/jc-pipeline:" + digest.hexdigest()[:12]


def build(base, grpc_source="apt"):
    tag = image_tag(base, grpc_source)
    if docker("image", "inspect", tag, check=False).returncode != 0:
        docker("build", "-q", "-t", tag, "--build-arg", "BASE=" + base, "--build-arg", "GRPC_SOURCE=" + grpc_source,
               FILES, timeout=1800)
    return tag


def remove(names):
    if names:
        docker("rm", "-f", *names, check=False)


def start_chain(image, depth, hosts):
    names = []
    for index, host in enumerate(hosts):
        name = "%s-s%d" % (PREFIX, index)
        remove([name])
        args = ["run", "-d", "--name", name, "--network", NETWORK, "--cpus", "1", "--label", "edgeai.jc.host=" + host,
                "--hostname", "%s-s%d" % (host, index), image, "stage", "--depth", str(depth), "--index", str(index),
                "--listen", "0.0.0.0:%d" % PORT, "--idle-timeout", "60"]
        if index:
            args += ["--upstream", "%s:%d" % (names[-1], PORT)]
        docker(*args)
        names.append(name)
    return names


def in_container(image, *args):
    proc = docker("run", "--rm", "--network", NETWORK, "--cpus", "1", image, *args, check=False, timeout=900)
    if proc.returncode != 0:
        raise SystemExit("jc_pipeline %s failed: %s" % (" ".join(args), proc.stderr[-2000:]))
    return json.loads(proc.stdout)


def images_for(size, pixels_per_run):
    return pipeline_matrix.images_per_run(size, pixels_per_run, least=10, most=500)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--server", default="gateway", help="the server-class host (S)")
    parser.add_argument("--edge", default="jetson-1,jetson-2", help="the edge hosts (E), comma-separated")
    parser.add_argument("--depths", default="2,3,4")
    parser.add_argument("--placements", default="", help="only these placements (comma-separated)")
    parser.add_argument("--sizes", default=",".join(pipeline_matrix.SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pixels-per-run", type=int, default=20000000)
    parser.add_argument("--base", default="edgeai-jc/debian-systemd:bookworm-amd64")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sizes = args.sizes.split(",")
    runs_plan = pipeline_matrix.expand([int(d) for d in args.depths.split(",")], sizes,
                                       args.placements.split(",") if args.placements else None)
    image = build(args.base)
    docker("network", "create", NETWORK, check=False)
    runs = []
    started = time.time()
    try:
        for node in ("S", "E"):  # one machine here: both are the same container kind
            for size in sizes:
                for _ in range(args.repeats):
                    report = in_container(image, "monolith", "--key", size, "--datacount",
                                          str(images_for(size, args.pixels_per_run)), "--no-digest")
                    runs.append(pipeline_matrix.run_from_report(report, node=node))
        chains = []
        for item in runs_plan:
            if (item["depth"], item["placement"]) not in chains:
                chains.append((item["depth"], item["placement"]))
        for depth, placement in chains:
            hosts = pipeline_matrix.assign_hosts(placement, [args.server], args.edge.split(","))
            names = start_chain(image, depth, hosts)
            try:
                for item in runs_plan:
                    if (item["depth"], item["placement"]) != (depth, placement):
                        continue
                    for _ in range(args.repeats):
                        report = in_container(image, "pull", "--address", "%s:%d" % (names[-1], PORT),
                                              "--key", item["size"], "--datacount",
                                              str(images_for(item["size"], args.pixels_per_run)))
                        runs.append(pipeline_matrix.run_from_report(report, depth=depth, placement=placement,
                                                                    hosts=hosts))
                    sys.stderr.write("%s %s: %.1f fps\n" % (placement, item["size"], runs[-1]["fps"]))
            finally:
                remove(names)
            with open(os.path.join(args.out, "runs.json"), "w") as handle:
                json.dump({"runs": runs}, handle)
    finally:
        docker("network", "rm", NETWORK, check=False)
    rows = pipeline_matrix.aggregate(runs)
    info = {"image": image, "cpus": os.cpu_count(), "seconds": time.time() - started, "settings": vars(args),
            "one_host": True}
    with open(os.path.join(args.out, "runs.json"), "w") as handle:
        json.dump({"info": info, "runs": runs}, handle)
    with open(os.path.join(args.out, "matrix.json"), "w") as handle:
        json.dump({"info": info, "rows": rows}, handle, indent=1)
    table = pipeline_matrix.markdown(rows)
    with open(os.path.join(args.out, "matrix.md"), "w") as handle:
        handle.write(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
