#!/usr/bin/env bash
# Copies the analysts' Kafka client certificate (Secret lrs-analysts, which Strimzi's User Operator writes
# beside the KafkaUser) and the cluster CA the brokers' certificates chain to (Secret lrs-cluster-ca-cert)
# from the platform's namespace into lrs-analysts, under the same names. Run it once the KafkaUser is
# Ready, and again whenever Strimzi renews either certificate (the old one then stops being accepted).
#   bash deploy/k8s/analysts/copy-certificate.sh lrs
set -euo pipefail

platform=${1:?usage: copy-certificate.sh NAMESPACE, where the platform runs: lrs}
analysts=lrs-analysts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

copy() {  # copy SECRET KEY...: the keys through files, never on a command line
  local secret=$1 key
  shift
  local sources=()
  for key in "$@"; do
    kubectl -n "$platform" get secret "$secret" -o jsonpath="{.data.${key//./\\.}}" | base64 -d >"$work/$key"
    if [[ ! -s $work/$key ]]; then
      echo "secret $platform/$secret has no $key: is the KafkaUser ready?" >&2
      exit 1
    fi
    sources+=("--from-file=$key=$work/$key")
  done
  kubectl -n "$analysts" create secret generic "$secret" "${sources[@]}" --dry-run=client -o yaml \
    | kubectl -n "$analysts" apply -f -
}

copy lrs-analysts user.crt user.key
copy lrs-cluster-ca-cert ca.crt
