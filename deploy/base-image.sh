#!/usr/bin/env bash
# Builds a Debian bookworm base image with Python 3.11 from Debian's own packages (debootstrap),
# for machines that reach the Debian archive but no container registry. Needs root, debootstrap
# and podman (or buildah). Usage: deploy/base-image.sh [IMAGE] [WORKDIR]
#   then: podman build --build-arg BASE=IMAGE -f deploy/Dockerfile -t cc-gateway:0.1.0 .
set -euo pipefail
IMAGE="${1:-localhost/debian-python:bookworm}"
WORK="${2:-$(mktemp -d)}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ ! -x "$WORK/rootfs/usr/bin/python3" ]; then
  debootstrap --variant=minbase --include=python3,python3-venv,libgomp1,tini,ca-certificates \
    bookworm "$WORK/rootfs" "$MIRROR"
fi
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$IMAGE"
echo "$IMAGE"
