#!/bin/bash
# Issue 15 on the lent GPU machine (the device tool's `run`), from the checkout root, with this
# branch's files carried to .device-carry/startup (the baseline is the checkout's own jc_infer):
#   bash .device-carry/startup/benchmarks/startup_device_run.sh STEPS [startup_bench.py options...]
# STEPS, comma-separated: tests (tests/unit/roles/test_jc_infer.py, test_jc_infer_cudainit.py and
# test_jc_infer_window.py with torch and the GPU; TEST_FILES replaces that list), gcimport (benchmarks/gc_import_probe.py:
# `import torch` with Python's collector on and off, 5 rounds: gcimport.txt), concurrent (benchmarks/concurrent_start_probe.py: import
# torch / the driver's initialisation / both, 1 and 2 processes at once, 3 rounds: concurrent.txt), imports (python -X importtime of torch with TORCH_DEVICE_BACKEND_AUTOLOAD=1 and
# =0, and the import times of torch with either / torch + torchvision's image extension /
# torchvision, 3 fresh processes each), modelbuild (ResNet-50 built on the meta device
# against on the GPU, and what was imported meanwhile), ceiling (the model alone: jc_infer synthetic, eager, 3 processes of 100,000 images, cuDNN
# autotuning on and off), bench (startup_bench.py with the options given).
# BENCH2_ARGS: options of a second startup_bench run on the same dataset (results_2.json).
# At most 8 files come back from $OUT: pick the steps so that no more are written (meta.txt,
# pytest.txt, gcimport.txt, concurrent.txt, importtime.txt, importtime_noautoload.txt, imports.txt, modelbuild.txt, ceiling.txt, results.json,
# results_2.json, bench.log, logs.tgz).
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)   # the carried tree (or a checkout)
ROOT=$(pwd)                              # the checkout: its jc_infer is the baseline
STEPS=$1; shift
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
{ date -u '+%Y-%m-%d %H:%M:%S UTC'; nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
  python3 -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda)'
  git -C "$ROOT" log --oneline -1 2>/dev/null; } > "$OUT/meta.txt" 2>&1
case ",$STEPS," in *,tests,*)
  ( cd "$HERE" && timeout 150 python3 -m pytest -q -p no:cacheprovider ${TEST_FILES:-tests/unit/roles/test_jc_infer.py \
      tests/unit/roles/test_jc_infer_cudainit.py tests/unit/roles/test_jc_infer_window.py} ) \
    > "$OUT/pytest.txt" 2>&1; echo "pytest exit $?" >> "$OUT/meta.txt";; esac
case ",$STEPS," in *,gcimport,*)
  PYTHONPATH="$HERE/roles/gpu_workloads/files" python3 "$HERE/benchmarks/gc_import_probe.py" --rounds "${PROBE_ROUNDS:-5}" \
    > "$OUT/gcimport.txt" 2>&1;; esac
case ",$STEPS," in *,concurrent,*)
  python3 "$HERE/benchmarks/concurrent_start_probe.py" --package-parent "$HERE/roles/gpu_workloads/files" \
    --rounds "${PROBE_ROUNDS:-3}" > "$OUT/concurrent.txt" 2>&1;; esac
case ",$STEPS," in *,imports,*)
  for i in 1 2 3; do
    for autoload in 1 0; do
      TORCH_DEVICE_BACKEND_AUTOLOAD=$autoload python3 -c 'import time; t = time.time(); import torch; print("torch %.3f (TORCH_DEVICE_BACKEND_AUTOLOAD=%s)" % (time.time() - t, __import__("os").environ["TORCH_DEVICE_BACKEND_AUTOLOAD"]))'
    done
    PYTHONPATH="$HERE/roles/gpu_workloads/files" python3 -c 'import time; t = time.time(); import torch; t1 = time.time(); from jc_infer.tvimage import ImageOps; ops = ImageOps(torch); print("torch %.3f + image extension %.3f (%s)" % (t1 - t, time.time() - t1, ops.source))'
    python3 -c 'import time; t = time.time(); import torch; t1 = time.time(); import torchvision; print("torch %.3f + torchvision %.3f" % (t1 - t, time.time() - t1))'
  done > "$OUT/imports.txt" 2>&1
  TORCH_DEVICE_BACKEND_AUTOLOAD=1 python3 -X importtime -c 'import torch' 2> "$OUT/importtime.txt"
  TORCH_DEVICE_BACKEND_AUTOLOAD=0 python3 -X importtime -c 'import torch' 2> "$OUT/importtime_noautoload.txt";; esac
case ",$STEPS," in *,modelbuild,*)
  for i in 1 2; do
    for where in meta cuda; do
      PYTHONPATH="$HERE/roles/gpu_workloads/files" python3 -c 'import sys, time, torch
from jc_infer.resnet import resnet50
torch.empty(1, device="cuda"); before = set(sys.modules); t = time.time()
if sys.argv[1] == "meta":
    with torch.device("meta"):
        m = resnet50(torch)
    m = m.to_empty(device="cuda")
else:
    m = resnet50(torch, device=torch.device("cuda"))
torch.cuda.synchronize(); new = sorted(set(sys.modules) - before)
print("build on %s %.3f s, %d modules imported meanwhile: %s" % (sys.argv[1], time.time() - t, len(new), " ".join(new[:12])))' $where
    done
  done > "$OUT/modelbuild.txt" 2>&1;; esac
case ",$STEPS," in *,ceiling,*)
  for bench in ${CEILING_BENCH:-on off}; do for i in 1 2 3; do
    PYTHONPATH="$HERE/roles/gpu_workloads/files" CUDNN_BENCHMARK=$bench python3 -m jc_infer --mode synthetic \
      --total-images 100000 --cuda-graphs off 2>/dev/null | python3 -c 'import json, sys; r = json.loads(sys.stdin.read()); print("ceiling cudnn_benchmark=%s: %.1f img/s (%d images, %.2f s)" % (sys.argv[1], r["throughput"], r["images"], r["seconds"]))' $bench
  done; done > "$OUT/ceiling.txt" 2>&1;; esac
case ",$STEPS," in *,bench,*)
  mkdir -p /tmp/sb
  timeout "${BENCH_TIMEOUT:-500}" python3 "$HERE/benchmarks/startup_bench.py" --before "$ROOT/roles/gpu_workloads/files" \
    --after "$HERE/roles/gpu_workloads/files" --dataset-tool "$HERE/roles/nfs_server/files/jc_dataset.py" \
    --out /tmp/sb "$@" 2> "$OUT/bench.log"
  echo "startup_bench exit $?" >> "$OUT/meta.txt"
  cp /tmp/sb/results.json "$OUT/" 2>/dev/null
  if [ -n "${BENCH2_ARGS:-}" ]; then  # a second startup_bench run (other sizes or variants): results_2.json
    mkdir -p /tmp/sb2
    timeout "${BENCH2_TIMEOUT:-300}" python3 "$HERE/benchmarks/startup_bench.py" --before "$ROOT/roles/gpu_workloads/files" \
      --after "$HERE/roles/gpu_workloads/files" --dataset-tool "$HERE/roles/nfs_server/files/jc_dataset.py" \
      --work /tmp/startup_bench --out /tmp/sb2 $BENCH2_ARGS 2>> "$OUT/bench.log"
    echo "startup_bench (2) exit $?" >> "$OUT/meta.txt"
    cp /tmp/sb2/results.json "$OUT/results_2.json" 2>/dev/null
    mv /tmp/sb2/logs /tmp/sb/logs_2 2>/dev/null
  fi
  tar czf "$OUT/logs.tgz" --exclude results.json -C /tmp/sb . 2>/dev/null;; esac
exit 0
