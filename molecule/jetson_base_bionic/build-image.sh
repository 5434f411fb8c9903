#!/usr/bin/env bash
# Build the Ubuntu 18.04 (bionic) systemd image that molecule/jetson_base_bionic starts from:
# JetPack 4.x's userspace (systemd 237, Python 3.6, universe enabled) without NVIDIA's parts.
# Made like tests/harness/base-images.sh makes the Debian images (debootstrap + docker import,
# no registry needed) and cached the same way: a rerun with the same content key does nothing.
#
#   molecule/jetson_base_bionic/build-image.sh [TAG]
set -euo pipefail
TAG=${1:-edgeai-jc/jb-ubuntu-bionic:amd64}
MIRROR=${UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
# What a JetPack 4.6 root file system has that matters here (Python 3.6, apt bindings for it).
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,procps,kmod,ca-certificates
key=$( { cat "$0"; echo "bionic amd64 $MIRROR $PACKAGES"; } | sha256sum | cut -c1-16)

# Two scenarios use this image (jetson_base_bionic, nfs_bionic) and may start in parallel:
# the second waits for the first build and then finds the image up to date.
exec 9>"${TMPDIR:-/tmp}/edgeai-jc-$(echo "$TAG" | tr '/:' '__').lock"
flock 9

if [ "$(docker image inspect "$TAG" --format '{{ index .Config.Labels "edgeai.jc.key" }}' 2>/dev/null)" = "$key" ]; then
  echo "$TAG is up to date (key $key)" >&2
  exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
command -v debootstrap >/dev/null || {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
rootfs=$(mktemp -d "${TMPDIR:-/tmp}/jb-bionic-rootfs.XXXXXX")
trap 'as_root rm -rf "$rootfs" "$rootfs.log"' EXIT
echo "debootstrap bionic/amd64 into $rootfs (about a minute)" >&2
as_root debootstrap --variant=minbase --arch=amd64 --include="$PACKAGES" \
  bionic "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
# JetPack's sources: main and universe (python3.8 is in bionic-updates/universe).
as_root tee "$rootfs/etc/apt/sources.list" >/dev/null <<SOURCES
deb $MIRROR bionic main universe
deb $MIRROR bionic-updates main universe
deb $MIRROR bionic-security main universe
SOURCES
as_root sh -c ": > '$rootfs/etc/machine-id'; rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/*"
as_root tar -C "$rootfs" -c . | docker import \
  --change "LABEL edgeai.jc.key=$key" \
  --change "ENV container=docker" \
  --change 'CMD ["/lib/systemd/systemd"]' \
  - "$TAG" >/dev/null
echo "built $TAG (key $key)" >&2
