#!/usr/bin/env bash
# Build jc-kube, the lab's multi-call binary of upstream Kubernetes components (tests/kube/), once
# per content key, into a machine-level cache that outlives the checkout: CI runs on a fresh
# clone on the same machine and must find the build made before it.
#
# Beside it: kwok, the node stand-in ($KUBE_CACHE/<key>/kwok), from its own module (tests/kube/kwok).
#
# The key hashes everything the binary is made from: tests/kube/**/*.go, go.mod, go.sum,
# this script (the build flags) and `go version`. The binary lives at $KUBE_CACHE/<key>/jc-kube;
# a rerun with the same key finds it and does nothing. Go's own module and build caches
# (go env GOMODCACHE GOCACHE) are machine-level too, so a new key rebuilds only what changed.
#
#   tests/harness/kube-build.sh          # build when needed, print the binary's path
#   tests/harness/kube-build.sh --path   # print the path the current key's binary has; build nothing
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"

KUBE_SRC="$top/tests/kube"
KUBE_CACHE=${EDGEAI_JC_KUBE_CACHE:-/var/cache/edgeai-jc/kube}
# Older keys kept besides the current one (each binary is ~150 MB).
KEEP=2

if ! command -v go >/dev/null 2>&1; then
  echo "ERROR: no Go toolchain (go) on PATH; tests/kube needs Go >= $(sed -n 's/^go //p' "$KUBE_SRC/go.mod")" >&2
  exit 1
fi

key=$(go_content_key "$0" "$KUBE_SRC")
out="$KUBE_CACHE/$key/jc-kube"

if [ "${1:-}" = "--path" ]; then
  echo "$out"
  exit 0
fi

as_root mkdir -p "$KUBE_CACHE"
exec 9>"$KUBE_CACHE/.lock"
flock 9
if [ -x "$out" ]; then
  echo "jc-kube is up to date (key $key): $out" >&2
  echo "$out"
  exit 0
fi

# kine's SQLite driver is cgo (mattn/go-sqlite3).
apt_ensure gcc libc6-dev
tmp=$(mktemp -d "$KUBE_CACHE/.build-$key.XXXXXX")
# shellcheck disable=SC2064
trap "rm -rf '$tmp'" EXIT
echo "building jc-kube (key $key) from $KUBE_SRC; the first build takes long (Kubernetes is large)" >&2
t0=$(date +%s)
# -mod=readonly: go.mod/go.sum as committed, never rewritten. -checklinkname=0: since Go 1.23 the
# linker refuses //go:linkname pulls of runtime internals it does not list; kwok (with the same
# reflect2/json-iterator as Kubernetes 1.30) links without it under Go 1.26, the flag is kept as a
# guard for the larger Kubernetes graph until a build without it has been shown to link.
# The version the components report (/version), as Kubernetes' and k3s's builds stamp it.
kversion=$(sed -n 's/^\tk8s.io\/kubernetes v//p' "$KUBE_SRC/go.mod")
v=k8s.io/component-base/version
vflags="-X $v.gitVersion=v$kversion -X $v.gitMajor=${kversion%%.*} -X $v.gitMinor=$(echo "$kversion" | cut -d. -f2) \
  -X $v.gitTreeState=clean"
build=(nice -n 10 go build -mod=readonly -trimpath)
# providerless: without the in-tree cloud providers (GCE/AWS/Azure/vSphere SDKs), as k3s builds.
# Static, like k3s's own binary: the k3s double runs it inside the test containers (Debian
# bookworm, Ubuntu 18.04's older glibc, an arm64 rootfs under qemu-user where an x86-64 static
# binary still runs natively on this kernel), from a read-only bind mount of this directory.
# cgo is only kine's SQLite (mattn/go-sqlite3), linked statically against glibc: netgo/osusergo
# keep the resolver and user lookups in Go (glibc's NSS cannot be linked statically) and
# sqlite_omit_load_extension drops SQLite's dlopen.
(cd "$KUBE_SRC" && CGO_ENABLED=1 "${build[@]}" -tags providerless,netgo,osusergo,sqlite_omit_load_extension \
  -ldflags "-s -w -checklinkname=0 -linkmode external -extldflags -static $vflags" -o "$tmp/jc-kube" .)
if readelf -l "$tmp/jc-kube" | grep -q 'program interpreter'; then
  echo "ERROR: jc-kube is not statically linked (it asks for a program interpreter)" >&2
  exit 1
fi
"$tmp/jc-kube" version >&2
# kwok, the node stand-in, from its own module (tests/kube/kwok/tools.go says why).
(cd "$KUBE_SRC/kwok" && CGO_ENABLED=0 "${build[@]}" -ldflags "-s -w -checklinkname=0 $vflags" -o "$tmp/kwok" \
  sigs.k8s.io/kwok/cmd/kwok)
"$tmp/kwok" --version >&2
mkdir -p "$tmp/out"
mv "$tmp/jc-kube" "$tmp/kwok" "$tmp/out/"
rm -rf "$KUBE_CACHE/$key"
mv "$tmp/out" "$KUBE_CACHE/$key"
echo "built jc-kube and kwok in $(( $(date +%s) - t0 ))s: $(du -ch "$KUBE_CACHE/$key"/* | tail -1 | cut -f1) in $KUBE_CACHE/$key" >&2

# Drop all but the KEEP most recent other keys.
find "$KUBE_CACHE" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$key" -printf '%T@ %p\n' \
  | sort -rn | tail -n +$((KEEP + 1)) | cut -d' ' -f2- | xargs -r rm -rf
echo "$out"
