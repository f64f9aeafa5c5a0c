#!/usr/bin/env bash
# Prints the base image to build on: the public Python image when a registry answers, otherwise a
# local Debian bookworm made with debootstrap plus Debian's python3.11 (built once, then reused).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
DEBIAN_IMAGE=localhost/lrs-base/debian:bookworm-minbase

if "${PODMAN[@]}" image exists "$PUBLIC_PYTHON_IMAGE" \
  || timeout 60 "${PODMAN[@]}" pull --quiet "$PUBLIC_PYTHON_IMAGE" >/dev/null 2>&1; then
  echo "$PUBLIC_PYTHON_IMAGE"
  exit 0
fi
if ! "${PODMAN[@]}" image exists "$DEBIAN_IMAGE"; then
  echo "no registry answers: building $DEBIAN_IMAGE with debootstrap" >&2
  mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(.*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d -t lrs-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs/../$(basename "$rootfs").log" 2>&1 \
    || { tail -20 "$rootfs/../$(basename "$rootfs").log" >&2; exit 1; }
  rm -f "$rootfs/../$(basename "$rootfs").log"
  tar -C "$rootfs" -c . | "${PODMAN[@]}" import --change 'ENV LANG=C.UTF-8' - "$DEBIAN_IMAGE" >/dev/null
fi
if ! "${PODMAN[@]}" image exists "$LOCAL_PYTHON_IMAGE"; then
  echo "building $LOCAL_PYTHON_IMAGE: Debian's python3.11 on $DEBIAN_IMAGE" >&2
  # python3.11-venv brings ensurepip, which the build stage uses to install uv from PyPI;
  # ca-certificates lets pip and uv reach PyPI over TLS.
  "${PODMAN[@]}" build "${PODMAN_LIMITS[@]}" --network=host --quiet -t "$LOCAL_PYTHON_IMAGE" -f - "$here" >/dev/null <<CONTAINERFILE
FROM $DEBIAN_IMAGE
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
CMD ["python3.11"]
CONTAINERFILE
fi
echo "$LOCAL_PYTHON_IMAGE"
