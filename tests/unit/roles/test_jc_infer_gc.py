# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""jc_infer/gcpause.py: Python's collector off through the imports and the warm-up, then frozen, and
every collection counted by the phase it fell in."""

import gc
import sys
from pathlib import Path

import jc_infer
import pytest
from jc_infer.gcpause import PHASES, GcWatch, freeze_decision


class FakeGc(object):
    """The parts of the gc module GcWatch uses; collect(g) runs the callbacks like the real one."""

    def __init__(self, freeze=True, callbacks=True, enabled=True):
        self.enabled = enabled
        self.frozen = 0
        self.objects = 1000
        if callbacks:
            self.callbacks = []
        if freeze:
            self.freeze = self._freeze

    def isenabled(self):
        return self.enabled

    def disable(self):
        self.enabled = False

    def enable(self):
        self.enabled = True

    def _freeze(self):
        self.frozen += self.objects

    def collect(self, generation, clock, seconds):
        for cb in self.callbacks:
            cb("start", {"generation": generation})
        clock.now += seconds
        for cb in self.callbacks:
            cb("stop", {"generation": generation, "collected": 0, "uncollectable": 0})


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("setting, gc_module, expected", [
    ("auto", FakeGc(), (True, "")),
    ("on", FakeGc(), (True, "")),
    ("off", FakeGc(), (False, "GC_FREEZE=off")),
    ("auto", FakeGc(freeze=False), (False, "this Python has no gc.freeze (3.7+)")),
    ("on", FakeGc(freeze=False), (False, "this Python has no gc.freeze (3.7+)")),
])
def test_freeze_only_where_it_is_wanted_and_possible(setting, gc_module, expected):
    assert freeze_decision(setting, gc_module) == expected


def test_the_setting_is_validated():
    assert jc_infer.parse_settings([], environ={})["gc_freeze"] == "auto"
    assert jc_infer.parse_settings([], environ={"GC_FREEZE": "Off"})["gc_freeze"] == "off"
    assert jc_infer.parse_settings(["--gc-freeze", "on"], environ={})["gc_freeze"] == "on"
    with pytest.raises(jc_infer.SettingsError, match="GC_FREEZE='later' is not one of auto, on, off"):
        jc_infer.parse_settings([], environ={"GC_FREEZE": "later"})


def test_collector_off_until_release_then_frozen_and_on_again():
    fake, clock = FakeGc(), Clock()
    watch = GcWatch("auto", fake, clock)
    assert not fake.enabled and fake.callbacks == [watch._callback]
    fake.collect(0, clock, 0.001)                    # an explicit collection in the start-up
    watch.phase("warmup")
    fake.collect(2, clock, 0.120)
    fake.collect(2, clock, 0.080)
    watch.release()
    assert fake.enabled and fake.frozen == 1000
    watch.release()                                  # once only
    assert fake.frozen == 1000
    watch.phase("window")
    fake.collect(1, clock, 0.002)
    watch.phase("after")
    watch.close()
    assert fake.callbacks == [] and fake.enabled
    fake.collect(2, clock, 5.0)                      # no longer counted
    report = watch.report()
    assert report["freeze"] == "on" and report["freeze_seconds"] == 0.0 and "reason" not in report
    assert report["startup"] == {"collections": [1, 0, 0], "seconds": 0.001, "longest": 0.001}
    assert report["warmup"] == {"collections": [0, 0, 2], "seconds": 0.2, "longest": 0.12}
    assert report["window"] == {"collections": [0, 1, 0], "seconds": 0.002, "longest": 0.002}
    assert report["after"] == {"collections": [0, 0, 0], "seconds": 0.0, "longest": 0.0}
    assert set(report) == {"freeze", "freeze_seconds"} | set(PHASES)


def test_off_leaves_the_collector_alone_and_still_counts():
    fake, clock = FakeGc(), Clock()
    watch = GcWatch("off", fake, clock)
    assert fake.enabled
    watch.phase("window")
    fake.collect(2, clock, 0.1)
    watch.release()
    assert fake.frozen == 0 and fake.enabled
    report = watch.report()
    assert report["freeze"] == "off" and report["reason"] == "GC_FREEZE=off" and "freeze_seconds" not in report
    assert report["window"]["collections"] == [0, 0, 1] and report["window"]["longest"] == 0.1


def test_a_collector_the_caller_had_disabled_stays_disabled():
    fake = FakeGc(enabled=False)
    watch = GcWatch("on", fake, Clock())
    watch.release()
    assert fake.frozen == 1000 and not fake.enabled


def test_a_run_that_fails_before_release_gets_its_collector_back():
    fake = FakeGc()
    watch = GcWatch("on", fake, Clock())
    watch.close()
    assert fake.enabled and fake.frozen == 0 and fake.callbacks == []


def test_python_36_without_freeze_is_left_as_it_is():
    fake = FakeGc(freeze=False)
    watch = GcWatch("auto", fake, Clock())
    watch.release()
    watch.close()
    assert fake.enabled and watch.report()["freeze"] == "off"


def test_no_callbacks_says_so_instead_of_zeros():
    fake = FakeGc(callbacks=False)
    watch = GcWatch("auto", fake, Clock())
    watch.release()
    report = watch.report()
    assert report["collections"] == "not recorded (no gc.callbacks)" and "window" not in report


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="unknown phase 'timed'"):
        GcWatch("off", FakeGc(), Clock()).phase("timed")


def test_with_the_real_collector():
    """The real gc module: off until release, explicit collections counted, the objects frozen;
    the test process's collector is restored afterwards."""
    assert gc.isenabled()
    watch = GcWatch("auto")
    try:
        assert not gc.isenabled()
        cycle = []
        cycle.append(cycle)
        del cycle
        watch.phase("warmup")
        gc.collect()
        watch.release()
        assert gc.isenabled() and gc.get_freeze_count() > 1000
        report = watch.report()
        assert report["warmup"]["collections"] == [0, 0, 1] and report["freeze_seconds"] < 0.1
    finally:
        watch.close()
        gc.unfreeze()
    assert gc.isenabled() and watch._callback not in gc.callbacks


def test_main_gives_the_collector_back_on_an_early_return(tmp_path):
    """An index with no images returns before torch; the collector is on again and not watched."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_jc_infer import write_jpeg
    write_jpeg(tmp_path / "img_0.jpg")
    before = list(gc.callbacks)
    assert jc_infer.main(["--image-dir", str(tmp_path), "--total-jobs", "3", "--index", "0"]) == jc_infer.EXIT_OK
    assert gc.isenabled() and gc.callbacks == before and gc.get_freeze_count() == 0


def test_main_gives_the_collector_back_on_bad_input(tmp_path):
    before = list(gc.callbacks)
    assert jc_infer.main(["--image-dir", str(tmp_path / "missing")]) == jc_infer.EXIT_BAD_INPUT
    assert gc.isenabled() and gc.callbacks == before


def test_a_run_reports_its_collections(torch_cpu, tmp_path):
    """python3 -m jc_infer end to end on the CPU: the result line's "gc", frozen before the window; on
    a GPU host also a files run through nvJPEG, with the allocators' counts of its window."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_jc_infer import run_script
    for setting, frozen in (("auto", True), ("off", False)):
        code, lines, err = run_script("--mode", "synthetic", "--total-images", "8", "--device", "cpu",
                                      "--batch-size", "4", "--warmup-batches", "1", env={"GC_FREEZE": setting})
        assert code == 0, err
        report = lines[-1]["gc"]
        assert lines[-1]["window_allocations"] is None  # the CUDA allocators' counts: none on the CPU
        assert report["freeze"] == ("on" if frozen else "off")
        assert ("freeze_seconds" in report) is frozen
        if frozen:  # off through the imports and the warm-up: nothing collected before the freeze
            assert report["startup"]["collections"] == [0, 0, 0] and report["warmup"]["collections"] == [0, 0, 0]
        else:       # `import torch` alone makes enough objects for young collections
            assert report["startup"]["collections"][0] > 0
    if torch_cpu.cuda.is_available():  # the GPU machine (benchmarks/startup_device_run.sh): nvJPEG files
        from test_jc_infer import write_jpeg
        for i in range(24):
            write_jpeg(tmp_path / ("img_%02d.jpg" % i), seed=i)
        code, lines, err = run_script(env={"IMAGE_DIR": str(tmp_path), "BATCH_SIZE": "8"})
        assert code == 0, err
        result = lines[-1]
        assert result["images"] == 24 and result["gc"]["freeze"] == "on"
        assert set(result["window_allocations"]) >= {"device_segments_allocated", "device_segments_freed",
                                                     "alloc_retries"}
        assert all(isinstance(v, int) and v >= 0 for v in result["window_allocations"].values())


@pytest.fixture
def torch_cpu():
    return pytest.importorskip("torch")
