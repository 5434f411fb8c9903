#!/usr/bin/env bash
# Build the Debian bookworm systemd images that every test host and the local lab start from.
#
# No container registry can be reached, so the images are made here with debootstrap and
# `docker import`. Each image carries a label with a content key (this script, the suite and
# the architecture): a rerun with the same key finds the image and does nothing.
#
#   tests/harness/base-images.sh [ARCH...]     # default: amd64 arm64 (EDGEAI_JC_ARCHES)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/harness/lib.sh
. "$here/lib.sh"

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
REPO=${EDGEAI_JC_IMAGE_REPO:-edgeai-jc/debian-systemd}
# What every real target already has: systemd as PID 1, D-Bus, Python for Ansible, apt bindings.
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,procps,kmod,ca-certificates
read -r -a ARCHES <<<"${*:-${EDGEAI_JC_ARCHES:-amd64 arm64}}"

host_arch=$(dpkg --print-architecture)

enable_foreign_arch() {
  local arch=$1
  apt_ensure qemu-user-static binfmt-support
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  case "$arch" in
    arm64) as_root update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true ;;
    *) echo "ERROR: no qemu mapping for architecture $arch" >&2; exit 1 ;;
  esac
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    echo "ERROR: binfmt_misc has no qemu-aarch64 entry; arm64 images cannot run here" >&2
    exit 1
  fi
}

build_one() {
  local arch=$1
  local tag="$REPO:$SUITE-$arch"
  local key
  key=$( { cat "$0"; echo "$SUITE $arch $MIRROR $PACKAGES"; } | sha256sum | cut -c1-16)

  [ "$arch" = "$host_arch" ] || enable_foreign_arch "$arch"

  if [ "$(docker image inspect "$tag" --format '{{ index .Config.Labels "edgeai.jc.key" }}' 2>/dev/null)" = "$key" ]; then
    echo "$tag is up to date (key $key)" >&2
    return 0
  fi

  apt_ensure debootstrap
  local rootfs
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/edgeai-jc-rootfs-$arch.XXXXXX")
  # shellcheck disable=SC2064
  trap "as_root rm -rf '$rootfs'" RETURN
  echo "debootstrap $SUITE/$arch into $rootfs (a few minutes, more under qemu)" >&2
  as_root debootstrap --variant=minbase --arch="$arch" --include="$PACKAGES" \
    "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || {
      tail -n 30 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"

  # The sources a real Debian host has, so that test hosts get security updates too.
  as_root tee "$rootfs/etc/apt/sources.list" >/dev/null <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES
  # Each container gets its own machine-id at first boot; no package caches in the image.
  as_root sh -c ": > '$rootfs/etc/machine-id'; rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/*"

  as_root tar -C "$rootfs" -c . | docker import \
    --change "LABEL edgeai.jc.key=$key" \
    --change "LABEL edgeai.jc.arch=$arch" \
    --change "ENV container=docker" \
    --change 'CMD ["/lib/systemd/systemd"]' \
    - "$tag" >/dev/null
  echo "built $tag (key $key)" >&2
}

for arch in "${ARCHES[@]}"; do
  build_one "$arch"
done
