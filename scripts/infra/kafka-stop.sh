#!/usr/bin/env bash
# Stops the broker started by kafka-start.sh (controlled shutdown, then KILL) and removes its work dir.
set -uo pipefail
KAFKA_WORK=${1:-${KAFKA_WORK:?usage: kafka-stop.sh KAFKA_WORK}}
pid=$(cat "$KAFKA_WORK/kafka.pid" 2>/dev/null) || exit 0
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$pid" 2>/dev/null
[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$KAFKA_WORK"
exit 0
