#!/usr/bin/env python3
"""What the file listing costs a jc_infer pod, in the main thread and in the listing process (run 8).

    PYTHONPATH=roles/gpu_workloads/files python3 benchmarks/listing_probe.py IMAGE_DIR [--rounds 3]

For TOTAL_IMAGES 20,000 and all (one job): plan_work in this process, split into list_images (walk,
filter, sort) and the rest (manifest, partition, absolute paths); then ListingProcess as main uses
it: the fork, a sleep standing for `import torch`, and the time plan() takes to read the pipe once
the child is done (what is left in the main thread), with the child's own seconds.
"""

import argparse
import time

import jc_infer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image_dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--import-seconds", type=float, default=1.0, help="the sleep standing for import torch")
    args = parser.parse_args()
    for cap in ("20000", None):
        flags = ["--image-dir", args.image_dir] + (["--total-images", cap] if cap else [])
        settings = jc_infer.parse_settings(flags, environ={})
        for r in range(args.rounds):
            t = time.time()
            names = jc_infer.list_images(args.image_dir)
            t_list = time.time() - t
            t = time.time()
            plan = jc_infer.plan_work(settings)
            t_plan = time.time() - t
            t = time.time()
            listing = jc_infer.ListingProcess(settings)
            t_fork = time.time() - t
            time.sleep(args.import_seconds)
            t = time.time()
            forked = listing.plan()
            t_collect = time.time() - t
            assert forked == plan and listing.report["state"] == "done", listing.report
            print("images %s round %d: %d names; in this process: list_images %.3f s, plan_work %.3f s "
                  "(the rest %.3f s); listing process: fork %.4f s, reading the plan %.4f s, the child's %.3f s"
                  % (cap or "all", r, len(names), t_list, t_plan, t_plan - t_list, t_fork, t_collect,
                     listing.report["seconds"]), flush=True)


if __name__ == "__main__":
    main()
