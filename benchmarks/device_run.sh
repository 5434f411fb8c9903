#!/bin/bash
# Runs on the lent GPU machine (the device tool's `run`), from the checkout root:
#   bash .device-carry/perf/device_run.sh TAG [gpu_bench.py options...]   (carried copies side by side)
#   OUT=/some/dir bash benchmarks/device_run.sh TAG                      (from a checkout)
# Builds NVIDIA's deviceQuery from the carried cuda-samples sources (never committed) and captures it
# on all GPUs, on GPU 0 alone and with no visible GPU, then runs gpu_bench.py. Everything lands in $OUT
# (at most 8 files come back): results.json, bench.log, logs.tgz, dq_*.txt, dq_meta.txt.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TAG=${1:-gpu}; shift || true
export PYTHONUNBUFFERED=1
# Keep the shared host's GPUs safe (KINDS.md); nothing here uses NCCL, but child processes inherit these.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

if [ -f "$HERE/dq/deviceQuery.cpp" ]; then
  mkdir -p /tmp/dq && cp "$HERE"/dq/* /tmp/dq/
  ( cd /tmp/dq && nvcc -std=c++17 -O2 -I. -o deviceQuery deviceQuery.cpp ) > "$OUT/dq_build.txt" 2>&1
  {
    echo "tag: $TAG"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nvcc: $(nvcc --version | tail -n 2 | head -n 1)"
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv
    echo "build: nvcc -std=c++17 -O2 -I. -o deviceQuery deviceQuery.cpp (cuda-samples Samples/1_Utilities/deviceQuery)"
  } > "$OUT/dq_meta.txt" 2>&1
  cd /tmp/dq
  ./deviceQuery > "$OUT/dq_all.txt" 2>&1; echo "all GPUs: ./deviceQuery -> exit $?" >> "$OUT/dq_meta.txt"
  CUDA_VISIBLE_DEVICES=0 ./deviceQuery > "$OUT/dq_one.txt" 2>&1
  echo "one GPU: CUDA_VISIBLE_DEVICES=0 ./deviceQuery -> exit $?" >> "$OUT/dq_meta.txt"
  CUDA_VISIBLE_DEVICES= ./deviceQuery > "$OUT/dq_none.txt" 2>&1
  echo "no GPU: CUDA_VISIBLE_DEVICES= ./deviceQuery -> exit $?" >> "$OUT/dq_meta.txt"
  cd - > /dev/null
  cat "$OUT/dq_build.txt" >> "$OUT/dq_meta.txt"; rm -f "$OUT/dq_build.txt"
fi

# The programs sit beside this script when carried (jc_infer/, benchmark.py, jc_dataset.py); in a
# checkout they are in their roles and in plugins/module_utils.
INFER=$HERE; [ -d "$INFER/jc_infer" ] || INFER=$HERE/../roles/gpu_workloads/files
MODULE_UTILS=$HERE; [ -f "$MODULE_UTILS/benchmark.py" ] || MODULE_UTILS=$HERE/../plugins/module_utils
DATASET=$HERE/jc_dataset.py; [ -f "$DATASET" ] || DATASET=$HERE/../roles/nfs_server/files/jc_dataset.py
mkdir -p /tmp/bench_out
timeout "${BENCH_TIMEOUT:-540}" python3 "$HERE/gpu_bench.py" --infer "$INFER" --module-utils "$MODULE_UTILS" \
  --dataset-tool "$DATASET" --work /tmp/jcbench --out /tmp/bench_out "$@" 2>&1 | tee "$OUT/bench.log"
cp /tmp/bench_out/results.json "$OUT/results.json" 2>/dev/null
tar -czf "$OUT/logs.tgz" -C /tmp/bench_out logs 2>/dev/null
python3 - <<'PY'
import json, os
r = json.load(open(os.path.join(os.environ["OUT"], "results.json")))
print("failures:", r.get("failures"))
for k, v in sorted(r.get("micro", {}).get("ceiling", {}).items()):
    print("ceiling %-34s %8.0f" % (k, v["median"]))
for k, v in sorted(r.get("e2e", {}).items()):
    print("e2e %-30s %8.0f img/s" % (k, v["median"]))
for k, v in sorted(r.get("multi", {}).items()):
    if isinstance(v, dict) and "efficiency" in v:
        print("multi %s eff %.3f imb %.3f thr %.0f" % (k, v["efficiency"]["median"], v["imbalance"]["median"],
                                                     v["throughput"]["median"]))
PY
