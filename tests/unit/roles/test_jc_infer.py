"""Behaviour of roles/gpu_workloads/files/jc_infer/, the inference workload (a package run as
python3 -m jc_infer; pytest.ini puts its parent directory on sys.path).

The core (settings, file list, partition, result line, error accounting) needs no torch and runs
everywhere; the tests at the end that run the model need torch and are skipped without it.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jc_infer
import pytest

PACKAGE_PARENT = Path(__file__).resolve().parents[3] / "roles" / "gpu_workloads" / "files"

CONTRACT_KEYS = {"index", "total_jobs", "images", "errors", "seconds", "warmup_seconds", "throughput",
                 "device", "batch_size", "precision", "hostname", "mode", "decode", "startup_seconds"}


def write_jpeg(path, size=(500, 375), mode="RGB", seed=0):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    colour = (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(path, "JPEG", quality=85)
    return path


def run_script(*args, env=None):
    """Run python3 -m jc_infer as the image does; returns (exit code, parsed stdout lines, stderr)."""
    names = {setting[0] for setting in jc_infer.SETTINGS}
    full_env = {k: v for k, v in os.environ.items() if k not in names}
    full_env["PYTHONPATH"] = str(PACKAGE_PARENT)  # as the image's ENV PYTHONPATH
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "jc_infer"] + [str(a) for a in args], env=full_env,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines, proc.stderr


# --- partition ------------------------------------------------------------------------------

@pytest.mark.parametrize("total, jobs, expected", [
    (1200, 1, [(0, 1200)]),
    (1200, 3, [(0, 400), (400, 800), (800, 1200)]),
    (10, 3, [(0, 3), (3, 6), (6, 10)]),
    (10_001, 2, [(0, 5000), (5000, 10_001)]),
    (2, 5, [(0, 0), (0, 0), (0, 0), (0, 0), (0, 2)]),
    (0, 3, [(0, 0), (0, 0), (0, 0)]),
])
def test_partition_slices(total, jobs, expected):
    assert [jc_infer.partition(total, jobs, i) for i in range(jobs)] == expected


@pytest.mark.parametrize("total, jobs", [(7, 2), (1000, 7), (5, 5), (3, 4), (1, 1)])
def test_partitions_cover_every_item_once_in_order(total, jobs):
    covered = []
    for index in range(jobs):
        start, end = jc_infer.partition(total, jobs, index)
        covered.extend(range(start, end))
    assert covered == list(range(total))


def test_last_index_takes_remainder():
    sizes = [end - start for start, end in (jc_infer.partition(11, 4, i) for i in range(4))]
    assert sizes == [2, 2, 2, 5]


@pytest.mark.parametrize("total, jobs, index", [(10, 3, 3), (10, 3, -1), (10, 0, 0), (-1, 1, 0)])
def test_partition_rejects_impossible_requests(total, jobs, index):
    with pytest.raises(jc_infer.SettingsError):
        jc_infer.partition(total, jobs, index)


# --- settings -------------------------------------------------------------------------------

def test_defaults_without_environment():
    s = jc_infer.parse_settings([], environ={})
    assert (s["workload_mode"], s["job_completion_index"], s["total_jobs"], s["image_dir"]) == \
        ("files", 0, 1, "/data/images")
    assert (s["batch_size"], s["precision"], s["decode"], s["device"], s["num_workers"]) == \
        ("auto", "auto", "auto", "auto", "auto")
    assert s["total_images"] is None and s["weights"] is None


def test_environment_sets_values():
    env = {"WORKLOAD_MODE": "synthetic", "JOB_COMPLETION_INDEX": "2", "TOTAL_JOBS": "3",
           "TOTAL_IMAGES": "1200", "BATCH_SIZE": "64", "PRECISION": "FP16", "DECODE": "gpu",
           "NUM_WORKERS": "6", "DEVICE": "cuda", "WARMUP_BATCHES": "0", "CUDA_GRAPHS": "off"}
    s = jc_infer.parse_settings([], environ=env)
    assert (s["workload_mode"], s["job_completion_index"], s["total_jobs"], s["total_images"]) == \
        ("synthetic", 2, 3, 1200)
    assert (s["batch_size"], s["precision"], s["decode"], s["num_workers"], s["device"]) == \
        (64, "fp16", "gpu", 6, "cuda")
    assert s["warmup_batches"] == 0 and s["cuda_graphs"] == "off"


def test_flag_wins_over_environment():
    s = jc_infer.parse_settings(["--batch-size", "32", "--index", "0"],
                                environ={"BATCH_SIZE": "256", "JOB_COMPLETION_INDEX": "1", "TOTAL_JOBS": "2"})
    assert s["batch_size"] == 32 and s["job_completion_index"] == 0 and s["total_jobs"] == 2


def test_empty_environment_value_means_default():
    s = jc_infer.parse_settings([], environ={"TOTAL_IMAGES": "", "BATCH_SIZE": " ", "WEIGHTS": ""})
    assert s["total_images"] is None and s["batch_size"] == "auto" and s["weights"] is None


@pytest.mark.parametrize("env, named", [
    ({"WORKLOAD_MODE": "video"}, "WORKLOAD_MODE"),
    ({"PRECISION": "int4"}, "PRECISION"),
    ({"DECODE": "opencv"}, "DECODE"),
    ({"BATCH_SIZE": "big"}, "BATCH_SIZE"),
    ({"BATCH_SIZE": "0"}, "BATCH_SIZE"),
    ({"TOTAL_JOBS": "0"}, "TOTAL_JOBS"),
    ({"JOB_COMPLETION_INDEX": "3", "TOTAL_JOBS": "3"}, "JOB_COMPLETION_INDEX"),
    ({"JOB_COMPLETION_INDEX": "x"}, "JOB_COMPLETION_INDEX"),
    ({"TOTAL_IMAGES": "-5"}, "TOTAL_IMAGES"),
    ({"NUM_WORKERS": "-1"}, "NUM_WORKERS"),
    ({"WARMUP_BATCHES": "-1"}, "WARMUP_BATCHES"),
    ({"PREFETCH_BATCHES": "0"}, "PREFETCH_BATCHES"),
    ({"WEIGHTS": "/nonexistent/resnet50.pth"}, "WEIGHTS"),
])
def test_bad_settings_are_named(env, named):
    with pytest.raises(jc_infer.SettingsError, match=named):
        jc_infer.parse_settings([], environ=env)


# --- dataset --------------------------------------------------------------------------------

def test_list_images_is_sorted_recursive_and_case_insensitive(tmp_path):
    for rel in ("b.jpg", "a.JPEG", "sub/c.Jpg", "notes.txt", "manifest.json", "d.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert jc_infer.list_images(str(tmp_path)) == ["a.JPEG", "b.jpg", "sub/c.Jpg"]


def test_list_images_names_files_two_levels_down_relative_to_the_root(tmp_path):
    for rel in ("z/y/e.jpg", "z/d.jpg", "a/b/c/f.jpeg", "a.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert jc_infer.list_images(str(tmp_path) + "/") == ["a.jpg", "a/b/c/f.jpeg", "z/d.jpg", "z/y/e.jpg"]


def test_missing_image_dir_is_a_settings_error(tmp_path):
    with pytest.raises(jc_infer.SettingsError, match="IMAGE_DIR"):
        jc_infer.list_images(str(tmp_path / "absent"))


@pytest.mark.parametrize("content, expected", [
    ('{"version": 1, "count": 12, "files": []}', 12),
    ('{"version": 1, "count": "12"}', None),
    ('{"version": 1, "count": true}', None),
    ("not json", None),
    ("[1, 2]", None),
])
def test_manifest_count(tmp_path, content, expected):
    (tmp_path / "manifest.json").write_text(content)
    assert jc_infer.manifest_count(str(tmp_path)) == expected


def test_manifest_count_without_manifest(tmp_path):
    assert jc_infer.manifest_count(str(tmp_path)) is None


def test_plan_caps_files_before_partitioning(tmp_path):
    for i in range(10):
        (tmp_path / ("img_%02d.jpg" % i)).write_bytes(b"x")
    settings = jc_infer.parse_settings(["--image-dir", str(tmp_path), "--total-images", "7",
                                        "--total-jobs", "2", "--index", "1"], environ={})
    plan = jc_infer.plan_work(settings)
    assert (plan["start"], plan["end"], plan["dataset_count"]) == (3, 7, 10)
    assert [os.path.basename(f) for f in plan["files"]] == ["img_03.jpg", "img_04.jpg", "img_05.jpg", "img_06.jpg"]


@pytest.mark.parametrize("suffix", ["", "/"])
def test_planned_paths_are_the_root_joined_with_each_name(tmp_path, suffix):
    (tmp_path / "b").mkdir()
    for rel in ("a.jpg", "b/c.JPEG", "b/d.jpg"):
        (tmp_path / rel).write_bytes(b"x")
    root = str(tmp_path) + suffix
    plan = jc_infer.plan_work(jc_infer.parse_settings(["--image-dir", root], environ={}))
    assert plan["files"] == [os.path.join(root, rel) for rel in ("a.jpg", "b/c.JPEG", "b/d.jpg")]
    assert all(os.path.isfile(f) for f in plan["files"])


def test_empty_image_dir_exits_2_naming_the_directory(tmp_path):
    # An NFS mount point that is not mounted: the directory is there, the images are not.
    rc, lines, err = run_script(env={"IMAGE_DIR": str(tmp_path), "DEVICE": "cpu"})
    assert rc == 2, err
    assert lines[-1]["images"] == 0 and str(tmp_path) in lines[-1]["error"]
    assert "holds no JPEG images" in lines[-1]["error"] and "ERROR" in err


def test_fewer_images_than_the_manifest_lists_exits_2_with_both_counts(tmp_path):
    for i in range(3):
        (tmp_path / ("img_%02d.jpg" % i)).write_bytes(b"x")
    (tmp_path / "manifest.json").write_text('{"version": 1, "count": 100, "files": []}')
    rc, lines, err = run_script(env={"IMAGE_DIR": str(tmp_path), "DEVICE": "cpu"})
    assert rc == 2, err
    message = lines[-1]["error"]
    assert str(tmp_path) in message and "holds 3 JPEG images" in message and "lists 100" in message


def test_empty_directory_with_an_empty_manifest_is_still_refused(tmp_path):
    (tmp_path / "manifest.json").write_text('{"version": 1, "count": 0, "files": []}')
    settings = jc_infer.parse_settings(["--image-dir", str(tmp_path)], environ={})
    with pytest.raises(jc_infer.SettingsError, match="holds no JPEG images"):
        jc_infer.plan_work(settings)


def test_more_images_than_the_manifest_lists_are_all_planned(tmp_path):
    for i in range(5):
        (tmp_path / ("img_%02d.jpg" % i)).write_bytes(b"x")
    (tmp_path / "manifest.json").write_text('{"version": 1, "count": 4, "files": []}')
    plan = jc_infer.plan_work(jc_infer.parse_settings(["--image-dir", str(tmp_path)], environ={}))
    assert (plan["dataset_count"], plan["manifest_count"], len(plan["files"])) == (5, 4, 5)


def test_plan_reads_the_manifest_once(tmp_path, monkeypatch):
    import jc_infer.dataset as dataset

    for i in range(3):
        (tmp_path / ("img_%d.jpg" % i)).write_bytes(b"x")
    (tmp_path / "manifest.json").write_text('{"version": 1, "count": 3, "files": []}')
    reads = []
    monkeypatch.setattr(dataset, "manifest_count", lambda root: reads.append(root) or 3)
    plan = dataset.plan_work(jc_infer.parse_settings(["--image-dir", str(tmp_path)], environ={}))
    assert (plan["manifest_count"], len(reads)) == (3, 1)


def test_plan_synthetic_defaults_to_the_reference_count():
    plan = jc_infer.plan_work(jc_infer.parse_settings(["--mode", "synthetic", "--total-jobs", "3",
                                                       "--index", "2"], environ={}))
    assert plan["files"] is None and (plan["start"], plan["end"]) == (800, 1200)


# --- geometry -------------------------------------------------------------------------------

@pytest.mark.parametrize("height, width, expected", [
    (375, 500, (23, 86, 328, 328)),   # the dataset's shape: 224 * 375 / 256 = 328.1
    (500, 375, (86, 23, 328, 328)),   # portrait
    (256, 256, (16, 16, 224, 224)),   # already at the resize size: a plain centre crop
    (80, 100, (5, 15, 70, 70)),       # smaller than the crop: upscaled
    (1, 1000, (0, 499, 1, 1)),        # degenerate but valid
])
def test_crop_box(height, width, expected):
    assert jc_infer.crop_box(height, width) == expected


def test_pil_crop_resize_gives_the_model_input_size(tmp_path):
    img = jc_infer.pil_crop_resize(str(write_jpeg(tmp_path / "a.jpg")))
    assert img.size == (224, 224) and img.mode == "RGB"


def test_pil_crop_resize_turns_greyscale_into_rgb(tmp_path):
    img = jc_infer.pil_crop_resize(str(write_jpeg(tmp_path / "g.jpg", size=(300, 200), mode="L")))
    assert img.size == (224, 224) and img.mode == "RGB"


def test_pil_crop_resize_raises_on_garbage(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(Exception):
        jc_infer.pil_crop_resize(str(bad))


# --- errors, result line --------------------------------------------------------------------

def test_error_log_counts_all_and_keeps_a_few_examples():
    log = jc_infer.ErrorLog()
    for i in range(12):
        log.add("/data/images/img_%02d.jpg" % i, ValueError("broken data\nsecond line"))
    assert log.count == 12
    assert log.samples[0] == "img_00.jpg: broken data" and len(log.samples) == jc_infer.MAX_ERROR_SAMPLES


def test_error_log_names_exceptions_without_message():
    log = jc_infer.ErrorLog()
    log.add("x.jpg", KeyError())
    assert log.samples == ["x.jpg: KeyError"]


def test_result_has_contract_keys_and_throughput():
    settings = jc_infer.parse_settings(["--index", "1", "--total-jobs", "2"], environ={})
    plan = {"start": 5, "end": 10, "dataset_count": 10, "manifest_count": 10, "files": []}
    errors = jc_infer.ErrorLog()
    errors.add("bad.jpg", "corrupt")
    result = jc_infer.build_result(settings, plan, 4, errors, 2.0, 0.5, {"import": 1.0, "model_load": 0.25},
                                   "cuda:0", "NVIDIA H100", 256, "fp16", "gpu")
    assert CONTRACT_KEYS <= set(result)
    assert (result["images"], result["errors"], result["assigned"], result["throughput"]) == (4, 1, 5, 2.0)
    assert result["startup_seconds"] == 1.25 and result["partition"] == [5, 10]


def test_result_throughput_is_zero_without_time():
    settings = jc_infer.parse_settings([], environ={})
    plan = {"start": 0, "end": 0, "dataset_count": 0, "manifest_count": None, "files": []}
    result = jc_infer.build_result(settings, plan, 0, jc_infer.ErrorLog(), 0.0, 0.0, {}, "none", "none",
                                   "auto", "auto", "none")
    assert result["throughput"] == 0.0


@pytest.mark.parametrize("text, expected", [
    ("1.10.0", (1, 10)), ("1.13.1", (1, 13)), ("2.11.0+cu130", (2, 11)), ("0.11.0a0+05eae32", (0, 11)),
    ("0.26.0", (0, 26)), ("2", (2, 0)),
])
def test_version_tuple(text, expected):
    assert jc_infer.version_tuple(text) == expected


@pytest.mark.parametrize("decode, cpus, expected", [
    ("cpu", 16, 15), ("cpu", 4, 3), ("cpu", 1, 1), ("cpu", 128, 32),   # every core but one
    ("gpu", 16, 0), ("gpu", 4, 0),                                     # no CPU helpers unless asked
    ("dali", 16, 4), ("dali", 2, 2),                                   # DALI's own threads
])
def test_auto_workers(decode, cpus, expected):
    assert jc_infer.auto_workers(decode, cpus) == expected


def test_dispenser_hands_out_every_item_once_across_threads():
    import threading

    dispenser = jc_infer.WorkDispenser(1000)
    taken = []

    def consume(size):
        while True:
            span = dispenser.take(size)
            if span is None:
                return
            taken.extend(range(*span))
    threads = [threading.Thread(target=consume, args=(size,)) for size in (7, 32, 256)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1000))


def test_dispenser_gives_a_short_last_span_then_none():
    dispenser = jc_infer.WorkDispenser(10)
    assert [dispenser.take(4) for _ in range(4)] == [(0, 4), (4, 8), (8, 10), None]


@pytest.mark.parametrize("args, expected", [
    ([], False),                                                   # measured slower without MPS: opt-in
    (["--decode-process", "on"], True),
    (["--decode-process", "on", "--decode", "gpu"], True),
    (["--decode-process", "on", "--mode", "synthetic"], False),
    (["--decode-process", "on", "--device", "cpu"], False),
    (["--decode-process", "on", "--decode", "cpu"], False),
    (["--decode-process", "on", "--num-workers", "4"], False),     # CPU helpers run in-process
])
def test_when_a_decode_process_is_started(args, expected):
    assert jc_infer.want_decode_process(jc_infer.parse_settings(args, environ={})) is expected


# --- the program as the cluster runs it (no torch needed for these paths) ---------------------

def test_index_without_images_reports_at_once(tmp_path):
    for i in range(2):
        write_jpeg(tmp_path / ("img_%d.jpg" % i))
    rc, lines, err = run_script(env={"IMAGE_DIR": str(tmp_path), "TOTAL_JOBS": "5", "JOB_COMPLETION_INDEX": "3"})
    assert rc == 0 and len(lines) == 1
    assert (lines[0]["images"], lines[0]["errors"], lines[0]["assigned"], lines[0]["index"]) == (0, 0, 0, 3)
    assert "no images assigned" in err


STARTUP_PARTS_WITHOUT_TORCH = {"interpreter", "file_listing"}
STARTUP_PARTS = STARTUP_PARTS_WITHOUT_TORCH | {"import_torch", "import_torchvision", "device_init", "model_build",
                                               "weights"}
WARMUP_PARTS = {"autotune", "graph_capture", "decoder"}


def assert_fixed_time_adds_up(result):
    """The time outside the timed window: startup parts sum to startup_seconds, and startup + warm-up +
    other to fixed_seconds = process_seconds - seconds (each rounded to 1e-6)."""
    assert abs(sum(result["startup"].values()) - result["startup_seconds"]) < 1e-5
    assert all(v >= 0 for v in result["startup"].values())
    assert abs(result["process_seconds"] - result["seconds"] - result["fixed_seconds"]) < 1e-5
    fixed = result["fixed"]
    assert fixed["startup"] == result["startup_seconds"] and fixed["warmup"] == result["warmup_seconds"]
    assert abs(sum(fixed.values()) - result["fixed_seconds"]) < 1e-5


def test_result_line_breaks_down_the_time_outside_the_window_without_torch(tmp_path):
    for i in range(2):
        write_jpeg(tmp_path / ("img_%d.jpg" % i))
    rc, lines, err = run_script(env={"IMAGE_DIR": str(tmp_path), "TOTAL_JOBS": "5", "JOB_COMPLETION_INDEX": "3"})
    assert rc == 0 and len(lines) == 1, err
    result = lines[0]
    assert set(result["startup"]) == STARTUP_PARTS_WITHOUT_TORCH
    assert_fixed_time_adds_up(result)
    assert 0 < result["process_seconds"] < 60 and result["fixed"]["other"] > -0.02  # /proc counts in 10 ms ticks


def test_add_process_seconds_splits_the_fixed_time():
    settings = jc_infer.parse_settings([], environ={})
    plan = {"start": 0, "end": 8, "dataset_count": 8, "manifest_count": None, "files": []}
    result = jc_infer.build_result(settings, plan, 8, jc_infer.ErrorLog(), 2.0, 1.5,
                                   {"interpreter": 0.1, "import_torch": 3.0, "model_build": 0.4}, "cuda:0", "H200",
                                   256, "fp16", "gpu", {"warmup": {"autotune": 1.0, "graph_capture": 0.5}})
    jc_infer.add_process_seconds(result, age=8.0)
    assert (result["process_seconds"], result["fixed_seconds"]) == (8.0, 6.0)
    assert result["fixed"] == {"startup": 3.5, "warmup": 1.5, "other": 1.0}
    assert_fixed_time_adds_up(result)


def test_bad_setting_exits_2_with_one_json_error_line():
    rc, lines, err = run_script("--precision", "int4")
    assert rc == 2 and len(lines) == 1 and "PRECISION" in lines[0]["error"] and "PRECISION" in err


def test_missing_dataset_exits_2(tmp_path):
    rc, lines, _ = run_script(env={"IMAGE_DIR": str(tmp_path / "absent")})
    assert rc == 2 and "IMAGE_DIR" in lines[0]["error"]


@pytest.mark.parametrize("cuda, expected", [("13.0", True), ("11.8", True), ("10.2", False), (None, False)])
def test_cuda_graphs_by_default_only_with_a_cuda_11_build(cuda, expected):
    from types import SimpleNamespace

    assert jc_infer.graphs_by_default(SimpleNamespace(version=SimpleNamespace(cuda=cuda))) is expected


def test_cuda_connections_default_to_16_and_the_environment_wins():
    environ = {}
    assert jc_infer.set_cuda_connections(environ) == "16"
    assert environ == {"CUDA_DEVICE_MAX_CONNECTIONS": "16"}
    environ = {"CUDA_DEVICE_MAX_CONNECTIONS": "8"}
    assert jc_infer.set_cuda_connections(environ) == "8"
    assert environ == {"CUDA_DEVICE_MAX_CONNECTIONS": "8"}


def test_interpreter_seconds_is_not_negative():
    assert jc_infer.interpreter_seconds() >= 0.0


# --- with torch (CPU): the model and the pipelines ------------------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def image_dir(tmp_path):
    """9 good images (two shapes, one greyscale) and 3 bad files, interleaved by name."""
    for i in range(9):
        size = (500, 375) if i % 3 else (375, 500)
        write_jpeg(tmp_path / ("img_%02d.jpg" % (2 * i)), size=size, mode="L" if i == 4 else "RGB", seed=i)
    (tmp_path / "img_03.jpg").write_bytes(b"")                                    # empty
    (tmp_path / "img_07.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage" * 10)         # not a JPEG
    good = (tmp_path / "img_00.jpg").read_bytes()
    (tmp_path / "img_11.jpg").write_bytes(good[:40])                              # truncated header
    return tmp_path


def cpu_runtime(**overrides):
    settings = jc_infer.parse_settings(["--device", "cpu", "--batch-size", "4", "--cuda-graphs", "off"], environ={})
    settings.update(overrides)
    return jc_infer.Runtime(settings, {})


def test_gpu_crop_resize_matches_pillow(torch, tmp_path):
    import numpy as np
    from torchvision.io import ImageReadMode, decode_jpeg

    path = tmp_path / "photo.jpg"
    rng = np.random.RandomState(0)
    from PIL import Image, ImageFilter
    Image.fromarray(rng.randint(0, 255, (375, 500, 3)).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(4)).save(path, quality=95)
    rt = cpu_runtime()
    decoded = decode_jpeg(torch.from_numpy(np.fromfile(str(path), dtype=np.uint8)), mode=ImageReadMode.RGB)
    ours = rt.gpu_crop_resize([decoded, decoded])
    ref = rt.normalize_nhwc(torch.from_numpy(np.array(jc_infer.pil_crop_resize(str(path))))[None])
    assert ours.shape == (2, 3, 224, 224)
    assert (ours[0] - ref[0]).abs().mean().item() < 0.05  # normalized units; decoders differ in rounding


def test_gpu_crop_resize_keeps_order_across_shapes(torch):
    rt = cpu_runtime()
    images = [torch.full((3, h, w), v, dtype=torch.uint8) for v, (h, w) in
              zip((10, 200, 30, 250), ((375, 500), (500, 375), (375, 500), (300, 300)))]
    out = rt.gpu_crop_resize(images)
    raw = out.float() / rt.inv_std + rt.mean  # undo the normalization
    assert [round(raw[i].mean().item()) for i in range(4)] == [10, 200, 30, 250]


def test_decode_pipeline_counts_bad_files_and_keeps_the_good(torch, image_dir):
    rt = cpu_runtime()
    files = [os.path.join(str(image_dir), f) for f in jc_infer.list_images(str(image_dir))]
    errors = jc_infer.ErrorLog()
    pipe = jc_infer.GpuDecodePipeline(rt, files, 2, errors, 2)
    counts = [n for _, n in pipe]
    assert sum(counts) == 9 and errors.count == 3
    assert sorted(s.split(":")[0] for s in errors.samples) == ["img_03.jpg", "img_07.jpg", "img_11.jpg"]
    # torchvision >= 0.19 decodes a list in one call; a batch holding a bad file is redone image by
    # image. Older ones (Debian's 0.14, JetPack's 0.11) decode image by image from the start.
    assert pipe.fallbacks >= 1 if rt.batched_nvjpeg else pipe.fallbacks == 0


def test_decode_pipeline_with_cpu_helpers_shares_the_files(torch, tmp_path):
    for i in range(300):
        write_jpeg(tmp_path / ("img_%03d.jpg" % i), size=(64, 48), seed=i)
    (tmp_path / "img_150.jpg").write_bytes(b"broken")
    rt = cpu_runtime()
    rt.batch_size = 8
    files = [os.path.join(str(tmp_path), f) for f in jc_infer.list_images(str(tmp_path))]
    errors = jc_infer.ErrorLog()
    pipe = jc_infer.GpuDecodePipeline(rt, files, 2, errors, 2, cpu_workers=2)
    batches = list(pipe)
    assert sum(n for _, n in batches) == 299 and errors.count == 1
    assert pipe.by_path["nvjpeg"] + pipe.by_path["cpu"] == 300
    assert pipe.by_path["cpu"] > 0 and pipe.by_path["nvjpeg"] > 0
    assert all(b.shape[0] == n and b.shape[1:] == (3, 224, 224) for b, n in batches)


def test_cpu_helpers_are_forked_before_the_pipeline_starts_a_thread(torch, tmp_path, monkeypatch):
    # A DataLoader worker forked while the reader threads ran hung on an inherited lock (7 of 20 runs
    # of the test above in Debian's torch container); the workers now start before any thread.
    import threading

    for i in range(40):
        write_jpeg(tmp_path / ("img_%03d.jpg" % i), size=(64, 48), seed=i)
    rt = cpu_runtime()
    files = [os.path.join(str(tmp_path), f) for f in jc_infer.list_images(str(tmp_path))]
    pipe = jc_infer.GpuDecodePipeline(rt, files, 2, jc_infer.ErrorLog(), 2, cpu_workers=1)
    events = []
    start_workers = pipe._start_cpu_workers
    monkeypatch.setattr(pipe, "_start_cpu_workers", lambda: events.append("fork") or start_workers())
    thread_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: events.append("thread") or thread_start(self))
    assert sum(n for _, n in pipe) == 40
    assert events[0] == "fork" and events.count("fork") == 1 and "thread" in events


def test_decode_process_streams_batches_and_counts_bad_files(torch, image_dir, monkeypatch):
    # The child is spawned and unpickles its target by module name (jc_infer.decoders), as in a pod.
    rt = cpu_runtime()
    files = [os.path.join(str(image_dir), f) for f in jc_infer.list_images(str(image_dir))]
    errors = jc_infer.ErrorLog()
    dp = jc_infer.DecodeProcess()
    try:
        dp.start(rt, files, 2, 2)
        batches = list(dp.batches(rt, errors))
    finally:
        dp.close()
    assert sum(n for _, n in batches) == 9 and errors.count == 3
    assert all(b.shape == (n, 3, 224, 224) for b, n in batches)
    assert not dp.proc.is_alive()


def test_cpu_decode_workers_count_bad_files(torch, image_dir):
    rt = cpu_runtime()
    files = [os.path.join(str(image_dir), f) for f in jc_infer.list_images(str(image_dir))]
    errors = jc_infer.ErrorLog()
    batches = list(jc_infer.cpu_decode_batches(rt, files, 2, errors, 2))
    assert sum(n for _, n in batches) == 9 and errors.count == 3
    assert all(b.shape[1:] == (3, 224, 224) and b.is_contiguous(memory_format=torch.channels_last)
               for b, _ in batches)


@pytest.mark.parametrize("decode", ["cpu", "gpu", "dali"])
def test_files_mode_end_to_end_on_cpu(torch, image_dir, decode):
    # gpu and dali fall back to the CPU decoders when no GPU is there, and say so
    rc, lines, err = run_script(env={"IMAGE_DIR": str(image_dir), "DEVICE": "cpu", "BATCH_SIZE": "4",
                                     "NUM_WORKERS": "2", "DECODE": decode, "TOTAL_JOBS": "2",
                                     "JOB_COMPLETION_INDEX": "1"})
    assert rc == 0, err
    assert len(lines) == 1
    result = lines[0]
    assert CONTRACT_KEYS <= set(result)
    assert result["partition"] == [6, 12] and result["decode"] == "cpu"
    assert result["images"] + result["errors"] == result["assigned"] == 6
    assert result["errors"] == 1  # of the bad files only img_11 (truncated) is in the second half
    assert result["device"] == "cpu" and result["precision"] == "fp32"


@pytest.mark.parametrize("prime", ["auto", "off"])
def test_pipeline_prime_takes_the_first_batch_before_the_window_on_cpu(torch, image_dir, prime):
    # PIPELINE_PRIME (window.py): the source's first batch is ready before the window opens, its wait
    # counted in the warm-up; the window's profile says where the window's time went either way.
    rc, lines, err = run_script(env={"IMAGE_DIR": str(image_dir), "DEVICE": "cpu", "BATCH_SIZE": "2",
                                     "NUM_WORKERS": "1", "DECODE": "cpu", "PIPELINE_PRIME": prime})
    assert rc == 0, err
    result = lines[0]
    assert result["images"] + result["errors"] == result["assigned"] == 12
    assert result["pipeline_primed"] is (prime == "auto")
    assert ("pipeline_fill" in result["warmup"]) is (prime == "auto")
    assert sum(result["warmup"].values()) <= result["warmup_seconds"] + 1e-5
    profile = result["window_profile"]
    assert profile["batches"] >= (result["images"] + 1) // 2
    assert abs(profile["seconds"] - result["seconds"]) < 1e-5
    assert profile["first_batch"] >= 0 and profile["tail"] >= 0 and profile["interval"] >= 0
    assert 0 <= result["after_window_seconds"] <= result["fixed"]["other"] + 0.02  # /proc ticks
    assert_fixed_time_adds_up(result)


def test_synthetic_mode_end_to_end_on_cpu(torch):
    rc, lines, err = run_script("--mode", "synthetic", "--total-images", "10", "--total-jobs", "3",
                                "--index", "2", "--device", "cpu", "--batch-size", "3", "--warmup-batches", "1")
    assert rc == 0, err
    assert (lines[0]["images"], lines[0]["errors"], lines[0]["decode"]) == (4, 0, "none")
    assert lines[0]["seconds"] > 0 and lines[0]["throughput"] > 0
    # every phase outside the timed window is in the line and they add up (the process exits with os._exit)
    assert set(lines[0]["startup"]) == STARTUP_PARTS and set(lines[0]["warmup"]) == WARMUP_PARTS
    assert_fixed_time_adds_up(lines[0])
    assert 0 <= sum(lines[0]["warmup"].values()) <= lines[0]["warmup_seconds"] + 1e-5
    assert lines[0]["startup"]["weights"] < 0.05  # no WEIGHTS file


def test_resnet_built_on_a_device_matches_torchvisions_layout_and_init(torch):
    """The GPU path creates ResNet-50's parameters on the device (device=, torch >= 1.9) and initialises
    them there: same parameter names, shapes and dtypes as torchvision's, torchvision's init statistics."""
    import torchvision

    from jc_infer.resnet import factory_kwargs_supported, resnet50

    assert factory_kwargs_supported(torch)
    reference = torchvision.models.resnet50()
    model = resnet50(torch, device=torch.device("cpu"))
    got, want = model.state_dict(), reference.state_dict()
    assert list(got) == list(want)
    assert all(got[k].shape == want[k].shape and got[k].dtype == want[k].dtype for k in want)
    assert all(bool(torch.isfinite(v.float()).all()) for v in got.values())
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert bool((m.running_var == 1).all() and (m.running_mean == 0).all() and (m.weight == 1).all())
            assert int(m.num_batches_tracked) == 0
    conv = model.layer1[0].conv2.weight.detach()  # kaiming_normal_(fan_out, relu): std sqrt(2 / (64 * 3 * 3))
    assert abs(float(conv.std()) - (2.0 / (64 * 9)) ** 0.5) < 0.1 * (2.0 / (64 * 9)) ** 0.5
    model.eval()
    out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 1000) and bool(torch.isfinite(out).all())


def test_short_batch_is_padded_to_the_full_size_and_trimmed_back(torch):
    rt = cpu_runtime()
    x = rt.synthetic_batch(3)
    plain = rt.infer(x).clone()
    rt.pad_partial = True  # as on a GPU
    seen = []
    forward = rt._forward
    rt._forward = lambda batch: seen.append(tuple(batch.shape)) or forward(batch)
    padded = rt.infer(x)
    assert seen == [(4, 3, 224, 224)]
    assert padded.shape == (3,) and torch.equal(padded, plain)
    assert sum(int(p.numel()) for p in rt.predictions) == 6


def test_fp16_request_on_cpu_falls_back_to_fp32(torch):
    rt = cpu_runtime(precision="fp16")
    assert rt.precision == "fp32"


def test_weights_file_is_loaded(torch, tmp_path):
    import torchvision

    model = torchvision.models.resnet50()
    with torch.no_grad():
        model.fc.bias.fill_(0.0)
        model.fc.bias[7] = 1000.0  # every image becomes class 7
    path = tmp_path / "w.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, str(path))
    rt = cpu_runtime(weights=str(path))
    assert rt.infer(rt.synthetic_batch(2)).tolist() == [7, 7]


def test_weights_of_another_model_are_a_settings_error(torch, tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(jc_infer.SettingsError, match="does not fit"):
        cpu_runtime(weights=str(path))


class _FakeRuntime(object):
    def __init__(self, cuda, gpu_decode_ok):
        self.cuda, self.gpu_decode_ok = cuda, gpu_decode_ok


@pytest.mark.parametrize("wanted, cuda, gpu_ok, mode, expected", [
    ("auto", True, True, "files", "gpu"),
    ("auto", False, False, "files", "cpu"),
    ("gpu", False, False, "files", "cpu"),
    ("cpu", True, True, "files", "cpu"),
    ("nvimgcodec", True, True, "files", "gpu"),    # nvImageCodec is not installed here
    ("nvimgcodec", False, False, "files", "cpu"),
    ("dali", True, True, "files", "gpu"),          # neither is DALI
    ("dali", False, False, "files", "cpu"),
    ("gpu", True, True, "synthetic", "none"),
], ids=lambda v: str(v))
def test_decode_falls_back_to_what_is_installed(monkeypatch, wanted, cuda, gpu_ok, mode, expected):
    real_import = importlib.import_module

    def no_optional_decoders(name):
        if name.startswith("nvidia."):
            raise ImportError(name)
        return real_import(name)
    monkeypatch.setattr(importlib, "import_module", no_optional_decoders)
    assert jc_infer.resolve_decode(_FakeRuntime(cuda, gpu_ok), wanted, mode) == expected


def test_nvimgcodec_is_a_decode_choice():
    assert jc_infer.parse_settings(["--decode", "nvimgcodec"], environ={})["decode"] == "nvimgcodec"


# --- without `import torchvision` (issue 15): jc_infer's ResNet-50 and torchvision's image extension alone ---

def test_own_resnet50_takes_a_torchvision_state_dict_and_gives_the_same_outputs(torch):
    """A torchvision ResNet-50 state_dict (what a local WEIGHTS file holds) loads into
    jc_infer.resnet.resnet50 with strict key matching, and both models give the same logits."""
    import torchvision

    from jc_infer.resnet import resnet50

    torch.manual_seed(0)
    reference = torchvision.models.resnet50().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that eval mode uses them
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    ours = resnet50(torch).eval()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), rtol=1e-4, atol=1e-4)


def test_own_resnet50_is_initialised_like_torchvisions(torch):
    from jc_infer.resnet import resnet50

    model = resnet50(torch)
    assert sum(p.numel() for p in model.parameters()) == 25557032  # torchvision's resnet50 num_params
    conv = model.layer3[0].conv2.weight.detach()  # Kaiming normal, fan_out, relu: std = sqrt(2 / (256 * 9))
    assert abs(float(conv.std()) - (2.0 / (256 * 9)) ** 0.5) < 0.002
    assert float(model.layer1[0].bn1.weight.min()) == 1.0 and float(model.layer1[0].bn1.bias.abs().max()) == 0.0


IMAGE_OPS_CHECK = r'''
import json, sys
import numpy as np
import torch
from jc_infer.tvimage import ImageOps
ops = ImageOps(torch)
out = {"source": ops.source, "version": ops.version, "torchvision_imported": "torchvision" in sys.modules}
data = torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.uint8))
batched = ops.source == "extension"  # lists of files: torchvision >= 0.19 (the extension path) only
mine = ops.decode_jpeg(data, torch.device("cpu"))
batch = ops.decode_jpeg([data, data], torch.device("cpu")) if batched else [mine, mine]
image = ops.decode_image(data)
from torchvision.io import ImageReadMode, decode_jpeg
ref = decode_jpeg(data, mode=ImageReadMode.RGB)
out["cpu_equal"] = bool(torch.equal(mine, ref) and torch.equal(batch[1], ref) and torch.equal(image, ref))
if torch.cuda.is_available():
    dev = torch.device("cuda", 0)
    got = ops.decode_jpeg([data, data], dev) if batched else [ops.decode_jpeg(data, dev)]
    ref_gpu = decode_jpeg([data, data] if batched else data, mode=ImageReadMode.RGB, device=dev)
    ref_gpu = ref_gpu if batched else [ref_gpu]
    out["cuda_equal"] = all(bool(torch.equal(a, b)) for a, b in zip(got, ref_gpu))
print(json.dumps(out))
'''


def test_image_ops_decode_like_torchvision_io_without_importing_the_package(torch, tmp_path):
    """In a fresh process (nothing imported torchvision yet): torchvision >= 0.19 is reached through its
    image extension alone, the package's __init__ never runs, and the decoders give torchvision.io's
    pixels (CPU; and nvJPEG where there is a GPU)."""
    torchvision = pytest.importorskip("torchvision")
    path = tmp_path / "img.jpg"
    write_jpeg(path, size=(500, 375))
    proc = subprocess.run([sys.executable, "-c", IMAGE_OPS_CHECK, str(path)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(PACKAGE_PARENT)), check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    newer = jc_infer.version_tuple(torchvision.__version__) >= (0, 19)
    assert out["source"] == ("extension" if newer else "package")
    assert out["torchvision_imported"] is (not newer)
    assert out["cpu_equal"] and out.get("cuda_equal", True)


def test_image_ops_can_be_told_to_use_the_package(torch):
    pytest.importorskip("torchvision")
    from jc_infer.tvimage import ImageOps

    assert ImageOps(torch, environ={"TORCHVISION_IMAGE_OPS": "package"}).source == "package"


@pytest.mark.parametrize("setting, autotune", [("auto", False), ("on", True), ("off", False)])
def test_cudnn_autotuning_is_off_unless_asked_for(setting, autotune):
    from jc_infer.runtime import cudnn_benchmark

    assert cudnn_benchmark(setting) is autotune


@pytest.mark.parametrize("setting, autotuning, expected", [
    ("auto", False, True), ("auto", True, False), ("on", True, True), ("off", False, False)])
def test_decoder_warms_up_beside_the_model_only_without_autotuning_by_default(setting, autotuning, expected):
    from jc_infer.runtime import warmup_overlap

    assert warmup_overlap(setting, autotuning) is expected


def test_new_settings_are_validated():
    assert jc_infer.parse_settings([], environ={"CUDNN_BENCHMARK": "ON"})["cudnn_benchmark"] == "on"
    with pytest.raises(jc_infer.SettingsError, match="WARMUP_OVERLAP"):
        jc_infer.parse_settings([], environ={"WARMUP_OVERLAP": "sometimes"})
