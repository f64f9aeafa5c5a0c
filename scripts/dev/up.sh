#!/usr/bin/env bash
# `make up`: Kafka, PostgreSQL, an SMTP sink and all six services on loopback, then the demo:
# sample reference data and learners loaded, the sample batches submitted, a PLR, MI and emails shown.
# Beside them the Sandpit (decision 0060): ingest, validation, plr-projector and notifier again with
# LRS_ENVIRONMENT=sandpit and the database lrs_sandpit, on ports of their own (LRS_SANDPIT_*_URL).
set -Eeuo pipefail
# .run/ holds the keyring and credential keys (.run/env), API keys, the services' logs and the Maildir's
# working reset links: what this script, the SMTP sink and the services create is for this user alone.
umask 077
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
run="$root/.run"
mkdir -p "$run/logs" "$run/pids" "$run/mailbox/cur" "$run/mailbox/new" "$run/mailbox/tmp"
# A .run/ made before umask 077 (or by another tool) is closed too. Run as root, the cluster in .run/pg runs as
# the postgres user, who must pass through .run/ (0711: no listing; everything in it is closed to others).
if [ "$(id -u)" = 0 ]; then chmod 711 "$run"; else chmod 700 "$run"; fi
chmod go-rwx "$run"/*
chmod -R go-rwx "$run/logs" "$run/mailbox"
if [ -f "$run/env" ] && [ -f "$run/pids/validation.pid" ] && kill -0 "$(cat "$run/pids/validation.pid")" 2>/dev/null; then
  echo "already up (see .run/env); 'make down' first to restart" >&2
  exit 0
fi
rm -f "$run"/logs/*.log  # a fresh start: the services' logs are this run's (`make restart` appends)
free_port() { python3 scripts/infra/free_ports.py 1; }
# A step that fails leaves what started running, and `make up` again would say "already up": say how to go on.
trap 'echo "make up stopped before the system was fully up (see .run/logs/*.log): run make down, then make up again" >&2' ERR

echo "starting Kafka (KRaft, from Maven Central jars)..."
rm -rf "$run/kafka"
KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_WORK="$run/kafka" bash scripts/infra/kafka-start.sh)
echo "starting PostgreSQL (Debian binaries)..."
rm -rf "$run/pg"
DATABASE_URL=$(PG_WORK="$run/pg" bash scripts/infra/pg-start.sh)
SANDPIT_DATABASE_URL="${DATABASE_URL%/*}/lrs_sandpit"
"$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -q "$DATABASE_URL" -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE lrs_sandpit" > /dev/null
SMTP_PORT=$(free_port)
{
  # `lrs` (and the services' commands) on PATH, this clone's first, for whoever sources .run/env
  echo "export PATH=\"$root/.venv/bin:\$PATH\""
  echo "export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
  echo "export DATABASE_URL=$DATABASE_URL"
  echo "export LRS_SANDPIT_DATABASE_URL=$SANDPIT_DATABASE_URL PORTAL_SANDPIT_DATABASE_URL=$SANDPIT_DATABASE_URL"
  echo "export NOTIFIER_SMTP_HOST=127.0.0.1 NOTIFIER_SMTP_PORT=$SMTP_PORT"
  # The portal sends forgotten-password links (decision 0128) to the same sink.
  echo "export PORTAL_SMTP_HOST=127.0.0.1 PORTAL_SMTP_PORT=$SMTP_PORT"
  # A made-up LRS service desk (an address at the reserved .example domain, a number Ofcom keeps for drama), so that
  # the portal's "Contact the LRS service desk" page and every email's footer say where to ask, as a real one's would.
  # Each only when not set already: `NOTIFIER_SERVICE_DESK_EMAIL=… make restart` still gives the services that one.
  for setting in PORTAL_SUPPORT NOTIFIER_SERVICE_DESK; do
    # shellcheck disable=SC2016 # written as it is: .run/env expands it when it is sourced
    printf 'export %s_EMAIL="${%s_EMAIL-lrs-desk@lrs.example}" %s_PHONE="${%s_PHONE-0808 157 0900}"' \
      "$setting" "$setting" "$setting" "$setting"
    printf ' %s_HOURS="${%s_HOURS-Monday to Friday, 9am to 5pm}"\n' "$setting" "$setting"
  done
} > "$run/env"

# -u: SMTPUTF8, as a production relay offers it: an AO's address such as zoë@ao.example is delivered
nohup .venv/bin/python -m aiosmtpd -n -u -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$run/mailbox" \
  > "$run/logs/smtp.log" 2>&1 < /dev/null &
echo $! > "$run/pids/smtp.pid"

# shellcheck source=scripts/dev/services.sh
source scripts/dev/services.sh
for service in "${live_services[@]}"; do
  port=$(free_port)
  name=${service//-/_}
  echo "export ${prefix[$service]}_PORT=$port LRS_${name^^}_URL=http://127.0.0.1:$port" >> "$run/env"
done
for service in "${sandpit_services[@]}"; do
  name=${service//-/_}
  echo "export LRS_SANDPIT_${name^^}_URL=http://127.0.0.1:$(free_port)" >> "$run/env"
done
{
  echo "export PORTAL_COOKIE_SECURE=false  # the portal is served over plain http on loopback"
  echo "export PORTAL_PUBLIC_URL=\$LRS_PORTAL_URL  # where its reset links point"
  # The key that seals the PLR credential signing keys at rest: made once per `make up`, like the database.
  echo "export PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)"
  # The Sandpit's projector seals its own signing keys under a key of its own, never live's.
  echo "export LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)"
  echo "export PROJECTOR_CREDENTIAL_ISSUER_URL=\$LRS_PLR_PROJECTOR_URL"
  # The key the learners' data keys are wrapped and found with (decision 0080): made once per `make up`,
  # the same for live and the Sandpit, whose validation opens live registrations sealed under live keys.
  echo "export LRS_KEYRING_KEY=$(openssl rand -base64 32)"
  # Ingest's and validation's transactional producers keep their ids across restarts (the Sandpit's are
  # prefixed): a service started again aborts at once the Kafka transaction its predecessor left open.
  echo "export INGEST_INSTANCE_ID=local VALIDATION_INSTANCE_ID=local"
} >> "$run/env"
# shellcheck disable=SC1091
source "$run/env"
start_services
echo "waiting for the services to be ready..."
.venv/bin/python scripts/dev/demo.py wait
.venv/bin/python scripts/dev/demo.py run
for _ in $(seq 100); do curl -sf "$LRS_PORTAL_URL/readyz" > /dev/null && break; sleep 0.3; done
sample_ao=$(sed -n 2p samples/sample-100.csv | cut -d, -f2)
operator_key="$run/keys/operator.key"
portal_users=$(.venv/bin/lrs --key-file "$operator_key" users create ao.demo --name "AO Demo" --role ao \
  --ao "$sample_ao" --email results@ao.example \
  && .venv/bin/lrs --key-file "$operator_key" users create operator.demo --name "Operator Demo" --role operator \
    --every-duty --email operator.demo@lrs.example)
cat <<MSG

The system is up. Where to look:
  environment         source .run/env   (service URLs, Kafka, database; puts this clone's lrs on PATH)
  service logs        .run/logs/<service>.log
  emails sent         .run/mailbox/ (Maildir)
  API docs            \$LRS_INGEST_URL/docs, \$LRS_PLR_PROJECTOR_URL/docs, ... (see .run/env)
  operator key        .run/keys/operator.key   sample AO key: .run/keys/ao.key
  the Sandpit         .venv/bin/lrs --sandpit ... (LRS_SANDPIT_*_URL in .run/env), logs .run/logs/sandpit-*.log
                      keys .run/keys/sandpit-operator.key, .run/keys/sandpit-ao.key; portal: $LRS_PORTAL_URL/sandpit
  stop everything     make down

Organisation Portal: $LRS_PORTAL_URL  (sign in as one of these; passwords are shown only now)
$portal_users
  (lost a password? "Forgotten your password?" emails a link, found in .run/mailbox/new/)
MSG
