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
  apt_ensure prometheus
  stage_end
fi

stage_start "bootstrap: docker engine"
"$here/docker-engine.sh"
stage_end

stage_start "bootstrap: base images"
"$here/base-images.sh"
stage_end

if [ "$TEST_TOOLS" = 1 ]; then
  stage_start "bootstrap: kube components"
  # jc-kube (tests/kube): the real Kubernetes components the kube tests run; cached per content
  # key outside the checkout, so this is a no-op until tests/kube or Go changes.
  "$here/kube-build.sh" >/dev/null
  stage_end
fi

echo "Bootstrap timings:"; cat "$EDGEAI_JC_TIMINGS"
