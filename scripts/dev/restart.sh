#!/usr/bin/env bash
# `make restart`: stops the services `make up` started and starts them again with .run/env as it is now
# (after a key is rotated there, say); Kafka, PostgreSQL, the SMTP sink and the data stay as they are.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
run="$root/.run"
if [ ! -f "$run/env" ]; then
  echo "nothing is up: 'make up' first" >&2
  exit 1
fi
# shellcheck source=scripts/dev/services.sh
source scripts/dev/services.sh
stop_services
# shellcheck disable=SC1091
source "$run/env"
start_services
echo "waiting for the services to be ready..."
.venv/bin/python scripts/dev/demo.py wait
echo "restarted with .run/env as it is now (logs appended to .run/logs/)"
