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

# EDGEAI_JC_TEST_TOOLS=0 (`make lab`): leave out the packages only the tests use (names in
# test-only-requirements.txt; kubernetes-validate alone is a quarter of the venv's files), the
# same pins otherwise. A venv with everything serves both; a lab venv is completed by `make test`.
stamp="$VENV/.requirements.sha256"
full=$(sha256sum "$REQS" | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ "${EDGEAI_JC_TEST_TOOLS:-1}" = 0 ]; then
  want="lab-$(cat "$REQS" "$here/test-only-requirements.txt" | sha256sum | cut -d' ' -f1)"
else
  want=$full
fi
# pip byte-compiles at install (about half the install time on two cores, for the ansible
# package's ~22,000 bundled modules) and must: where PYTHONDONTWRITEBYTECODE is set (this machine
# kind sets it) Python never writes a .pyc, so with --no-compile every ansible-playbook, lint and
# pytest process compiled what it imported again (fresh clone: lint 47 -> 126 s, unit 63 -> 140 s).
if [ "$have" != "$full" ] && [ "$have" != "$want" ]; then
  echo "installing pinned Python packages into $VENV" >&2
  if [ "$want" = "$full" ]; then
    "$VENV/bin/python" -m pip install -q -r "$REQS"
  else
    lab_reqs=$(mktemp)
    # keep each pin whose name (before ==, case-insensitive) is not a test-only package
    awk 'NR == FNR { if ($1 !~ /^#/ && NF) skip[tolower($1)] = 1; next }
         { split($0, pin, "=="); if (!(tolower(pin[1]) in skip)) print }' \
      "$here/test-only-requirements.txt" "$REQS" >"$lab_reqs"
    "$VENV/bin/python" -m pip install -q -r "$lab_reqs"
    rm -f "$lab_reqs"
  fi
  echo "$want" >"$stamp"
fi

# ansible resolves edgeai.jetson_cluster.* through collections_path (ansible.cfg).
link="$top/.cache/project-collections/ansible_collections/edgeai/jetson_cluster"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "$top" ]; then
  rm -f "$link"
  ln -s "$top" "$link"
fi
