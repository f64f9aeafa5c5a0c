#!/usr/bin/env bash
# Prints the base image to build on: the public Python image when a registry answers or one was pulled before
# (with a warning giving its age when it could not be pulled again), otherwise a
# local Debian bookworm made with debootstrap plus Debian's python3.11, with bookworm-updates and
# bookworm-security as apt sources and every package upgraded from them. That local base is built again
# when it is older than BASE_MAX_AGE_DAYS (default 7), so the security updates published since reach the
# images built on it; BASE_MAX_AGE_DAYS=0 builds it again now.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
DEBIAN_IMAGE=localhost/lrs-base/debian:bookworm-minbase

# Pulled each time a registry answers, so a public base takes its publisher's security updates as the local one does.
# With one already here the pull only brings what changed, so it is given less time (BASE_PULL_TIMEOUT_SECONDS sets
# both); a pull that fails then leaves the one here in use, said so with its age.
if "${PODMAN[@]}" image exists "$PUBLIC_PYTHON_IMAGE"; then
  if ! timeout "${BASE_PULL_TIMEOUT_SECONDS:-20}" "${PODMAN[@]}" pull --quiet "$PUBLIC_PYTHON_IMAGE" >/dev/null 2>&1; then
    created=$("${PODMAN[@]}" image inspect --format '{{.Created.Unix}}' "$PUBLIC_PYTHON_IMAGE")
    echo "warning: $PUBLIC_PYTHON_IMAGE could not be pulled again:" \
      "the $(( ($(date +%s) - created) / 86400 ))-day-old one is used" >&2
  fi
  echo "$PUBLIC_PYTHON_IMAGE"
  exit 0
fi
if timeout "${BASE_PULL_TIMEOUT_SECONDS:-60}" "${PODMAN[@]}" pull --quiet "$PUBLIC_PYTHON_IMAGE" >/dev/null 2>&1; then
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
max_age_days=${BASE_MAX_AGE_DAYS:-7}
age_days=-1  # none yet
if "${PODMAN[@]}" image exists "$LOCAL_PYTHON_IMAGE"; then
  created=$("${PODMAN[@]}" image inspect --format '{{.Created.Unix}}' "$LOCAL_PYTHON_IMAGE")
  age_days=$(( ($(date +%s) - created) / 86400 ))
fi
if (( age_days < 0 || age_days >= max_age_days )); then
  # The security suite from the host's apt sources (this machine's apt uses it), else Debian's own.
  mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(.*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
  mirror=${mirror:-http://deb.debian.org/debian}
  security=${DEBIAN_SECURITY_MIRROR:-$(awk 'BEGIN { RS = "" } /bookworm-security/' /etc/apt/sources.list.d/*.sources \
    2>/dev/null | sed -n 's/^URIs: *//p' | head -1)}
  security=${security:-http://deb.debian.org/debian-security}
  if (( age_days < 0 )); then why="none yet"; else why="$age_days days old"; fi
  echo "building $LOCAL_PYTHON_IMAGE ($why): Debian's python3.11 on $DEBIAN_IMAGE, upgraded from $security" >&2
  # python3.11-venv brings ensurepip, which the build stage uses to install uv from PyPI (the runtime
  # stage of services/Dockerfile purges it again); ca-certificates lets pip and uv reach PyPI over TLS.
  # --no-cache: a cached upgrade step would bring nothing new.
  # A base that could not be built again (a mirror away) leaves the older one in use, said so; with none, it fails.
  if ! "${PODMAN[@]}" build "${PODMAN_LIMITS[@]}" --network=host --no-cache --quiet -t "$LOCAL_PYTHON_IMAGE" -f - \
    "$here" >/dev/null <<CONTAINERFILE
FROM $DEBIAN_IMAGE
RUN printf '%s\\n' 'deb $mirror bookworm main' 'deb $mirror bookworm-updates main' \
      'deb $security bookworm-security main' >/etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
CMD ["python3.11"]
CONTAINERFILE
  then
    if (( age_days < 0 )); then exit 1; fi
    echo "warning: $LOCAL_PYTHON_IMAGE could not be built again: the $age_days-day-old one is used" >&2
  fi
fi
echo "$LOCAL_PYTHON_IMAGE"
