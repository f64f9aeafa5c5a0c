#!/usr/bin/env bash
# Run before `kubectl apply -k`: renders the kustomization as kubectl does and fails naming every placeholder
# left in it (the example hosts, senders, mail relay and registry this repository ships), so that none reaches
# a cluster; a credential issued under a placeholder issuer would have to be issued again. The prod overlay
# takes them all from one file, overlays/prod/site/kustomization.yaml.
# It warns naming each of this repository's images (lrs/<service>) pinned by tag only: a tag pushed again would
# run another build on the nodes that pull it (imagePullPolicy IfNotPresent). Pin each by the digest the push
# wrote (`digest:` beside `newTag:` in the site file's images:, docs/deploy.md section 2); with
# LRS_REQUIRE_DIGESTS=1 such an image fails the check instead.
#   deploy/k8s/check-before-apply.sh overlays/prod
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kustomization=${1:?usage: check-before-apply.sh KUSTOMIZATION, a directory such as overlays/prod}
[[ -d $kustomization ]] || kustomization=$here/$kustomization
if command -v kubectl >/dev/null; then
  render=(kubectl kustomize)
else
  render=(kustomize build)
fi
rendered=$("${render[@]}" "$kustomization")

placeholders=$(grep -oE '[A-Za-z0-9._@-]*(lrs\.example|example\.invalid)\b' <<<"$rendered" | sort -u || true)
if [[ -n $placeholders ]]; then
  echo "$1 still holds placeholders: set each (production: deploy/k8s/overlays/prod/site/kustomization.yaml)" >&2
  sed 's/^/  /' <<<"$placeholders" >&2
  exit 1
fi
by_tag=$(sed -n 's/^[ -]*image: *"\{0,1\}\([^"@ ]*\)"\{0,1\} *$/\1/p' <<<"$rendered" \
  | grep -E '(^|/)lrs/[^/]+$' | sort -u || true)
if [[ -n $by_tag ]]; then
  if [[ ${LRS_REQUIRE_DIGESTS:-0} == 1 ]]; then severity=error; else severity=warning; fi
  echo "$severity: $1 pins these images by tag only; add each one's digest (digest: sha256:..., from" \
    "podman push --digestfile) beside its newTag in deploy/k8s/overlays/prod/site/kustomization.yaml" >&2
  sed 's/^/  /' <<<"$by_tag" >&2
  [[ $severity == warning ]] || exit 1
fi
issuers=$(grep -A1 -- '- name: PROJECTOR_CREDENTIAL_ISSUER_URL' <<<"$rendered" \
  | sed -n 's/^ *value: //p' | sort -u || true)
echo "$1: no placeholder left."
if [[ -n $issuers ]]; then
  echo "Credential issuers (fixed once the first credential is issued, docs/operations.md):"
  sed 's/^/  /' <<<"$issuers"
fi
