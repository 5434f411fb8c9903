"""jc_infer/window.py: the timed window's edges (issue 15) -- a batch source primed before the window
(PIPELINE_PRIME) and the window's profile (first batch, steady interval, tail, excess). No torch."""

import itertools

import jc_infer
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jc_infer.window import Primed, allocator_delta, prime_decision, window_profile


@pytest.mark.parametrize("setting, mode, expected", [
    ("auto", "files", "full"), ("auto", "synthetic", "off"), ("on", "synthetic", "on"), ("off", "files", "off"),
    ("full", "files", "full")])
def test_prime_decision(setting, mode, expected):
    assert prime_decision(setting, mode) == expected


def test_pipeline_prime_is_a_setting_with_auto_default():
    assert jc_infer.parse_settings([], environ={})["pipeline_prime"] == "auto"
    assert jc_infer.parse_settings(["--pipeline-prime", "off"], environ={})["pipeline_prime"] == "off"
    with pytest.raises(jc_infer.SettingsError, match="PIPELINE_PRIME"):
        jc_infer.parse_settings([], environ={"PIPELINE_PRIME": "early"})


def test_primed_takes_the_first_item_ahead_and_yields_everything_once():
    pulled = []

    def source():
        for i in range(4):
            pulled.append(i)
            yield i

    batches = Primed(source())
    assert pulled == []  # nothing started before prime()
    assert batches.prime() is True and pulled == [0]
    assert batches.prime() is True and pulled == [0]  # once
    assert list(batches) == [0, 1, 2, 3] and batches.primed


def test_full_prime_waits_until_the_queue_is_full_or_the_cap():
    now = [0.0]
    checks = iter([False, False, True])
    batches = Primed(iter([1, 2]))
    assert batches.prime(full=lambda: next(checks), clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s)) is True
    assert now[0] == pytest.approx(0.004)  # two polls, then full
    never = Primed(iter([1]))
    now[0] = 0.0
    assert never.prime(full=lambda: False, cap=0.5, clock=lambda: now[0],
                       sleep=lambda s: now.__setitem__(0, now[0] + s)) is True
    assert 0.5 <= now[0] < 0.51 and list(never) == [1]


def test_primed_without_prime_is_the_source_itself():
    batches = Primed(iter("abc"))
    assert list(batches) == ["a", "b", "c"] and not batches.primed


def test_primed_empty_source():
    batches = Primed(iter(()))
    assert batches.prime() is False and list(batches) == []


def test_primed_source_errors_surface_at_prime():
    def broken():
        raise RuntimeError("nvJPEG failed")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="nvJPEG"):
        Primed(broken()).prime()


@given(st.lists(st.integers(0, 5), max_size=12), st.booleans())
def test_primed_keeps_order_and_count(items, prime):
    batches = Primed(iter(items))
    if prime:
        batches.prime()
    assert list(batches) == items


def test_window_profile_of_a_window_with_a_slow_first_batch_and_a_tail():
    # t0 = 10; first batch after 0.30 s, then one every 0.02 s, 0.05 s from the last to the end
    marks = [10.30 + 0.02 * i for i in range(10)]
    profile = window_profile(10.0, marks, marks[-1] + 0.05)
    assert profile["batches"] == 10
    assert profile["first_batch"] == pytest.approx(0.30)
    assert profile["interval"] == pytest.approx(0.02)
    assert profile["tail"] == pytest.approx(0.05)
    assert profile["seconds"] == pytest.approx(0.53)
    # the window beyond 10 x 0.02 s of steady state: the fill and the tail, less one interval
    assert profile["excess"] == pytest.approx(0.53 - 0.20)
    assert profile["first_intervals"] == [pytest.approx(0.02)] * 6
    stall = window_profile(0.0, [0.1, 0.2, 0.3, 0.9, 1.0], 1.0)
    assert stall["slowest"][0] == [3, pytest.approx(0.6)] and len(stall["slowest"]) == 4


def test_window_profile_edges():
    assert window_profile(5.0, [], 5.5) == {"batches": 0, "seconds": 0.5}
    one = window_profile(5.0, [5.1], 5.3)
    assert (one["batches"], one["interval"], one["first_intervals"], one["slowest"]) == (1, pytest.approx(0.1), [], [])
    assert one["excess"] == pytest.approx(0.2)


@given(st.floats(0, 1e9), st.lists(st.floats(0, 10), min_size=1, max_size=50), st.floats(0, 10))
def test_window_profile_parts_add_up(t0, gaps, tail):
    marks = list(itertools.accumulate([t0 + gaps[0]] + gaps[1:]))
    profile = window_profile(t0, marks, marks[-1] + tail)
    assert profile["batches"] == len(marks)
    assert profile["first_batch"] >= -1e-6 and profile["tail"] >= -1e-6 and profile["interval"] >= 0
    assert profile["seconds"] == pytest.approx(marks[-1] + tail - t0, abs=1e-5)
    assert profile["excess"] == pytest.approx(profile["seconds"] - len(marks) * profile["interval"], abs=1e-4)


def test_allocator_delta_is_each_counters_increase():
    before = {"device_segments_allocated": 10, "device_segments_freed": 2, "alloc_retries": 0}
    after = {"device_segments_allocated": 13, "device_segments_freed": 2, "alloc_retries": 1,
             "host_blocks_allocated": 4}
    assert allocator_delta(before, after) == {"alloc_retries": 1, "device_segments_allocated": 3,
                                              "device_segments_freed": 0}


def test_allocator_delta_without_snapshots_is_none():
    assert allocator_delta(None, None) is None
    assert allocator_delta({"alloc_retries": 0}, None) is None
