# The services `make up` runs and how they start and stop, from .run/env: sourced by up.sh and restart.sh
# (which expect `run` to be the .run directory and the repository to be the working directory).
declare -A prefix=([ingest]=INGEST [validation]=VALIDATION [plr-projector]=PROJECTOR [challenges]=CHALLENGES \
  [notifier]=NOTIFIER [reporting]=REPORTING [portal]=PORTAL)
live_services=(ingest validation plr-projector challenges notifier reporting portal)
sandpit_services=(ingest validation plr-projector notifier)

start_services() {
  for service in "${live_services[@]}"; do
    nohup ".venv/bin/lrs-$service" >> "$run/logs/$service.log" 2>&1 < /dev/null &
    echo $! > "$run/pids/$service.pid"
  done
  # The Sandpit: the same programs with the sandpit's environment, database, ports and links.
  for service in "${sandpit_services[@]}"; do
    local name=${service//-/_}
    local url_variable="LRS_SANDPIT_${name^^}_URL"
    local url=${!url_variable}
    env LRS_ENVIRONMENT=sandpit DATABASE_URL="$LRS_SANDPIT_DATABASE_URL" "${prefix[$service]}_PORT=${url##*:}" \
      VALIDATION_LIVE_DATABASE_URL="$DATABASE_URL" \
      NOTIFIER_PUBLIC_BASE_URL="$LRS_PORTAL_URL/sandpit" PROJECTOR_CREDENTIAL_ISSUER_URL="$LRS_SANDPIT_PLR_PROJECTOR_URL" \
      nohup ".venv/bin/lrs-$service" >> "$run/logs/sandpit-$service.log" 2>&1 < /dev/null &
    echo $! > "$run/pids/sandpit-$service.pid"
  done
}

stop_services() {
  local pidfiles=()
  for service in "${live_services[@]}"; do pidfiles+=("$run/pids/$service.pid"); done
  for service in "${sandpit_services[@]}"; do pidfiles+=("$run/pids/sandpit-$service.pid"); done
  for pidfile in "${pidfiles[@]}"; do
    [ -f "$pidfile" ] && kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "${pidfiles[@]}"; do
    [ -f "$pidfile" ] || continue
    local pid
    pid=$(cat "$pidfile")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  return 0
}
