#!/usr/bin/env bash
# `make lab`: what the lab needs (the virtualenv without the test-only packages, Docker, and only
# the amd64 base image: the lab's containers are amd64 unless lab_worker_arch=arm64 is asked for,
# then set EDGEAI_JC_ARCHES="amd64 arm64"), the lab's containers and inventory, site.yml on them,
# then the benchmark. Each step is timed; the timings are printed at the end (and kept in
# .cache/lab-timings.txt). Extra ansible-playbook options for all three playbooks: LAB_ARGS; the
# inventory's directory: LAB_INVENTORY (default inventory/lab).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"
cd "$top"
mkdir -p .cache
export EDGEAI_JC_TIMINGS="$top/.cache/lab-timings.txt"
# The inventory lab.yml writes and site.yml and benchmark.yml read: one value for all three.
inventory=${LAB_INVENTORY:-inventory/lab}
case $inventory in /*) ;; *) inventory=$top/$inventory ;; esac
read -r -a extra <<<"${LAB_ARGS:-}"
t0=$(date +%s)

# bootstrap.sh writes its own stages into the same timings file (it empties it first).
EDGEAI_JC_TEST_TOOLS=0 EDGEAI_JC_ARCHES=${EDGEAI_JC_ARCHES:-amd64} "$here/bootstrap.sh"

stage_start "lab: playbooks/lab.yml (containers, inventory)"
ansible-playbook -i inventory/localhost.yml playbooks/lab.yml -e "lab_inventory_dir=$inventory" "${extra[@]}"
stage_end

stage_start "lab: site.yml"
ansible-playbook site.yml -i "$inventory" "${extra[@]}"
stage_end

stage_start "lab: playbooks/benchmark.yml"
ansible-playbook playbooks/benchmark.yml -i "$inventory" "${extra[@]}"
stage_end

printf '%-40s %6ss\n' "make lab, in all" "$(( $(date +%s) - t0 ))" >>"$EDGEAI_JC_TIMINGS"
echo "make lab timings:"; cat "$EDGEAI_JC_TIMINGS"
