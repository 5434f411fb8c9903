#!/usr/bin/env bash
# Make sure a Docker engine answers. When none does, install Debian's docker.io and
# start dockerd in the background (machines without systemd as PID 1 run no daemon).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  apt_ensure docker.io
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "starting dockerd in the background (log: /var/log/dockerd.log)" >&2
  as_root sh -c 'nohup setsid dockerd >/var/log/dockerd.log 2>&1 &'
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ERROR: the Docker engine did not answer within 60s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
