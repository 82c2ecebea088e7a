#!/usr/bin/env bash
# Builds a minimal Debian image with python3 and imports it into the local Docker engine,
# for machines that cannot pull from a registry. Usage: build-base-image.sh [TAG]
# The mirror is the one apt on this machine already uses, never a hard-coded one.
set -euo pipefail
tag=${1:-xiaozhi-base:bookworm}
suite=${SUITE:-bookworm}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 2; }

mirror=${MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | head -1 || true)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in apt's sources; set MIRROR=..." >&2; exit 2; }

rootfs=$(mktemp -d /tmp/xiaozhi-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap $suite from the machine's mirror into $rootfs"
debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import -c 'CMD ["python3"]' - "$tag" >/dev/null
rm -f "$rootfs.log"
echo "imported $tag"
