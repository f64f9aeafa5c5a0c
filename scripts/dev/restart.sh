#!/usr/bin/env bash
# `make restart`: stops the services `make up` started and starts them again with .run/env as it is now
# (after a key is rotated there, say); Kafka, PostgreSQL, the SMTP sink and the data stay as they are.
set -euo pipefail
umask 077  # .run/env, the logs and what the services write stay this user's alone (as `make up` makes them)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
run="$root/.run"
if [ ! -f "$run/env" ]; then
  echo "nothing is up: 'make up' first" >&2
  exit 1
fi
# shellcheck source=scripts/dev/services.sh
source scripts/dev/services.sh
stop_services
# An installation `make up` made with an earlier release keeps its data and its .run/env across an upgrade
# (git pull, make bootstrap, make restart): each setting a later release added, as `make up` writes it now.
added_since() { grep -q -- "$1" "$run/env" || echo "$2" >> "$run/env"; }
added_since "PORTAL_SMTP_HOST=" "export PORTAL_SMTP_HOST=127.0.0.1 PORTAL_SMTP_PORT=\$NOTIFIER_SMTP_PORT"
added_since "PORTAL_PUBLIC_URL=" "export PORTAL_PUBLIC_URL=\$LRS_PORTAL_URL  # where its reset links point"
added_since "INGEST_INSTANCE_ID=" "export INGEST_INSTANCE_ID=local VALIDATION_INSTANCE_ID=local"
added_since "$root/.venv/bin:" "export PATH=\"$root/.venv/bin:\$PATH\""
# shellcheck disable=SC1091
source "$run/env"
start_services
echo "waiting for the services to be ready..."
.venv/bin/python scripts/dev/demo.py wait
echo "restarted with .run/env as it is now (logs appended to .run/logs/)"
