#!/bin/bash
# Runs benchmarks/pipeline_bench.py on the lent GPU machine (the device tool's `run`), from the
# checkout root, with the grpcio-tools wheel carried in .whl/ (the machine has grpcio but no
# grpcio-tools; the wheel must match its grpcio, see jc_pipeline/wire.py):
#   bash benchmarks/pipeline_device_run.sh [pipeline_bench.py options...]
# Results land in $OUT: pipeline.json, pipeline.md, bench.log.
set -eu
pip install --quiet --no-deps --no-index --target /tmp/jc-grpc-tools .whl/grpcio_tools-*.whl
export PYTHONPATH=/tmp/jc-grpc-tools JC_PIPELINE_GENERATED=/tmp/jc-pipeline-gen
PYTHONPATH=/tmp/jc-grpc-tools:roles/pipeline_workload/files python3 -m jc_pipeline generate --out "$JC_PIPELINE_GENERATED"
python3 -c "import grpc, google.protobuf, numpy; print('grpcio', grpc.__version__, 'protobuf', google.protobuf.__version__, 'numpy', numpy.__version__)"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)' || true
timeout "${BENCH_TIMEOUT:-420}" python3 benchmarks/pipeline_bench.py --out "$OUT/pipeline.json" \
  --markdown "$OUT/pipeline.md" "$@" 2>&1 | tee "$OUT/bench.log"
