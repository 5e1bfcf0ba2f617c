#!/usr/bin/env bash
# Build the local base image for trainchain's training images when no registry is reachable:
# a minimal Debian (bookworm: python3 is 3.11) made with debootstrap and `docker import`ed.
# Idempotent: does nothing when the image already exists. Needs root, debootstrap and dockerd.
#
#   scripts/base-image.sh                       # -> trainchain/base:bookworm
#   BASE_TAG=my/base:1 MIRROR=http://... scripts/base-image.sh
# Then: trainchain images build sklearn --base-image trainchain/base:bookworm
set -euo pipefail

tag="${BASE_TAG:-trainchain/base:bookworm}"
suite="${SUITE:-bookworm}"
mirror="${MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag already exists"
    exit 0
fi
for tool in debootstrap docker; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed: apt-get install -y $tool" >&2; exit 1; }
done

root="$(mktemp -d /tmp/trainchain-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap $suite into $root (from $mirror)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$root" "$mirror"
# Smaller image: no apt lists or package cache (images never run apt-get; they use pip).
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# `docker import` keeps no metadata: give it the PATH and language settings images expect.
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag"
echo "built $tag"
