#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Make, describe and check the image dataset the inference workload reads.

    jc_dataset.py generate DIR --count 1200 [--width 500 --height 375 --quality 90 --seed 0 --jobs N]
    jc_dataset.py manifest DIR
    jc_dataset.py verify DIR [--quick]

`generate` writes synthetic photographic-like JPEGs (smooth lighting, overlapping shapes,
blur and sensor-like noise, so that they decode like camera images, not like flat test
patterns) and then the manifest. `manifest` describes whatever JPEGs a directory holds.
`verify` compares a directory with its manifest.

The manifest is DIR/manifest.json:
    {"version": 1, "count": N, "bytes": B, "sha256": <hex>, "files": [{"path", "bytes", "sha256"}]}
where "sha256" digests the lines "<path>\\t<sha256>\\n" of all files sorted by path, paths are
relative to DIR with "/" separators, and image files are *.jpg / *.jpeg in any case.

Every command prints one JSON line on stdout (with "changed" for generate/manifest, so
Ansible can report the truth) and exits 0 on success, 1 on a verification failure, 2 on
bad input. Runs on Python >= 3.6 (Jetson's Ubuntu 18.04); generate needs Pillow, and uses
NumPy when it is installed.
"""

from __future__ import print_function

import argparse
import hashlib
import json
import os
import random
import sys

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg")
CHUNK = 1 << 20


class DatasetError(Exception):
    """A problem with the dataset directory or its manifest, with a message for the user."""


def list_images(root):
    """Sorted relative paths ("/"-separated) of the JPEG files under root."""
    if not os.path.isdir(root):
        raise DatasetError("dataset directory %s does not exist or is not a directory" % root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(IMAGE_SUFFIXES):
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_entries(entries):
    """The dataset digest: sha256 over "path\\tsha256\\n" lines sorted by path."""
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e["path"]):
        digest.update(("%s\t%s\n" % (entry["path"], entry["sha256"])).encode("utf-8"))
    return digest.hexdigest()


def build_manifest(root, generator=None):
    entries = []
    for rel in list_images(root):
        path = os.path.join(root, rel)
        entries.append({"path": rel, "bytes": os.path.getsize(path), "sha256": file_sha256(path)})
    manifest = {
        "version": MANIFEST_VERSION,
        "count": len(entries),
        "bytes": sum(e["bytes"] for e in entries),
        "sha256": digest_entries(entries),
        "files": entries,
    }
    if generator is not None:
        manifest["generator"] = generator
    return manifest


def read_manifest(root):
    if not os.path.isdir(root):
        raise DatasetError("dataset directory %s does not exist or is not a directory" % root)
    path = os.path.join(root, MANIFEST_NAME)
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except IOError:
        raise DatasetError("no manifest at %s (run: jc_dataset.py manifest %s)" % (path, root))
    except (ValueError, RecursionError) as exc:
        raise DatasetError("manifest %s is not valid JSON: %s" % (path, exc))
    if not isinstance(manifest, dict) or not _is_count(manifest.get("version")) \
            or manifest["version"] != MANIFEST_VERSION:
        raise DatasetError("manifest %s has no supported version (want %d)" % (path, MANIFEST_VERSION))
    for key in ("count", "bytes", "sha256", "files"):
        if key not in manifest:
            raise DatasetError("manifest %s lacks the key %r" % (path, key))
    _check_manifest(path, manifest)
    return manifest


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_sha256(value):
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_manifest(path, manifest):
    """Refuse a manifest whose values are not what build_manifest writes, naming the first bad one."""
    def bad(where, want, value):
        raise DatasetError("manifest %s: %s must be %s, got %s" % (path, where, want, _short(value)))

    for key in ("count", "bytes"):
        if not _is_count(manifest[key]):
            bad(key, "a non-negative integer", manifest[key])
    if not _is_sha256(manifest["sha256"]):
        bad("sha256", "64 lower-case hex digits", manifest["sha256"])
    if not isinstance(manifest["files"], list):
        bad("files", "a list", manifest["files"])
    seen = set()
    for number, entry in enumerate(manifest["files"]):
        where = "files[%d]" % number
        if not isinstance(entry, dict):
            bad(where, "a mapping with path, bytes and sha256", entry)
        rel = entry.get("path")
        if not isinstance(rel, str) or not rel or "\0" in rel or rel.startswith("/") \
                or ".." in rel.split("/") or "\\" in rel:
            bad(where + ".path", "a relative path inside the dataset ('/'-separated, no '..')", rel)
        if rel in seen:
            bad(where + ".path", "listed once", rel)
        seen.add(rel)
        if not _is_count(entry.get("bytes")):
            bad(where + ".bytes", "a non-negative integer", entry.get("bytes"))
        if not _is_sha256(entry.get("sha256")):
            bad(where + ".sha256", "64 lower-case hex digits", entry.get("sha256"))


def write_manifest(root, manifest):
    """Write the manifest atomically; return True when its content changed."""
    path = os.path.join(root, MANIFEST_NAME)
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    try:
        with open(path) as handle:
            if handle.read() == text:
                return False
    except IOError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.rename(tmp, path)
    return True


def verify(root, quick=False):
    """Compare root with its manifest. Returns a list of problems (empty when all is well)."""
    manifest = read_manifest(root)
    problems = []
    expected = dict((e["path"], e) for e in manifest["files"])
    present = list_images(root)
    missing = sorted(set(expected) - set(present))
    extra = sorted(set(present) - set(expected))
    if missing:
        problems.append("%d file(s) missing, e.g. %s" % (len(missing), ", ".join(missing[:5])))
    if extra:
        problems.append("%d file(s) not in the manifest, e.g. %s" % (len(extra), ", ".join(extra[:5])))
    if manifest["count"] != len(expected):
        problems.append("manifest says count %d but lists %d files" % (manifest["count"], len(expected)))
    for rel in sorted(set(expected) & set(present)):
        path = os.path.join(root, rel)
        size = os.path.getsize(path)
        if size != expected[rel]["bytes"]:
            problems.append("%s: %d bytes, manifest says %d" % (rel, size, expected[rel]["bytes"]))
        elif not quick and file_sha256(path) != expected[rel]["sha256"]:
            problems.append("%s: sha256 differs from the manifest (corrupt or replaced)" % rel)
    return problems


# --- synthetic images -------------------------------------------------------------------

def _image_numpy(rng_seed, width, height):
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.RandomState(rng_seed)
    # Smooth illumination: a random linear gradient between two colours, plus a vignette.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    base = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    r2 = ((xx / width - 0.5) ** 2 + (yy / height - 0.5) ** 2)
    base *= (1.0 - 0.6 * r2)[..., None]
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    _draw_shapes(ImageDraw.Draw(img), random.Random(rng_seed), width, height)
    img = img.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.6, 1.8))))
    # Texture (1/f-like noise over several octaves, as in natural scenes) and sensor noise:
    # what makes real photographs cost what they cost to decode.
    arr = np.asarray(img).astype(np.float32)
    for scale, amplitude in ((64, 18.0), (16, 10.0), (4, 6.0)):
        small = rng.normal(0, amplitude, size=(height // scale + 2, width // scale + 2)).astype(np.float32)
        octave = np.asarray(Image.fromarray(small, "F").resize((width, height), Image.BILINEAR))
        arr += octave[..., None]
    arr += rng.normal(0, rng.uniform(7, 13), size=arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _image_pillow(rng_seed, width, height):
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rnd = random.Random(rng_seed)
    c0 = tuple(rnd.randrange(256) for _ in range(3))
    c1 = tuple(rnd.randrange(256) for _ in range(3))
    mask = Image.linear_gradient("L").rotate(rnd.uniform(0, 360)).resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), c1), Image.new("RGB", (width, height), c0), mask)
    _draw_shapes(ImageDraw.Draw(img), rnd, width, height)
    img = img.filter(ImageFilter.GaussianBlur(radius=rnd.uniform(0.6, 1.8)))
    noise = Image.effect_noise((width, height), rnd.uniform(12, 30)).convert("RGB")
    return ImageChops.add(ImageChops.multiply(img, Image.new("RGB", (width, height), (235, 235, 235))),
                          noise, scale=1.6, offset=-60)


def _draw_shapes(draw, rnd, width, height):
    """Overlapping ellipses, polygons and strokes: edges and objects at many scales."""
    for _ in range(rnd.randint(12, 40)):
        colour = tuple(rnd.randrange(256) for _ in range(3))
        x0, y0 = rnd.uniform(-0.2, 1.0) * width, rnd.uniform(-0.2, 1.0) * height
        w, h = rnd.uniform(0.03, 0.5) * width, rnd.uniform(0.03, 0.5) * height
        kind = rnd.random()
        if kind < 0.45:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        elif kind < 0.85:
            points = [(x0 + rnd.uniform(0, w), y0 + rnd.uniform(0, h)) for _ in range(rnd.randint(3, 7))]
            draw.polygon(points, fill=colour)
        else:
            draw.line([(x0, y0), (x0 + w, y0 + h)], fill=colour, width=rnd.randint(1, 6))


def make_image(index, seed, width, height):
    """The synthetic image number `index` of a dataset made with `seed` (deterministic)."""
    rng_seed = (seed * 1000003 + index) % (2 ** 32)
    try:
        import numpy  # noqa: F401  (optional, faster and richer noise)
    except ImportError:
        return _image_pillow(rng_seed, width, height)
    return _image_numpy(rng_seed, width, height)


def _write_one(job):
    root, index, seed, width, height, quality = job
    path = os.path.join(root, "img_%06d.jpg" % index)
    tmp = path + ".tmp"
    make_image(index, seed, width, height).save(tmp, "JPEG", quality=quality)
    os.rename(tmp, path)
    return path


def generate(root, count, width, height, quality, seed, jobs):
    """Write count JPEGs and the manifest; do nothing when the same set is already there."""
    generator = {"count": count, "width": width, "height": height, "quality": quality, "seed": seed}
    if not os.path.isdir(root):
        os.makedirs(root)
    try:
        current = read_manifest(root)
    except DatasetError:
        current = None
    if current is not None and current.get("generator") == generator and not verify(root, quick=True):
        return False, current
    work = [(root, i, seed, width, height, quality) for i in range(count)]
    if jobs > 1:
        import multiprocessing
        pool = multiprocessing.Pool(jobs)
        try:
            for done, _ in enumerate(pool.imap_unordered(_write_one, work, chunksize=16), 1):
                if done % 500 == 0:
                    print("generated %d/%d" % (done, count), file=sys.stderr)
        finally:
            pool.close()
            pool.join()
    else:
        for job in work:
            _write_one(job)
    wanted = set("img_%06d.jpg" % i for i in range(count))
    for rel in list_images(root):
        if rel.startswith("img_") and "/" not in rel and rel not in wanted:
            os.remove(os.path.join(root, rel))  # a smaller regeneration leaves no stale images
    manifest = build_manifest(root, generator)
    write_manifest(root, manifest)
    return True, manifest


def _summary(manifest, **extra):
    out = {"count": manifest["count"], "bytes": manifest["bytes"], "sha256": manifest["sha256"]}
    out.update(extra)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    gen = sub.add_parser("generate", help="write synthetic JPEGs and their manifest")
    gen.add_argument("dir")
    gen.add_argument("--count", type=int, required=True)
    gen.add_argument("--width", type=int, default=500)
    gen.add_argument("--height", type=int, default=375)
    gen.add_argument("--quality", type=int, default=90)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    man = sub.add_parser("manifest", help="(re)write DIR/manifest.json for the JPEGs in DIR")
    man.add_argument("dir")
    ver = sub.add_parser("verify", help="compare DIR with DIR/manifest.json")
    ver.add_argument("dir")
    ver.add_argument("--quick", action="store_true", help="compare names and sizes, not checksums")
    args = parser.parse_args(argv)

    try:
        if args.command == "generate":
            if args.count < 0 or args.width < 1 or args.height < 1 or not 1 <= args.quality <= 100:
                raise DatasetError("need count >= 0, width/height >= 1 and 1 <= quality <= 100")
            changed, manifest = generate(args.dir, args.count, args.width, args.height,
                                         args.quality, args.seed, max(1, args.jobs))
            print(json.dumps(_summary(manifest, changed=changed)))
        elif args.command == "manifest":
            manifest = build_manifest(args.dir)
            try:
                previous = read_manifest(args.dir)
            except DatasetError:
                previous = {}
            if previous.get("sha256") == manifest["sha256"] and "generator" in previous:
                manifest["generator"] = previous["generator"]  # same files: keep their provenance
            changed = write_manifest(args.dir, manifest)
            print(json.dumps(_summary(manifest, changed=changed)))
        elif args.command == "verify":
            problems = verify(args.dir, quick=args.quick)
            manifest = read_manifest(args.dir)
            print(json.dumps(_summary(manifest, ok=not problems, problems=problems)))
            return 1 if problems else 0
        else:
            parser.print_help(sys.stderr)
            return 2
    except DatasetError as exc:
        print(json.dumps({"error": str(exc)}))
        print("ERROR: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
