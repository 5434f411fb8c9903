#!/usr/bin/env bash
# Everything the tests and the lab need on a fresh Debian/Ubuntu machine: the pinned
# virtualenv, a running Docker engine, the locally built base images and the Kubernetes
# components built from Go modules (tests/kube). Safe to rerun.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"
mkdir -p "$top/.cache"
export EDGEAI_JC_TIMINGS=${EDGEAI_JC_TIMINGS:-$top/.cache/bootstrap-timings.txt}
: >"$EDGEAI_JC_TIMINGS"

stage_start "bootstrap: python virtualenv"
"$here/venv.sh"
stage_end

stage_start "bootstrap: controller tools"
# rsync: the nfs_server role copies datasets with ansible.posix.synchronize (molecule/nfs_kernel).
apt_ensure rsync
stage_end

# What only the tests need (EDGEAI_JC_TEST_TOOLS=0 leaves it out: `make lab` does).
TEST_TOOLS=${EDGEAI_JC_TEST_TOOLS:-1}
if [ "$TEST_TOOLS" = 1 ]; then
  stage_start "bootstrap: test tools"
  # prometheus: its promtool checks and unit-tests roles/monitoring's alert rules (unit stage).
  # gcc/libc6-dev: kube-build.sh's cgo (SQLite) needs them; installed here, in the foreground, so
  # that the background build below never runs apt beside docker-engine.sh's.
  apt_ensure prometheus gcc libc6-dev
  stage_end
  # jc-kube (tests/kube): the real Kubernetes components the kube tests run; cached per content key
  # outside the checkout, so a no-op until tests/kube or Go changes. On a fresh machine it is the
  # longest step and CPU-bound (measured cold: 2,472 s on this 2-core kind under load 20-35), and it
  # needs neither Docker nor the base images, whose build waits mostly on downloads and qemu:
  # start it now, collect it after them.
  kube_log="$top/.cache/kube-build.log"
  # Then the kubelet's node side (tests/kube-node: cri-dockerd, CNI plugins, pause), own script and
  # cache key, so neither build rebuilds the other.
  { "$here/kube-build.sh" && "$here/kube-node-build.sh"; } >"$kube_log" 2>&1 &
  kube_pid=$!
  # A failure of a step below ends this script: the build must not outlive it.
  trap 'kill "$kube_pid" 2>/dev/null || true' EXIT
fi

stage_start "bootstrap: docker engine"
"$here/docker-engine.sh"
stage_end

stage_start "bootstrap: base images"
"$here/base-images.sh"
stage_end

if [ "$TEST_TOOLS" = 1 ]; then
  # Built in the background since "test tools": the time shown is what was left to wait for.
  stage_start "bootstrap: kube components (wait)"
  if ! wait "$kube_pid"; then
    cat "$kube_log" >&2
    echo "ERROR: building the kube components failed (log above: $kube_log)" >&2
    exit 1
  fi
  grep -v -e '^/' -e '^go: downloading' "$kube_log" >&2 || true
  stage_end
fi

echo "Bootstrap timings:"; cat "$EDGEAI_JC_TIMINGS"
