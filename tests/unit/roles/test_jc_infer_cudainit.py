# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""jc_infer/cudainit.py: the CUDA driver's initialisation in a thread beside `import torch`."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import jc_infer
import pytest
from jc_infer.cudainit import CudaPreinit, driver_init, preinit_decision

PACKAGE_PARENT = Path(jc_infer.__file__).resolve().parent.parent


def settings(**overrides):
    s = jc_infer.parse_settings([], environ={})
    s.update(overrides)
    return s


@pytest.mark.parametrize("overrides, environ, wanted, reason", [
    ({}, {}, True, ""),
    ({"device": "cuda"}, {"CUDA_VISIBLE_DEVICES": "1"}, True, ""),
    ({"device": "cuda", "cuda_preinit": "on"}, {"CUDA_VISIBLE_DEVICES": "0,1"}, True, ""),
    ({"device": "cpu"}, {}, False, "DEVICE=cpu"),
    ({"cuda_preinit": "off"}, {}, False, "CUDA_PREINIT=off"),
    ({}, {"CUDA_VISIBLE_DEVICES": ""}, False, "no visible device (CUDA_VISIBLE_DEVICES='')"),
    ({}, {"CUDA_VISIBLE_DEVICES": "-1"}, False, "no visible device (CUDA_VISIBLE_DEVICES='-1')"),
])
def test_preinit_only_where_cuda_may_be_used(overrides, environ, wanted, reason):
    assert preinit_decision(settings(**overrides), environ) == (wanted, reason)


def test_cuda_preinit_setting_is_validated():
    assert settings()["cuda_preinit"] == "auto"
    assert jc_infer.parse_settings([], environ={"CUDA_PREINIT": "OFF"})["cuda_preinit"] == "off"
    assert jc_infer.parse_settings(["--cuda-preinit", "on"], environ={})["cuda_preinit"] == "on"
    with pytest.raises(jc_infer.SettingsError, match="CUDA_PREINIT"):
        jc_infer.parse_settings([], environ={"CUDA_PREINIT": "early"})


def test_not_started_on_the_cpu_path():
    calls = []
    pre = CudaPreinit(settings(device="cpu"), environ={}, init=lambda: calls.append(1))
    assert pre.thread is None and pre.join() == 0.0
    assert calls == [] and pre.report() == {"state": "off", "waited": 0.0, "reason": "DEVICE=cpu"}


def test_runs_in_a_thread_and_join_waits_for_it():
    release = threading.Event()
    seen = []

    def init():
        seen.append(threading.current_thread().name)
        release.wait(5)
        return None

    pre = CudaPreinit(settings(), environ={}, init=init)
    assert pre.state == "running"
    release.set()
    pre.join()
    report = pre.report()
    assert seen == ["jc-cuda-preinit"] and report["state"] == "done" and "reason" not in report
    assert report["seconds"] >= 0.0 and report["waited"] >= 0.0


@pytest.mark.parametrize("init, reason", [
    (lambda: "cuInit: CUDA_ERROR_NO_DEVICE (100)", "cuInit: CUDA_ERROR_NO_DEVICE (100)"),
    (lambda: 1 // 0, "ZeroDivisionError: "),
])
def test_a_failure_is_reported_never_raised(init, reason):
    pre = CudaPreinit(settings(), environ={}, init=init)
    pre.join()
    assert pre.report()["state"] == "failed" and pre.report()["reason"].startswith(reason)


def test_a_missing_driver_is_a_reason():
    assert driver_init("libcuda-not-here.so.1").startswith("cannot load libcuda-not-here.so.1: ")


def test_a_cpu_run_reports_why_there_was_no_preinit(torch_cpu):
    """DEVICE=cpu end to end: the thread is never started and the result line says why."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_jc_infer import run_script
    code, lines, err = run_script("--mode", "synthetic", "--total-images", "8", "--device", "cpu",
                                  "--batch-size", "4", "--warmup-batches", "0")
    assert code == 0, err
    assert lines[-1]["cuda_preinit"] == {"state": "off", "waited": 0.0, "reason": "DEVICE=cpu"}


@pytest.fixture
def torch_cpu():
    return pytest.importorskip("torch")


GPU_CHECK = r'''
import ctypes, json, sys
from jc_infer.cudainit import driver_init
out = {"failure": driver_init()}
cuda = ctypes.CDLL("libcuda.so.1")
dev = ctypes.c_int(); cuda.cuDeviceGet(ctypes.byref(dev), 0)
flags, active = ctypes.c_uint(), ctypes.c_int()
cuda.cuDevicePrimaryCtxGetState(dev, ctypes.byref(flags), ctypes.byref(active))
out["active_before_torch"] = active.value
primary = ctypes.c_void_p(); cuda.cuDevicePrimaryCtxRetain(ctypes.byref(primary), dev)
import torch
x = torch.arange(10, device="cuda").sum().item()
current = ctypes.c_void_p(); cuda.cuCtxGetCurrent(ctypes.byref(current))
out["same_context"] = current.value == primary.value and primary.value is not None
out["sum"] = x
print(json.dumps(out))
'''


def test_torch_uses_the_primary_context_made_before_it_was_imported():
    """On a GPU host: driver_init makes the primary context before `import torch`, and torch's runtime
    then computes in that very context."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    proc = subprocess.run([sys.executable, "-c", GPU_CHECK], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(PACKAGE_PARENT)), check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out == {"failure": None, "active_before_torch": 1, "same_context": True, "sum": 45}


def test_a_gpu_run_reports_the_preinit_and_computes(tmp_path):
    """On a GPU host: python3 -m jc_infer (synthetic) with the pre-initialisation on and off."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_jc_infer import run_script
    for setting, state in (("auto", "done"), ("off", "off")):
        code, lines, err = run_script("--mode", "synthetic", "--total-images", "512", "--device", "cuda",
                                      env={"CUDA_PREINIT": setting})
        assert code == 0, err
        assert lines[-1]["images"] == 512 and lines[-1]["cuda_preinit"]["state"] == state
