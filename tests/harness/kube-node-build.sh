#!/usr/bin/env bash
# Build the NODE side of the lab's real Kubernetes (issue 17, stage 2) once per content key:
# cri-dockerd (github.com/Mirantis/cri-dockerd, the CRI shim of k3s's own --docker path, in front of
# the node's Docker; module tests/kube-node/cri) and the CNI plugins bridge, host-local, loopback and
# portmap (github.com/containernetworking/plugins; module tests/kube-node/cni). jc-kube
# (kube-build.sh) has the kubelet; this script is separate so that neither build keys the other.
#
# Into a machine-level cache that outlives the checkout, as kube-build.sh does:
#   $KUBE_NODE_CACHE/<key>/cri-dockerd, $KUBE_NODE_CACHE/<key>/cni/{bridge,host-local,loopback,portmap},
#   $KUBE_NODE_CACHE/<key>/pause (tests/kube-node/pause: the pod sandbox process; no registry here)
# The key hashes tests/kube-node/**/{*.go,go.mod,go.sum}, this script and `go version`.
#
#   tests/harness/kube-node-build.sh          # build when needed, print the directory
#   tests/harness/kube-node-build.sh --path   # print the current key's directory; build nothing
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"

SRC="$top/tests/kube-node"
KUBE_NODE_CACHE=${EDGEAI_JC_KUBE_NODE_CACHE:-/var/cache/edgeai-jc/kube-node}
KEEP=2
CNI_PLUGINS="plugins/main/bridge plugins/ipam/host-local plugins/main/loopback plugins/meta/portmap"

if ! command -v go >/dev/null 2>&1; then
  echo "ERROR: no Go toolchain (go) on PATH; tests/kube-node needs Go" >&2
  exit 1
fi

key=$(go_content_key "$0" "$SRC")
out="$KUBE_NODE_CACHE/$key"

if [ "${1:-}" = "--path" ]; then
  echo "$out"
  exit 0
fi

as_root mkdir -p "$KUBE_NODE_CACHE"
exec 9>"$KUBE_NODE_CACHE/.lock"
flock 9
if [ -x "$out/cri-dockerd" ] && [ -x "$out/cni/portmap" ] && [ -x "$out/pause" ]; then
  echo "cri-dockerd and CNI plugins are up to date (key $key): $out" >&2
  echo "$out"
  exit 0
fi

tmp=$(mktemp -d "$KUBE_NODE_CACHE/.build-$key.XXXXXX")
# shellcheck disable=SC2064
trap "rm -rf '$tmp'" EXIT
echo "building cri-dockerd and the CNI plugins (key $key) from $SRC" >&2
t0=$(date +%s)
# Static (CGO_ENABLED=0): they run inside the lab's Debian containers. -checklinkname=0: cri-dockerd
# v0.3.14's dependency graph (Kubernetes 1.27, reflect2/json-iterator) predates Go 1.23's linkname
# check, as jc-kube's does. -mod=readonly: go.mod/go.sum as committed.
build=(nice -n 10 env CGO_ENABLED=0 go build -mod=readonly -trimpath)
# The version cri-dockerd reports, as its release builds stamp it (else "dev (HEAD)").
criversion=$(sed -n 's/^require github.com\/Mirantis\/cri-dockerd v//p' "$SRC/cri/go.mod")
(cd "$SRC/cri" && "${build[@]}" -ldflags "-s -w -checklinkname=0 \
  -X github.com/Mirantis/cri-dockerd/cmd/version.Version=$criversion" -o "$tmp/out/cri-dockerd" .)
t1=$(date +%s)
mkdir -p "$tmp/out/cni"
# shellcheck disable=SC2086
(cd "$SRC/cni" && "${build[@]}" -ldflags "-s -w" -o "$tmp/out/cni/" \
  $(printf 'github.com/containernetworking/plugins/%s ' $CNI_PLUGINS))
(cd "$SRC/pause" && "${build[@]}" -ldflags "-s -w" -o "$tmp/out/pause" .)
"$tmp/out/cri-dockerd" --version >&2
rm -rf "$out"
mv "$tmp/out" "$out"
echo "built cri-dockerd in $(( t1 - t0 ))s and the CNI plugins in $(( $(date +%s) - t1 ))s: $(du -sh "$out" | cut -f1) in $out" >&2

find "$KUBE_NODE_CACHE" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name "$key" -printf '%T@ %p\n' \
  | sort -rn | tail -n +$((KEEP + 1)) | cut -d' ' -f2- | xargs -r rm -rf
echo "$out"
