#!/bin/bash
# Runs benchmarks/resnet_split_bench.py on the lent GPU machine (the device tool's `run`), from
# the carried tree's root, with the grpcio-tools wheel carried in .whl/ (it must match the
# machine's grpcio, see jc_pipeline/wire.py):
#   bash benchmarks/resnet_split_device_run.sh [resnet_split_bench.py options...]
# On a 2-GPU machine with the defaults; on one GPU with --one-gpu (both stages and both jc_infer
# processes on GPU 0: the same variants on equal hardware).
# Results land in $OUT: resnet_split.json, placement_*.yaml, bench.log (the machine, versions and
# the script's log), results.jsonl (its stdout: every jc_infer result line as printed, then the
# variants' img/s).
set -eu
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
pip install --quiet --no-deps --no-index --target /tmp/jc-grpc-tools .whl/grpcio_tools-*.whl
export PYTHONPATH=/tmp/jc-grpc-tools JC_PIPELINE_GENERATED=/tmp/jc-pipeline-gen
PYTHONPATH=/tmp/jc-grpc-tools:roles/pipeline_workload/files python3 -m jc_pipeline generate --out "$JC_PIPELINE_GENERATED"
{ date -u '+%Y-%m-%d %H:%M:%S UTC'; nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
  python3 -c "import sys, grpc, google.protobuf, torch, torchvision; print(sys.version.split()[0], 'grpcio', grpc.__version__, 'protobuf', google.protobuf.__version__, 'torch', torch.__version__, 'torchvision', torchvision.__version__)"
  echo "cpus $(nproc)"; echo "args: $*"
} 2>&1 | tee "$OUT/bench.log"
timeout "${BENCH_TIMEOUT:-400}" python3 benchmarks/resnet_split_bench.py --out "$OUT" "$@" 2>>"$OUT/bench.log" \
  | tee "$OUT/results.jsonl" | tail -c 2000
echo "exit ${PIPESTATUS[0]}" >> "$OUT/bench.log"
tail -n 40 "$OUT/bench.log"
