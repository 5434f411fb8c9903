#!/bin/bash
# Runs benchmarks/resnet_split_bench.py on the lent 2-GPU machine (the device tool's `run`), from
# the carried tree's root, with the grpcio-tools wheel carried in .whl/ (it must match the
# machine's grpcio, see jc_pipeline/wire.py):
#   bash benchmarks/resnet_split_device_run.sh [resnet_split_bench.py options...]
# Results land in $OUT: resnet_split.json, placement_*.yaml, bench.log.
set -eu
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
pip install --quiet --no-deps --no-index --target /tmp/jc-grpc-tools .whl/grpcio_tools-*.whl
export PYTHONPATH=/tmp/jc-grpc-tools JC_PIPELINE_GENERATED=/tmp/jc-pipeline-gen
PYTHONPATH=/tmp/jc-grpc-tools:roles/pipeline_workload/files python3 -m jc_pipeline generate --out "$JC_PIPELINE_GENERATED"
{ nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
  python3 -c "import sys, grpc, torch, torchvision; print(sys.version.split()[0], 'grpcio', grpc.__version__, 'torch', torch.__version__, 'torchvision', torchvision.__version__)"
} 2>&1 | tee "$OUT/bench.log"
timeout "${BENCH_TIMEOUT:-400}" python3 benchmarks/resnet_split_bench.py --out "$OUT" "$@" 2>&1 | tee -a "$OUT/bench.log"
