#!/usr/bin/env bash
# `make restart`: stops the services `make up` started and starts them again with .run/env as it is now
# (after a key is rotated there, say); Kafka, PostgreSQL, the SMTP sink and the data stay as they are.
# `make restart SERVICE=NAME` (restart.sh NAME): that one alone, the others left running, NAME as in .run/pids/
# (plr-projector, sandpit-validation, ...): stopped if it runs, started as `make up` starts it, waited for.
set -euo pipefail
umask 077  # .run/env, the logs and what the services write stay this user's alone (as `make up` makes them)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
run="$root/.run"
# shellcheck source=scripts/dev/services.sh
source scripts/dev/services.sh
one=${1:-}
if [ $# -gt 1 ] || { [ -n "$one" ] && ! service_names | grep -qxF -- "$one"; }; then
  echo "usage: make restart [SERVICE=NAME]: no service is named '${*}'; NAME is one of:" >&2
  service_names | sed 's/^/  /' >&2
  exit 2
fi
if [ ! -f "$run/env" ]; then
  echo "nothing is up: 'make up' first" >&2
  exit 1
fi
if [ -z "$one" ]; then stop_services; fi
# An installation `make up` made with an earlier release keeps its data and its .run/env across an upgrade
# (git pull, make bootstrap, make restart): each setting a later release added, as `make up` writes it now.
added_since() { grep -q -- "$1" "$run/env" || echo "$2" >> "$run/env"; }
added_since "PORTAL_SMTP_HOST=" "export PORTAL_SMTP_HOST=127.0.0.1 PORTAL_SMTP_PORT=\$NOTIFIER_SMTP_PORT"
added_since "PORTAL_PUBLIC_URL=" "export PORTAL_PUBLIC_URL=\$LRS_PORTAL_URL  # where its reset links point"
added_since "INGEST_INSTANCE_ID=" "export INGEST_INSTANCE_ID=local VALIDATION_INSTANCE_ID=local"
added_since "$root/.venv/bin:" "export PATH=\"$root/.venv/bin:\$PATH\""
# shellcheck disable=SC1091
source "$run/env"
if [ -z "$one" ]; then
  start_services
  echo "waiting for the services to be ready..."
  .venv/bin/python scripts/dev/demo.py wait
  echo "restarted with .run/env as it is now (logs appended to .run/logs/)"
  exit 0
fi

url=$(service_url "$one")
if pid=$(running_pid "$one"); then
  echo "stopping $one (pid $pid)..."
else
  echo "$one is not running (no live process in .run/pids/$one.pid)"
fi
stop_named "$one"
# Its port must be free: another process answering there would be taken for it (and it could not start).
if curl -s -o /dev/null --max-time 3 "$url/healthz"; then
  echo "something that is not .run/pids/$one.pid's process answers at $url: stop it, then run this again" >&2
  exit 1
fi
start_service "$one"
echo "starting $one (pid $(cat "$run/pids/$one.pid")) as 'make up' does; waiting for it to be ready..."
wait_ready "$one"
echo "$one (pid $(cat "$run/pids/$one.pid")) ready at $url (log appended to .run/logs/$one.log)"
