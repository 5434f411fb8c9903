# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""The dataset: the sorted JPEG list, its manifest, and each index's contiguous share of it."""

from __future__ import division, print_function

import json
import os

from .settings import SettingsError

IMAGE_SUFFIXES = (".jpg", ".jpeg")
MANIFEST_NAME = "manifest.json"
DEFAULT_SYNTHETIC_IMAGES = 1200


def list_images(root):
    """Sorted "/"-separated relative paths of the *.jpg/*.jpeg files (any case) under root."""
    if not os.path.isdir(root):
        raise SettingsError("IMAGE_DIR=%s does not exist or is not a directory" % root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        # One relpath per directory, not per file: 200,000 names took 1.1-1.7 s on the GPU machine.
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        found.extend(prefix + name for name in filenames if name.lower().endswith(IMAGE_SUFFIXES))
    found.sort()
    return found


def manifest_count(root):
    """The image count recorded in root/manifest.json, or None when there is no usable manifest."""
    try:
        with open(os.path.join(root, MANIFEST_NAME)) as handle:
            manifest = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    count = manifest.get("count") if isinstance(manifest, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def partition(total, jobs, index):
    """[start, end) of index's contiguous slice: total // jobs each, the last takes the remainder."""
    if jobs < 1 or not 0 <= index < jobs or total < 0:
        raise SettingsError("cannot split %d items into %d jobs for index %d" % (total, jobs, index))
    share = total // jobs
    start = index * share
    end = total if index == jobs - 1 else start + share
    return start, end


def plan_work(settings):
    """This index's share: {"files" (absolute paths, None when synthetic), "start", "end",
    "dataset_count" (images found or synthetic total), "manifest_count"}."""
    jobs, index = settings["total_jobs"], settings["job_completion_index"]
    if settings["workload_mode"] == "synthetic":
        total = settings["total_images"]
        total = DEFAULT_SYNTHETIC_IMAGES if total is None else total
        start, end = partition(total, jobs, index)
        return {"files": None, "start": start, "end": end, "dataset_count": total, "manifest_count": None}
    root = settings["image_dir"]
    files = list_images(root)
    found = len(files)
    # Read once: a generated dataset's manifest lists every file with its digest (28 MB, 0.18 s
    # to parse for 200,000 files on a 2-core machine; docs/benchmarks.md run 8).
    listed = manifest_count(root)
    check_dataset(root, found, listed)
    if settings["total_images"] is not None:
        files = files[:settings["total_images"]]
    start, end = partition(len(files), jobs, index)
    # One concatenation per file instead of os.path.join: 2.5x faster (the 200,000 absolute paths of a
    # one-GPU pod took 0.13-0.16 s on the GPU machine; docs/benchmarks.md run 9).
    prefix = os.path.join(root, "")
    return {"files": [prefix + rel for rel in files[start:end]], "start": start, "end": end,
            "dataset_count": found, "manifest_count": listed}


def check_dataset(root, found, listed):
    """Refuse a dataset that is not all there: no JPEG at all (what an NFS mount point that is not
    mounted looks like) or fewer than its manifest lists (a copy or a mount cut short). More than
    the manifest lists is only a warning (main): every file found is still processed."""
    if listed is not None and found < listed:
        raise SettingsError("IMAGE_DIR=%s holds %d JPEG images, but its %s lists %d: the dataset is incomplete "
                            "(a copy cut short, or the NFS share not mounted there)"
                            % (root, found, MANIFEST_NAME, listed))
    if found == 0:
        raise SettingsError("IMAGE_DIR=%s holds no JPEG images (*.jpg, *.jpeg): is the NFS share mounted there?"
                            % root)

