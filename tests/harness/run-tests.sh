#!/usr/bin/env bash
# Run every test of the collection, stage by stage, and print how long each stage took.
# Exits non-zero as soon as a stage fails. Expects tests/harness/bootstrap.sh to have run.
#
#   tests/harness/run-tests.sh [STAGE...]   # stages: lint sanity unit integration (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"
cd "$top"

VENV=${VENV:-$top/.venv}
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="$top/ansible.cfg"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
export EDGEAI_JC_TIMINGS=${EDGEAI_JC_TIMINGS:-$top/.cache/timings.txt}
# Parallel Molecule scenarios; 2 matches CI's two cores (apt and qemu dominate, not CPU alone).
JOBS=${EDGEAI_JC_TEST_JOBS:-2}
read -r -a STAGES <<<"${*:-lint sanity unit integration}"

run_stage() {
  case "$1" in
    lint)
      ansible-lint --profile production --offline
      ;;
    sanity)
      local build="$top/.cache/build"
      rm -rf "$build" && mkdir -p "$build"
      ansible-galaxy collection build --force --output-path "$build" "$top"
      ls "$build"/edgeai-jetson_cluster-*.tar.gz
      local module
      for module in "$top"/plugins/modules/*.py; do
        module=$(basename "$module" .py)
        ansible-doc "edgeai.jetson_cluster.$module" >/dev/null
        echo "ansible-doc edgeai.jetson_cluster.$module: ok"
      done
      ;;
    unit)
      python -m pytest tests/unit --forbid-skips
      ;;
    integration)
      python -m pytest tests/integration -n "$JOBS" --dist load --maxschedchunk 1 --durations=0 --forbid-skips
      ;;
    *)
      echo "unknown stage $1" >&2
      return 2
      ;;
  esac
}

: >"$EDGEAI_JC_TIMINGS"
trap 'echo; echo "Stage timings:"; cat "$EDGEAI_JC_TIMINGS"' EXIT
for stage in "${STAGES[@]}"; do
  stage_start "$stage"
  run_stage "$stage"
  stage_end
done
echo "all stages passed: ${STAGES[*]}"
