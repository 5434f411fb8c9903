#!/usr/bin/env python3
"""Measure jc_gpu_exporter's footprint: resident memory and CPU time at a 1 Hz sample rate.

Starts roles/monitoring/files/jc_gpu_exporter.py with the given source (the replayed tegrastats
stream from tests/fixtures/telemetry/fake-tegrastats, or the plain Linux source), scrapes
/metrics every --scrape seconds like Prometheus, and after --seconds reads the exporter's own
VmRSS/VmHWM (/proc/PID/status) and utime+stime (/proc/PID/stat; children such as tegrastats are
not counted: on a board tegrastats runs anyway for jtop and friends).

    .venv/bin/python benchmarks/exporter_footprint.py --source linux --seconds 120
    .venv/bin/python benchmarks/exporter_footprint.py --source tegrastats --seconds 120
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "roles" / "monitoring" / "files" / "jc_gpu_exporter.py"
FIXTURES = ROOT / "tests" / "fixtures" / "telemetry"


def status_kib(pid, key):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", choices=["linux", "tegrastats", "nvidia-smi"], default="linux")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--scrape", type=float, default=15, help="seconds between scrapes (Prometheus' default 15)")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, str(SCRIPT), "--source", args.source, "--address", "127.0.0.1", "--port", str(port),
            "--interval", "1", "--tegrastats", str(FIXTURES / "fake-tegrastats"),
            "--nvidia-smi", str(FIXTURES / "fake-nvidia-smi")]
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".cache" / "project-collections"))
    proc = subprocess.Popen(argv, env=env)
    try:
        deadline = time.time() + 60
        while True:  # start-up (imports, first sample) is not the steady state: wait it out
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        time.sleep(3)
        start_cpu, start = cpu_seconds(proc.pid), time.time()
        scrapes = 0
        while time.time() - start < args.seconds:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as response:
                body = response.read()
            scrapes += 1
            time.sleep(args.scrape)
        elapsed = time.time() - start
        used = cpu_seconds(proc.pid) - start_cpu
        result = {
            "source": args.source, "seconds": round(elapsed, 1), "scrapes": scrapes, "metrics_bytes": len(body),
            "rss_mib": round(status_kib(proc.pid, "VmRSS") / 1024.0, 1),
            "peak_rss_mib": round(status_kib(proc.pid, "VmHWM") / 1024.0, 1),
            "cpu_seconds": round(used, 3), "cpu_percent_of_one_core": round(100.0 * used / elapsed, 3),
            "python": sys.version.split()[0],
        }
        print(json.dumps(result))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
