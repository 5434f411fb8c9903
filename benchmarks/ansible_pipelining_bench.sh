#!/usr/bin/env bash
# Issue 16: what Ansible's pipelining saves on the lab, whose hosts are reached with the Docker
# connection (community.docker.docker). ansible.cfg's [ssh_connection] pipelining applies to SSH
# only; without pipelining every module run on a container is six `docker exec` calls (home
# directory, temp directory, the module copied in, chmod, run, clean up) instead of one.
#
# Runs site.yml on an up and converged lab (nothing left to change), alternating pipelining off
# and on, PAIRS times, and prints each run's wall clock, exit code and changed count:
#   benchmarks/ansible_pipelining_bench.sh [PAIRS] [ansible-playbook options...]
# from the checkout root, with .venv/bin on PATH and ANSIBLE_CONFIG=$PWD/ansible.cfg (as make does).
# Logs: $BENCH_OUT (default benchmarks/out/ansible-pipelining-<UTC time>/).
set -uo pipefail
pairs=${1:-3}
shift || true
out=${BENCH_OUT:-benchmarks/out/ansible-pipelining-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
printf 'run\tpipelining\tseconds\trc\tchanged\tload1\n' | tee "$out/times.tsv"
for pair in $(seq "$pairs"); do
  for pipelining in 0 1; do
    log="$out/site-$pair-pipelining-$pipelining.log"
    start=$(date +%s.%N)
    ANSIBLE_PIPELINING=$pipelining ansible-playbook site.yml -i "${LAB_INVENTORY:-inventory/lab}" "$@" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    # The recap's changed= of every host, summed.
    changed=$(awk '/^PLAY RECAP/ {recap = 1; next} recap && /changed=/ {
                 for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) {split($i, kv, "="); sum += kv[2]}}
               END {print sum + 0}' "$log")
    printf '%s\t%s\t%.1f\t%s\t%s\t%s\n' "$pair" "$pipelining" "$(echo "$end - $start" | bc)" "$rc" "$changed" \
      "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/times.tsv"
  done
done
