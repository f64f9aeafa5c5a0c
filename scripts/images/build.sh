#!/usr/bin/env bash
# `make images`: one image per service (and the portal), tagged localhost/lrs/<service>:dev.
#   bash scripts/images/build.sh                 every service
#   bash scripts/images/build.sh ingest notifier  only these
# PYTHON_IMAGE overrides the base image (default: see base-image.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/common.sh"
bash "$here/install-tools.sh"
base=${PYTHON_IMAGE:-$(bash "$here/base-image.sh")}
if [ "$#" -gt 0 ]; then services=("$@"); else mapfile -t services < <(image_services "$root"); fi
# The host's trusted CAs, for a build that reaches PyPI through a TLS-inspecting proxy.
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
revision=$(image_revision "$root")
digest=$(source_digest "$root")
for service in "${services[@]}"; do
  image="$IMAGE_PREFIX/$service:$IMAGE_TAG"
  echo "building $image on $base" >&2
  started=$SECONDS
  "${PODMAN[@]}" build "${PODMAN_LIMITS[@]}" --network=host --layers --quiet \
    -f "$root/services/Dockerfile" --build-arg SERVICE="$service" --build-arg PYTHON_IMAGE="$base" \
    --secret id=ca-bundle,src="$CA_BUNDLE" \
    --label org.opencontainers.image.revision="$revision" --label lrs.source-digest="$digest" \
    -t "$image" "$root" >/dev/null
  echo "built $image in $((SECONDS - started)) s" >&2
done
