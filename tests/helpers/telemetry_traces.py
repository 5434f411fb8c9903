"""Telemetry traces for tests, made of the real fixture lines in tests/fixtures/telemetry.

h200_trace: the real 1 Hz capture of an H200 idle, then held at its 700 W power cap by a bf16
matmul loop (SW power cap reason, SM clock 1440-1470 of 1980 MHz at 100 %): a real throttling
trace, only its times are set one second apart from T0.
xavier_trace: BUILT from two real lines a user posted from a climate chamber
(tegrastats_throttling/: the same AGX Xavier unthrottled at GPU@42.5C and throttled at GPU@89C),
one per second, cool lines then hot ones: the lines are real, their sequence and times made up.
"""

import json
from pathlib import Path

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.telemetry import (
    parse_nvidia_smi_csv,
    parse_tegrastats_line,
    split_nvidia_smi_stream,
    trace_sample,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry"
T0 = 1764494197.0


def tegrastats_lines(name):
    path = FIXTURES / name
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def h200_trace(node="worker1", files=("h200_idle.csv", "h200_matmul_load_1hz.csv"), start=T0):
    samples = []
    for name in files:
        for block in split_nvidia_smi_stream((FIXTURES / "nvidia_smi" / name).read_text().splitlines(True)):
            samples.append(trace_sample(parse_nvidia_smi_csv(block), start + len(samples), node))
    return samples


def xavier_trace(node="worker2", cool=5, hot=5, start=T0):
    cool_line = tegrastats_lines("tegrastats_throttling/xavier_climate_chamber_cool.txt")[0]
    hot_line = tegrastats_lines("tegrastats_throttling/xavier_climate_chamber_hot.txt")[0]
    lines = [cool_line] * cool + [hot_line] * hot
    return [trace_sample(parse_tegrastats_line(line), start + second, node) for second, line in enumerate(lines)]


def as_file(samples):
    return "".join(json.dumps(sample) + "\n" for sample in samples)
