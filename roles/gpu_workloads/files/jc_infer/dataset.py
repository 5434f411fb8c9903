# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""The dataset: the sorted JPEG list, its manifest, and each index's contiguous share of it."""

from __future__ import division, print_function

import json
import os
import sys
import time

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
    listed = manifest_count(root)  # once: a generated dataset's manifest lists every file with its digest
    check_dataset(root, found, listed)
    if settings["total_images"] is not None:
        files = files[:settings["total_images"]]
    start, end = partition(len(files), jobs, index)
    return {"files": [os.path.join(root, rel) for rel in files[start:end]], "start": start, "end": end,
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



# --- the listing in a process of its own, beside `import torch` ------------------------------------

PROBE_ENTRIES = 10000  # directory entries holds_images looks at before it gives up (and says False)
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = getattr(sys, "getfilesystemencodeerrors", lambda: "surrogateescape")()


def holds_images(root, need, limit=PROBE_ENTRIES):
    """Whether root holds at least `need` of the JPEGs list_images finds, looking at no more than
    `limit` directory entries: False when it does not know (also when root is missing)."""
    stack, seen, looked = [root], 0, 0
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        try:
            for entry in entries:
                looked += 1
                if looked > limit:
                    return False
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    if not entry.is_symlink():  # os.walk does not descend into links to directories
                        stack.append(entry.path)
                elif entry.name.lower().endswith(IMAGE_SUFFIXES):
                    seen += 1
                    if seen >= need:
                        return True
        finally:
            entries.close()
    return False


def sure_of_images(settings):
    """Whether this index will be assigned images if the dataset passes its checks: the last index
    takes the remainder (one JPEG is enough), every other index needs as many as there are jobs.
    A look at the first entries of IMAGE_DIR, not a listing."""
    jobs, index, cap = settings["total_jobs"], settings["job_completion_index"], settings["total_images"]
    need = 1 if index == jobs - 1 else jobs
    return (cap is None or cap >= need) and holds_images(settings["image_dir"], need)


class ListingProcess(object):
    """plan_work in a forked child process, so that listing, sorting and partitioning the files run
    beside the parent's `import torch` (which holds the GIL: a thread beside it gains nothing,
    docs/benchmarks.md). Fork it before any thread or CUDA context exists. The child writes one JSON
    line (the plan without "files", its seconds; or the SettingsError's message) and then the
    absolute paths, NUL-separated, to a pipe, and leaves with os._exit. plan() returns that plan,
    raises that SettingsError, or lists the files in this process when the child gave no plan.
    .report: {"state": "done", "seconds": the child's} or {"state": "failed", "reason"}."""

    def __init__(self, settings):
        self.settings = settings
        self.report = None
        sys.stdout.flush()
        sys.stderr.flush()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read)
            _listing_child(settings, write)  # never returns
        os.close(write)
        self.pid, self.fd = pid, read

    def plan(self):
        chunks = []
        try:
            while True:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self.fd)
            try:
                os.waitpid(self.pid, 0)
            except OSError:  # already reaped (SIGCHLD ignored)
                pass
        head, newline, body = b"".join(chunks).partition(b"\n")
        try:
            message = json.loads(head.decode("utf-8")) if newline else {}
        except ValueError:
            message = {}
        if "error" in message:
            raise SettingsError(message["error"])
        plan = message.get("plan")
        if isinstance(plan, dict):
            files = body.decode(_FS_ENCODING, _FS_ERRORS).split("\0") if body else []
            if len(files) == plan.get("end", 0) - plan.get("start", 0):
                plan["files"] = files
                self.report = {"state": "done", "seconds": message.get("seconds")}
                return plan
        self.report = {"state": "failed", "reason": message.get("failed", "no plan from the listing process")}
        return plan_work(self.settings)


def _listing_child(settings, fd):
    code = 1
    try:
        t = time.time()
        body = b""
        try:
            plan = plan_work(settings)
            files = plan.pop("files")
            head = {"plan": plan, "seconds": time.time() - t}
            body = "\0".join(files).encode(_FS_ENCODING, _FS_ERRORS)
        except SettingsError as exc:
            head = {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the parent lists the files itself and meets it there
            head = {"failed": "%s: %s" % (type(exc).__name__, exc)}
        data = memoryview(json.dumps(head).encode("utf-8") + b"\n" + body)
        while data:
            data = data[os.write(fd, data):]
        code = 0
    finally:
        os._exit(code)
