#!/usr/bin/env bash
# Stops the broker started by kafka-start.sh (controlled shutdown, then KILL) and removes its work dir.
# KAFKA_STOP_KILL=1: KILL at once, for a throw-away broker whose data goes with its work dir (the tests').
# KEEP_WORK=1: leave the work dir (data, server.properties, ports) as it is, to start the same broker again
# (scripts/infra/infra-restart.sh).
set -uo pipefail
KAFKA_WORK=${1:-${KAFKA_WORK:?usage: kafka-stop.sh KAFKA_WORK}}
# The broker runs `kafka.Kafka <work dir>/server.properties` with the absolute path kafka-start.sh was given:
# a relative one (.run/kafka) would never match it. Either spelling of the path counts, symbolic links kept or
# resolved.
absolute=$(realpath -s -m -- "$KAFKA_WORK")
resolved=$(realpath -m -- "$KAFKA_WORK")
KAFKA_WORK=$absolute
pid=$(cat "$KAFKA_WORK/kafka.pid" 2>/dev/null) || exit 0
runs_this_broker() {  # whether $1, a process's command line, is this work dir's broker
  [[ "$1" == *"kafka.Kafka $absolute/server.properties"* || "$1" == *"kafka.Kafka $resolved/server.properties"* ]]
}
if args=$(ps -o args= -p "$pid" 2>/dev/null); then
  if ! runs_this_broker "$args"; then
    # Not this work dir's broker: another program with its pid (after a reboot), never signalled. The work dir is
    # removed as for a broker gone, unless a broker of it runs under another pid (a pid file written over).
    every=$(ps -eo args=)
    while IFS= read -r line; do
      if runs_this_broker "$line"; then
        echo "kafka-stop.sh: pid $pid in $KAFKA_WORK/kafka.pid is not the broker of $KAFKA_WORK, which runs under" \
          "another pid: nothing stopped or removed; stop that broker by hand" >&2
        exit 1
      fi
    done <<< "$every"
    echo "kafka-stop.sh: pid $pid in $KAFKA_WORK/kafka.pid is not the broker of $KAFKA_WORK (it runs: ${args:0:200})," \
      "and no broker of it runs: not signalled" >&2
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$KAFKA_WORK"
    exit 0
  fi
else
  # the broker is gone already
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
