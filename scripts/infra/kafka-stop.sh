#!/usr/bin/env bash
# Stops the broker started by kafka-start.sh (controlled shutdown, then KILL) and removes its work dir.
# KAFKA_STOP_KILL=1: KILL at once, for a throw-away broker whose data goes with its work dir (the tests').
set -uo pipefail
KAFKA_WORK=${1:-${KAFKA_WORK:?usage: kafka-stop.sh KAFKA_WORK}}
pid=$(cat "$KAFKA_WORK/kafka.pid" 2>/dev/null) || exit 0
# only the broker this work dir started: after a reboot its pid may be another process's
if [[ "$(ps -o args= -p "$pid" 2>/dev/null)" != *"kafka.Kafka $KAFKA_WORK/server.properties"* ]]; then
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$KAFKA_WORK"
  exit 0
fi
if [ "${KAFKA_STOP_KILL:-0}" != 1 ]; then
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
fi
kill -KILL "$pid" 2>/dev/null
[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$KAFKA_WORK"
exit 0
