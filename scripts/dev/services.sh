# shellcheck shell=bash disable=SC2154  # sourced: `run` (and .run/env's settings) are its caller's
# The services `make up` runs and how they start and stop, from .run/env: sourced by up.sh and restart.sh
# (which expect `run` to be the .run directory and the repository to be the working directory).
declare -A prefix=([ingest]=INGEST [validation]=VALIDATION [plr-projector]=PROJECTOR [challenges]=CHALLENGES \
  [notifier]=NOTIFIER [reporting]=REPORTING [portal]=PORTAL)
live_services=(ingest validation plr-projector challenges notifier reporting portal)
sandpit_services=(ingest validation plr-projector notifier)

# Every process start_services starts, by the name of its pid file and log (.run/pids/NAME.pid, .run/logs/NAME.log):
# the live services by their own names, the Sandpit's as sandpit-<service>.
service_names() {
  printf '%s\n' "${live_services[@]}"
  printf 'sandpit-%s\n' "${sandpit_services[@]}"
}

# Where one of service_names answers (LRS_<NAME>_URL in .run/env, e.g. LRS_SANDPIT_PLR_PROJECTOR_URL).
service_url() {
  local variable=${1//-/_}
  variable="LRS_${variable^^}_URL"
  echo "${!variable}"
}

# Starts one of service_names in the background, its pid in .run/pids/NAME.pid, its output appended to its log.
start_service() {
  local name=$1 service=${1#sandpit-}
  if [ "$name" = "$service" ]; then
    nohup ".venv/bin/lrs-$service" >> "$run/logs/$service.log" 2>&1 < /dev/null &
  else
    # The Sandpit: the same programs with the sandpit's environment, database, ports and links.
    local url own_key=()
    url=$(service_url "$name")
    # The Sandpit's projector seals its signing keys under a key of its own (up.sh makes it); a .run/env from before
    # there was one keeps the key they are sealed under.
    [ "$service" != plr-projector ] || [ -z "${LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY:-}" ] \
      || own_key=(PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY="$LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY")
    env LRS_ENVIRONMENT=sandpit DATABASE_URL="$LRS_SANDPIT_DATABASE_URL" "${prefix[$service]}_PORT=${url##*:}" \
      VALIDATION_LIVE_DATABASE_URL="$DATABASE_URL" \
      NOTIFIER_PUBLIC_BASE_URL="$LRS_PORTAL_URL/sandpit" PROJECTOR_CREDENTIAL_ISSUER_URL="$LRS_SANDPIT_PLR_PROJECTOR_URL" \
      "${own_key[@]}" nohup ".venv/bin/lrs-$service" >> "$run/logs/$name.log" 2>&1 < /dev/null &
  fi
  echo $! > "$run/pids/$name.pid"
}

start_services() {
  local name
  for name in $(service_names); do start_service "$name"; done
}

# The pid in .run/pids/NAME.pid if that process is still the service's program (not one that took its pid since).
running_pid() {
  local pidfile="$run/pids/$1.pid" service=${1#sandpit-} pid args
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ " $args " == *"/lrs-$service "* ]] || return 1
  echo "$pid"
}

# Stops the named services (of service_names): SIGTERM to each, then up to 20 s for each to exit before SIGKILL.
stop_named() {
  local name pid
  local -A pids=()
  for name in "$@"; do
    if pid=$(running_pid "$name"); then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for name in "$@"; do
    pid=${pids[$name]:-}
    if [ -n "$pid" ]; then
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then
        echo "$name (pid $pid) did not stop within 20 s of SIGTERM: killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
    fi
    rm -f "$run/pids/$name.pid"
  done
  return 0
}

stop_services() {
  # shellcheck disable=SC2046  # the names have no spaces
  stop_named $(service_names)
}

# Waits up to $2 seconds (180) for one of service_names to answer 200 on /readyz, as `make up` waits for each.
wait_ready() {
  local name=$1 within=${2:-180} url pid
  url=$(service_url "$name")
  pid=$(cat "$run/pids/$name.pid")
  local deadline=$((SECONDS + within))
  until curl -sf -o /dev/null --max-time 3 "$url/readyz"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name (pid $pid) exited before it was ready: see .run/logs/$name.log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$name (pid $pid) is not ready at $url within $within s: $url/readyz says" \
        "$(curl -s --max-time 3 "$url/readyz" || echo nothing); see .run/logs/$name.log" >&2
      return 1
    fi
    sleep 0.3
  done
}
