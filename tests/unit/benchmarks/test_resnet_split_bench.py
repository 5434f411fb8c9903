"""benchmarks/resnet_split_bench.py (run on a GPU machine, never in tests): the parts that need no
torch and no GPU, i.e. how a data-parallel run's rate is computed from jc_infer's result lines, the
bound of stages that share one device, and what --one-gpu selects. pytest.ini puts benchmarks/ on
sys.path."""

import math

import pytest
import resnet_split_bench as bench


def line(images, start, end):
    """A jc_infer result line's fields that job_rate reads (throughput as jc_infer computes it)."""
    return {"images": images, "throughput": images / (end - start),
            "timeline": {"warmup_start": start - 1.0, "window_start": start, "window_end": end}}


def test_one_process_rate_is_its_own_throughput():
    fps, summed, overlap = bench.job_rate([line(8192, 100.0, 102.0)])
    assert (fps, summed, overlap) == (4096.0, 4096.0, 1.0)


def test_windows_at_once_count_the_span_of_both():
    fps, summed, overlap = bench.job_rate([line(8192, 100.0, 104.0), line(8192, 100.0, 104.0)])
    assert (fps, summed, overlap) == (4096.0, 4096.0, 1.0)


def test_staggered_windows_are_not_counted_as_if_they_ran_at_once():
    # The second process starts its window 2 s late: the job took 6 s for 16384 images, while the
    # processes' own rates add up to 2 x 4096 as if both had run in the same 4 s.
    fps, summed, overlap = bench.job_rate([line(8192, 100.0, 104.0), line(8192, 102.0, 106.0)])
    assert summed == 4096.0
    assert fps == pytest.approx(16384 / 6.0)
    assert overlap == pytest.approx(0.5)


def test_disjoint_windows_have_no_overlap():
    fps, _, overlap = bench.job_rate([line(100, 0.0, 1.0), line(100, 3.0, 4.0)])
    assert fps == pytest.approx(50.0)
    assert overlap == 0.0


def test_stages_on_one_device_are_bound_by_the_whole_model():
    blocks = {"stem": 10e-6, "layer1": 30e-6, "layer2": 40e-6, "layer3": 60e-6, "layer4": 25e-6, "head": 5e-6}
    # Each stage alone could do 1 / 120 us (a device per stage); sharing one, the 170 us of compute add up.
    bound = bench.shared_device_bound({"bound_fps": 1 / 120e-6}, blocks)
    assert bound == pytest.approx(1 / 170e-6)
    # A stage slower than the whole model's compute (its transfer) stays the bound.
    assert bench.shared_device_bound({"bound_fps": 1 / 300e-6}, blocks) == pytest.approx(1 / 300e-6)


def test_one_gpu_puts_both_stages_and_both_processes_on_gpu_0():
    args = bench.parse_args(["--out", "x", "--one-gpu"])
    assert (args.devices, args.infer_gpus) == ("cuda:0,cuda:0", "0,0")
    default = bench.parse_args(["--out", "x"])
    assert (default.devices, default.infer_gpus, default.infer_images) == ("cuda:0,cuda:1", "0,1", 0)


def test_a_zero_span_gives_nan_not_an_error():
    fps, _, _ = bench.job_rate([line(0, 5.0, 5.0 + 1e-9)])
    assert fps == 0.0
    fps, _, overlap = bench.job_rate([{"images": 1, "throughput": 0.0,
                                       "timeline": {"window_start": 1.0, "window_end": 1.0}}])
    assert math.isnan(fps) and math.isnan(overlap)
