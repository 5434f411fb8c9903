"""A chain of stage processes on this machine (127.0.0.1), for tests and the benchmark.

Each stage is its own ``python3 -m jc_pipeline stage`` process listening on a free port;
``cpus`` pins stage i to cpus[i] (one core per stage, as on separate nodes). With ``split``
(arguments every stage gets, e.g. ["--cuts", "layer2", "--batch", "8"]) the stages are the
ResNet-50 split's (``python3 -m jc_pipeline split-stage``); ``depth`` is then its number of stages.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading

from . import ops

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LocalChain(object):
    def __init__(self, depth, cpus=None, chunk_bytes=None, idle_timeout=None, connect_timeout=10.0,
                 python=sys.executable, start_timeout=60.0, extra_args=None, pull_chunk_bytes=None, split=None):
        self.split = list(split) if split is not None else None
        if self.split is None:
            ops.stage_blocks(depth, 0)
        self.depth = depth
        self.cpus = list(cpus) if cpus else []
        self.chunk_bytes = chunk_bytes
        self.pull_chunk_bytes = pull_chunk_bytes
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.python = python
        self.start_timeout = start_timeout
        self.extra_args = extra_args or {}
        self.processes = []
        self.addresses = []
        self.logdir = tempfile.mkdtemp(prefix="jc-pipeline-")

    @property
    def last(self):
        return self.addresses[-1]

    def _command(self, index):
        cmd = [self.python, "-m", "jc_pipeline"]
        cmd += ["split-stage"] + self.split if self.split is not None else ["stage", "--depth", str(self.depth)]
        cmd += ["--index", str(index), "--listen", "127.0.0.1:0", "--connect-timeout", str(self.connect_timeout)]
        if index:
            cmd += ["--upstream", self.addresses[index - 1]]
        if self.chunk_bytes:
            cmd += ["--chunk-bytes", str(self.chunk_bytes)]
        if self.pull_chunk_bytes is not None and index:
            cmd += ["--pull-chunk-bytes", str(self.pull_chunk_bytes)]
        if self.idle_timeout:
            cmd += ["--idle-timeout", str(self.idle_timeout)]
        if index < len(self.cpus):
            cmd += ["--cpu", str(self.cpus[index])]
        return cmd + list(self.extra_args.get(index, ()))

    def start(self):
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        try:
            for index in range(self.depth):
                log = open(os.path.join(self.logdir, "stage%d.log" % index), "w")
                proc = subprocess.Popen(self._command(index), stdout=subprocess.PIPE, stderr=log, env=env,
                                        universal_newlines=True)
                log.close()
                self.processes.append(proc)
                line = []
                reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
                reader.start()
                reader.join(self.start_timeout)
                if not line or "listening on port" not in line[0]:
                    raise RuntimeError("stage %d did not start: %s" % (index, self.log(index)[-2000:]))
                self.addresses.append("127.0.0.1:%d" % int(line[0].rsplit(" ", 1)[1]))
        except Exception:
            self.stop()
            raise
        return self

    def log(self, index):
        with open(os.path.join(self.logdir, "stage%d.log" % index)) as handle:
            return handle.read()

    def stop(self):
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)
                    proc.terminate()
                except OSError:
                    pass
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
