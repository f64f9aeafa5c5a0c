#!/usr/bin/env bash
# `make down`: stops every process `make up` started, then Kafka and PostgreSQL.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/.run"
[ -d "$run" ] || { echo "nothing is up"; exit 0; }
for pidfile in "$run"/pids/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null
done
for pidfile in "$run"/pids/*.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
done
bash "$root/scripts/infra/kafka-stop.sh" "$run/kafka"
bash "$root/scripts/infra/pg-stop.sh" "$run/pg"
rm -f "$run/env"
echo "stopped"
