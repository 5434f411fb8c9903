#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv from the pinned requirements and make the
# collection importable as edgeai.jetson_cluster from this checkout.
#
#   VENV=.venv tests/harness/venv.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"

VENV=${VENV:-$top/.venv}
REQS="$top/requirements-dev.txt"
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "ERROR: $PYTHON is older than 3.11; ansible-core 2.19 needs Python >= 3.11 on the controller" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian splits venv/ensurepip into python3-venv.
    rm -rf "$VENV"
    apt_ensure python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
fi

stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing pinned Python packages into $VENV" >&2
  "$VENV/bin/python" -m pip install -q -r "$REQS"
  echo "$want" >"$stamp"
fi

# ansible resolves edgeai.jetson_cluster.* through collections_path (ansible.cfg).
link="$top/.cache/project-collections/ansible_collections/edgeai/jetson_cluster"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "$top" ]; then
  rm -f "$link"
  ln -s "$top" "$link"
fi
