#!/usr/bin/env bash
# Runs a command with real Kafka and PostgreSQL: reuses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when
# set, otherwise starts throw-away ones (Maven-Central Kafka, Debian PostgreSQL) and stops them after.
set -euo pipefail
# The throw-away clusters, and what the command writes (.run/test-logs, say), are this user's alone.
umask 077
root=$(cd "$(dirname "$0")/../.." && pwd)
infra="$root/scripts/infra"
cleanup() {
  [ -n "${started_kafka:-}" ] && bash "$infra/kafka-stop.sh" "$started_kafka"
  [ -n "${started_pg:-}" ] && bash "$infra/pg-stop.sh" "$started_pg"
  return 0
}
trap cleanup EXIT
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  started_kafka=$(mktemp -d -t lrs-kafka.XXXXXX)
  KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_WORK="$started_kafka" bash "$infra/kafka-start.sh")
  export KAFKA_BOOTSTRAP_SERVERS
  echo "kafka: $KAFKA_BOOTSTRAP_SERVERS" >&2
fi
if [ -z "${DATABASE_URL:-}" ]; then
  started_pg=$(mktemp -d -t lrs-pg.XXXXXX)
  DATABASE_URL=$(PG_WORK="$started_pg" bash "$infra/pg-start.sh")
  export DATABASE_URL
  # the tests' personal-data scan reads the server's log too (tests/support/log_scan.py)
  export LRS_POSTGRES_SERVER_LOG="$started_pg/server.log"
  echo "postgres: $DATABASE_URL" >&2
fi
"$@"
