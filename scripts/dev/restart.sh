#!/usr/bin/env bash
# `make restart`: stops the services `make up` started and starts them again with .run/env as it is now
# (after a key is rotated there, say); Kafka, PostgreSQL, the SMTP sink and the data stay as they are (Kafka and
# PostgreSQL are stopped and started again, data and ports kept, by `make infra-restart WHAT=kafka|postgres`).
# `make restart SERVICE=NAME` (restart.sh NAME): that one alone, the others left running, NAME as in .run/pids/
# (plr-projector, sandpit-validation, ...): stopped if it runs, started as `make up` starts it, waited for.
# `make restart SERVICE=smtp`: the SMTP sink alone (aiosmtpd into .run/mailbox/), on the port `make up` gave it.
set -euo pipefail
umask 077  # .run/env, the logs and what the services write stay this user's alone (as `make up` makes them)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
run="$root/.run"
# shellcheck source=scripts/dev/services.sh
source scripts/dev/services.sh
one=${1:-}
if [ $# -gt 1 ] || { [ -n "$one" ] && [ "$one" != smtp ] && ! service_names | grep -qxF -- "$one"; }; then
  echo "usage: make restart [SERVICE=NAME]: no service is named '${*}'; NAME is one of:" >&2
  { service_names; echo "smtp"; } | sed 's/^/  /' >&2
  exit 2
fi
if [ ! -f "$run/env" ]; then
  echo "nothing is up: 'make up' first" >&2
  exit 1
fi
# An installation `make up` made with an earlier release keeps its data and its .run/env across an upgrade
# (git pull, make bootstrap, make restart): each setting a later release added, as `make up` writes it now.
added_since() { grep -q -- "$1" "$run/env" || echo "$2" >> "$run/env"; }
added_since "PORTAL_SMTP_HOST=" "export PORTAL_SMTP_HOST=127.0.0.1 PORTAL_SMTP_PORT=\$NOTIFIER_SMTP_PORT"
added_since "PORTAL_PUBLIC_URL=" "export PORTAL_PUBLIC_URL=\$LRS_PORTAL_URL  # where its reset links point"
added_since "INGEST_INSTANCE_ID=" "export INGEST_INSTANCE_ID=local VALIDATION_INSTANCE_ID=local"
added_since "$root/.venv/bin:" "export PATH=\"$root/.venv/bin:\$PATH\""
# shellcheck disable=SC1091
source "$run/env"
# A setting a service would refuse as it starts (its settings class, loaded from the environment start_service gives
# it: the Sandpit's with their overrides) is refused here in the service's words, for every service about to be
# started again, before anything is stopped: what runs is left running (a release that refuses a setting an earlier
# one took, say). The check is the script beside this one (as linked: the tests link this one alone).
if [ "$one" != smtp ]; then
  if [ -n "$one" ]; then starting=("$one"); else mapfile -t starting < <(service_names); fi
  .venv/bin/python "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/check_settings.py" "${starting[@]}" || exit 1
fi
if [ "$one" = smtp ]; then
  # as up.sh starts it, and down.sh knows it: aiosmtpd delivering into .run/mailbox/
  if pid=$(cat "$run/pids/smtp.pid" 2>/dev/null) && [[ "$(ps -o args= -p "$pid" 2>/dev/null)" == *"aiosmtpd"*"$run/mailbox"* ]]; then
    echo "stopping smtp (pid $pid)..."
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  else
    echo "smtp is not running (no live process in .run/pids/smtp.pid)"
  fi
  rm -f "$run/pids/smtp.pid"
  port=$NOTIFIER_SMTP_PORT
  nohup .venv/bin/python -m aiosmtpd -n -u -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$run/mailbox" \
    >> "$run/logs/smtp.log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$run/pids/smtp.pid"
  echo "starting smtp (pid $pid) as 'make up' does; waiting for it to listen..."
  deadline=$((SECONDS + 30))
  until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
    "$port" 2> /dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "smtp (pid $pid) exited before it listened: see .run/logs/smtp.log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "smtp (pid $pid) is not listening on 127.0.0.1:$port within 30 s: see .run/logs/smtp.log" >&2
      exit 1
    fi
    sleep 0.3
  done
  echo "smtp (pid $pid) listening at 127.0.0.1:$port (log appended to .run/logs/smtp.log); the notifier sends" \
    "what waited at its next try (at most 30 s)"
  exit 0
fi
if [ -z "$one" ]; then
  stop_services
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
