"""Progress of a workload pod read from its log (workload_wait's console lines).

The logs are real pod logs of the gpu_workloads scenario (tests/fixtures/benchmark/); the fuzz
tests feed any text, and mutated real logs, and expect a state, never an exception.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.workload_progress import (
    describe_progress,
    pod_progress,
)

LOG = (Path(__file__).resolve().parents[3] / "fixtures" / "benchmark" / "docker-cpu-files-1" / "logs"
       / "index-0.log").read_text()
LINES = LOG.splitlines()


def test_a_log_with_nothing_of_the_workload_yet_is_starting():
    assert pod_progress("")["state"] == "starting"


def test_the_first_line_gives_the_share():
    assert pod_progress(LINES[0]) == {"state": "warming up", "images": 0, "assigned": 41, "rate": None,
                                      "message": None}


def test_the_last_progress_line_wins():
    progress = pod_progress("\n".join(LINES[:4]))
    assert (progress["state"], progress["images"], progress["assigned"], progress["rate"]) == ("running", 24, 41, 0.6)


def test_a_finished_log_is_done():
    progress = pod_progress(LOG)
    assert (progress["state"], progress["images"], progress["assigned"]) == ("done", 40, 41)


def test_an_error_line_is_a_failure():
    progress = pod_progress("[jc_infer] ERROR: IMAGE_DIR=/data/images holds no JPEG images (*.jpg, *.jpeg)\n{}")
    assert progress["state"] == "failed" and progress["message"].startswith("IMAGE_DIR=/data/images")


def test_an_index_without_images_is_done_at_once():
    assert pod_progress("[jc_infer] index 3 of 4 has no images assigned")["state"] == "done"


@pytest.mark.parametrize("lines, elapsed, expected", [
    ([], 3.9, "index 0 on worker1: starting (loading torch and the model), 3 s"),
    (LINES[:1], 12, "index 0 on worker1: warming up for its 41 images, 12 s"),
    (LINES[:3], 20, "index 0 on worker1: 16/41 images (39 %), 0.7 img/s, 20 s"),
    (LINES, 90, "index 0 on worker1: done, 40/41 images (97 %), 0.5 img/s, 90 s"),
], ids=["starting", "warming-up", "running", "done"])
def test_describe_progress(lines, elapsed, expected):
    assert describe_progress("index 0 on worker1", pod_progress("\n".join(lines)), elapsed) == expected


def test_describe_a_failure_names_the_cause():
    line = describe_progress("index 1 on worker2", pod_progress("[jc_infer] ERROR: TOTAL_JOBS=0 must be at least 1"), 4)
    assert line == "index 1 on worker2: FAILED after 4 s: TOTAL_JOBS=0 must be at least 1"


@given(st.text())
def test_any_text_gives_a_state(text):
    progress = pod_progress(text)
    assert progress["state"] in ("starting", "warming up", "running", "done", "failed")
    describe_progress("index 0 on w", progress, 1.0)


@given(st.binary())
def test_any_bytes_give_a_state(data):
    describe_progress("index 0 on w", pod_progress(data), 0)


@given(st.lists(st.sampled_from(LINES), max_size=12), st.integers(min_value=0, max_value=len(LOG)), st.text(max_size=8))
def test_real_lines_reordered_and_cut_give_a_state(lines, cut, noise):
    text = "\n".join(lines)
    describe_progress("index 0 on w", pod_progress(text[:cut] + noise + text[cut:]), 5)
