#!/usr/bin/env bash
# Creates the Secrets the manifests expect and no generator can make, once per namespace, before the
# first `kubectl apply -k`. Existing Secrets are left as they are (rotate them by deleting first).
#   bash deploy/k8s/create-secrets.sh lrs-dev
#   BACKUP_ACCESS_KEY_ID=... BACKUP_SECRET_ACCESS_KEY=... bash deploy/k8s/create-secrets.sh lrs
# - lrs-db-<service>: each service's PostgreSQL role (CloudNativePG sets it as the role's password);
#   random hex, so it needs no escaping inside DATABASE_URL. lrs-db-sandpit-<service>: the Sandpit's
#   (lrs-db-sandpit-portal: the live portal's in the Sandpit's database); lrs-db-sandpit: the role that owns
#   the Sandpit's database, for operators (as lrs is live's).
# - lrs-db-backup: the object store's credentials for CloudNativePG's backups. Given for production;
#   generated for dev, where the same Secret also starts the in-cluster MinIO.
# - lrs-credential-signing: the key that seals the PLR credential signing keys in PostgreSQL
#   (decision 0050); losing it makes the stored signing keys unusable, so back it up with the database.
#   lrs-sandpit-credential-signing: the Sandpit's projector's own, never live's.
# - lrs-keyring: LRS_KEYRING_KEY, which the learners' data keys are found and wrapped with (decision 0080),
#   the same for live and the Sandpit. Losing it makes every learner's sealed personal data unreadable.
#   The key that wraps the learners' keys is rotated by adding `wrapping-keys` and `wrap-with` to this
#   Secret (docs/operations.md, decision 0116). Keep it apart from the database backups: a backup and
#   this key together open what an erasure made unreadable, until that backup expires.
# - lrs-db-sandpit-keys: the role the Sandpit's validation reads the live key store as.
set -euo pipefail
namespace=${1:?usage: create-secrets.sh NAMESPACE}
exists() { kubectl -n "$namespace" get secret "$1" >/dev/null 2>&1; }
random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
# Only a -dev namespace makes up the object store's credentials (its own MinIO takes them): anywhere else
# made-up ones would only fail every WAL archive, quietly, and stay in place when the script is run again.
if [[ $namespace != *-dev ]] && ! exists lrs-db-backup \
  && [[ -z ${BACKUP_ACCESS_KEY_ID:-} || -z ${BACKUP_SECRET_ACCESS_KEY:-} ]]; then
  echo "create-secrets.sh: $namespace needs BACKUP_ACCESS_KEY_ID and BACKUP_SECRET_ACCESS_KEY, the object" \
    "store's credentials for the database backups; nothing was created" >&2
  exit 1
fi
for service in ingest validation plr-projector challenges notifier reporting portal sandpit sandpit-keys \
  sandpit-ingest sandpit-validation sandpit-plr-projector sandpit-notifier sandpit-portal; do
  name=lrs-db-$service
  exists "$name" && continue
  kubectl -n "$namespace" create secret generic "$name" --type=kubernetes.io/basic-auth \
    --from-literal=username="lrs_${service//-/_}" --from-literal=password="$(random)"
done
if ! exists lrs-db-backup; then
  kubectl -n "$namespace" create secret generic lrs-db-backup \
    --from-literal=ACCESS_KEY_ID="${BACKUP_ACCESS_KEY_ID:-lrs-$(random | cut -c1-12)}" \
    --from-literal=ACCESS_SECRET_KEY="${BACKUP_SECRET_ACCESS_KEY:-$(random)}"
fi
for name in lrs-credential-signing lrs-sandpit-credential-signing; do
  exists "$name" && continue
  kubectl -n "$namespace" create secret generic "$name" \
    --from-literal=key-encryption-key="$(head -c 32 /dev/urandom | base64)"
done
if ! exists lrs-keyring; then
  kubectl -n "$namespace" create secret generic lrs-keyring \
    --from-literal=keyring-key="$(head -c 32 /dev/urandom | base64)"
fi
