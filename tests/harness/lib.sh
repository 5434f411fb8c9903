# Shared helpers for the test harness scripts (sourced, not executed).
# shellcheck shell=bash

# Print a stage banner and remember when it started.
stage_start() {
  STAGE_NAME="$1"
  STAGE_T0=$(date +%s)
  printf '\n==> %s\n' "$STAGE_NAME" >&2
}

# Print how long the current stage took and append it to the timings file.
stage_end() {
  local took=$(( $(date +%s) - STAGE_T0 ))
  printf '<== %s: %ss\n' "$STAGE_NAME" "$took" >&2
  if [ -n "${EDGEAI_JC_TIMINGS:-}" ]; then
    printf '%-40s %6ss\n' "$STAGE_NAME" "$took" >>"$EDGEAI_JC_TIMINGS"
  fi
}

# Run a command as root (sudo when we are not root).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing (no-op when all are present).
apt_ensure() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The content key of a Go build cached outside the checkout: the build script (it holds the build
# flags), `go version`, and every Go source, go.mod and go.sum under the source directory.
#   go_content_key <build script> <source dir>
go_content_key() {
  { cat "$1"; go version; cd "$2" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) \
    | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-16
}
