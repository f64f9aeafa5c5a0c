#!/usr/bin/env bash
# `make down`: stops every process `make up` started, then Kafka and PostgreSQL. A pid file whose process is no
# longer the program it names (after a reboot, say, its pid taken by another) is removed without a signal.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/.run"
[ -d "$run" ] || { echo "nothing is up"; exit 0; }
# shellcheck source=scripts/dev/services.sh
source "$root/scripts/dev/services.sh"
stop_services
smtp_pid=$(cat "$run/pids/smtp.pid" 2>/dev/null) || smtp_pid=
if [ -n "$smtp_pid" ] && [[ "$(ps -o args= -p "$smtp_pid" 2>/dev/null)" == *"aiosmtpd"*"$run/mailbox"* ]]; then
  kill -TERM "$smtp_pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$smtp_pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$smtp_pid" 2>/dev/null
fi
rm -f "$run"/pids/*.pid
bash "$root/scripts/infra/kafka-stop.sh" "$run/kafka"
bash "$root/scripts/infra/pg-stop.sh" "$run/pg"
rm -f "$run/env"
echo "stopped"
