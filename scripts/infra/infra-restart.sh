#!/usr/bin/env bash
# `make infra-restart WHAT=kafka|postgres` (and `make infra-stop` / `make infra-start`): stops, starts, or stops
# and starts again the Kafka broker or the PostgreSQL cluster `make up` started, keeping its data, its port and
# its settings (kafka-start.sh and pg-start.sh cannot: they format a new broker on new ports, initdb a new
# cluster). The services are left running: they wait the outage out by themselves (docs/operations.md, "When
# PostgreSQL or Kafka restarts"). After a start it waits up to INFRA_WAIT_SECONDS (60; 0: not at all) for every
# service in .run/env to answer /readyz with 200, and says which did and which did not.
# usage: infra-restart.sh kafka|postgres [stop|start|restart]   (restart: stop, then start at once)
# LRS_RUN_DIR: the `make up` directory (default: the repository's .run); PGBIN: PostgreSQL's bin directory.
set -euo pipefail
umask 077  # what the broker and the cluster write stays this user's alone, as `make up` makes it
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
run=${LRS_RUN_DIR:-$root/.run}
what=${1:-}
step=${2:-restart}
usage() {
  echo "usage: make infra-restart|infra-stop|infra-start WHAT=kafka|postgres" \
    "(infra-restart.sh kafka|postgres [stop|start|restart]): ${1}" >&2
  exit 2
}
[ $# -le 2 ] || usage "too many arguments: '$*'"
case $what in kafka | postgres) ;; *) usage "WHAT is kafka or postgres, not '$what'" ;; esac
case $step in stop | start | restart) ;; *) usage "the step is stop, start or restart, not '$step'" ;; esac
if [ ! -f "$run/env" ]; then
  echo "nothing is up: 'make up' first" >&2
  exit 1
fi
now() { date -u +%H:%M:%SZ; }

# --- Kafka: the broker kafka-start.sh started in .run/kafka, started again from its server.properties unformatted
kafka_work="$run/kafka"
kafka_pid() {  # the pid of the broker of .run/kafka, if it runs
  local pid args
  pid=$(cat "$kafka_work/kafka.pid" 2>/dev/null) || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ "$args" == *"kafka.Kafka $kafka_work/server.properties"* ]] || return 1
  echo "$pid"
}
kafka_address() { sed -n 's#^listeners=PLAINTEXT://\([^,]*\),.*#\1#p' "$kafka_work/server.properties"; }
kafka_stop() {
  local pid
  if ! pid=$(kafka_pid); then
    echo "Kafka is not running (no live broker in $kafka_work/kafka.pid)"
    return 0
  fi
  echo "$(now) stopping Kafka (pid $pid, $(kafka_address)): controlled shutdown, at most 20 s..."
  KEEP_WORK=1 bash "$here/kafka-stop.sh" "$kafka_work"
  echo "$(now) Kafka stopped; its data, settings and port are kept in $kafka_work"
}
kafka_start() {
  local pid from
  if pid=$(kafka_pid); then
    echo "Kafka is running already (pid $pid, $(kafka_address))"
    return 0
  fi
  [ -f "$kafka_work/server.properties" ] && [ -d "$kafka_work/data" ] || {
    echo "no broker to start again in $kafka_work (no server.properties or data): 'make down', then 'make up'" >&2
    exit 1
  }
  # as kafka-start.sh starts it, without formatting its storage
  local lib=${KAFKA_LIB:-$root/.cache/kafka/lib}
  local jvm_opts=${KAFKA_JVM_OPTS:-"-Xms256m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"}
  local log_opts="-Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true"
  from=$(($(stat -c %s "$kafka_work/kafka.log" 2>/dev/null || echo 0) + 1))  # the log is appended to
  echo "$(now) starting Kafka again from $kafka_work/server.properties ($(kafka_address))..."
  # shellcheck disable=SC2086  # the options are words
  nohup java $jvm_opts $log_opts -cp "$lib/*" kafka.Kafka "$kafka_work/server.properties" \
    >> "$kafka_work/kafka.log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$kafka_work/kafka.pid"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  until tail -c +"$from" "$kafka_work/kafka.log" | grep -qs "Kafka Server started"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "Kafka (pid $pid) exited as it started (is its port taken?):" >&2
      tail -c +"$from" "$kafka_work/kafka.log" | tail -30 >&2
      exit 1
    fi
    if ((SECONDS > deadline)); then
      echo "Kafka (pid $pid) did not start within ${KAFKA_START_TIMEOUT:-120} s: see $kafka_work/kafka.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$(now) Kafka started (pid $pid, $(kafka_address)) with its data"
}

# --- PostgreSQL: the cluster pg-start.sh made in .run/pg, started again with the options it last ran with
pg_data="$run/pg/data"
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
pg_bin() {
  local bin=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
  [ -x "$bin/pg_ctl" ] || { echo "no PostgreSQL binaries (pg_ctl) in '$bin'" >&2; exit 1; }
  echo "$bin"
}
pg_port() { cat "$run/pg/pg.port" 2>/dev/null || echo "?"; }
pg_running() { "${as_pg[@]}" "$(pg_bin)/pg_ctl" -D "$pg_data" status > /dev/null 2>&1; }
pg_stop() {
  [ -d "$pg_data" ] || { echo "no PostgreSQL cluster in $pg_data: 'make down', then 'make up'" >&2; exit 1; }
  if ! pg_running; then
    echo "PostgreSQL is not running (cluster $pg_data)"
    return 0
  fi
  echo "$(now) stopping PostgreSQL (127.0.0.1:$(pg_port)): fast shutdown, open sessions cut..."
  "${as_pg[@]}" "$(pg_bin)/pg_ctl" -D "$pg_data" -m fast -w -t 60 stop > /dev/null
  echo "$(now) PostgreSQL stopped; its data, settings and port are kept in $run/pg"
}
pg_start() {
  [ -d "$pg_data" ] || { echo "no PostgreSQL cluster in $pg_data: 'make down', then 'make up'" >&2; exit 1; }
  if pg_running; then
    echo "PostgreSQL is running already (127.0.0.1:$(pg_port))"
    return 0
  fi
  # postmaster.opts: the server's command line as it last started (pg-start.sh's options), its binary and
  # data directory left out: pg_ctl gives those
  local options
  options=$(python3 -c '
import shlex, sys
words = shlex.split(open(sys.argv[1]).read())[1:]
kept, skip = [], False
for word in words:
    if skip:
        skip = False
    elif word == "-D":
        skip = True
    else:
        kept.append(word)
print(shlex.join(kept))' "$pg_data/postmaster.opts")
  echo "$(now) starting PostgreSQL again (127.0.0.1:$(pg_port))..."
  "${as_pg[@]}" "$(pg_bin)/pg_ctl" -D "$pg_data" -l "$run/pg/server.log" -w -t 60 -o "$options" start > /dev/null
  echo "$(now) PostgreSQL started (127.0.0.1:$(pg_port)) with its data"
}

# --- after a start: the services' readiness, as an operator would check it
wait_for_services() {
  local within=${INFRA_WAIT_SECONDS:-60} urls url answer waiting
  [ "$within" -gt 0 ] || return 0
  # shellcheck disable=SC1091
  urls=$(set +u; source "$run/env" > /dev/null 2>&1; env | sed -n 's/^LRS_[A-Z_]*_URL=\(http.*\)/\1/p' | sort -u)
  [ -n "$urls" ] || return 0
  echo "waiting up to $within s for every service's /readyz to answer 200..."
  local deadline=$((SECONDS + within)) started=$SECONDS
  while :; do
    waiting=()
    for url in $urls; do
      curl -sf -o /dev/null --max-time 3 "$url/readyz" || waiting+=("$url")
    done
    if [ ${#waiting[@]} -eq 0 ]; then
      echo "$(now) every service is ready again ($((SECONDS - started)) s after the start)"
      return 0
    fi
    ((SECONDS < deadline)) || break
    sleep 1
  done
  echo "$(now) not ready after $within s (docs/operations.md, \"When PostgreSQL or Kafka restarts\"):" >&2
  for url in "${waiting[@]}"; do
    answer=$(curl -s --max-time 3 "$url/readyz" || echo "no answer")
    echo "  $url/readyz: $answer" >&2
  done
  exit 1
}

if [ "$step" != start ]; then "${what/postgres/pg}_stop"; fi
if [ "$step" != stop ]; then
  "${what/postgres/pg}_start"
  wait_for_services
fi
