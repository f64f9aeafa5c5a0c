#!/usr/bin/env bash
# Stops the cluster started by pg-start.sh and removes its work dir.
set -uo pipefail
PG_WORK=${1:-${PG_WORK:?usage: pg-stop.sh PG_WORK}}
[ -d "$PG_WORK/data" ] || exit 0
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PG_WORK/data" -m fast -w stop >/dev/null 2>&1
[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$PG_WORK"
exit 0
