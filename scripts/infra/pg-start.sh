#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster from the Debian binaries on a free loopback port.
# Prints the DATABASE_URL. Leaves the cluster in $PG_WORK (pg.port, server.log).
# log_error_verbosity=terse: an error's DETAIL (a refused key's values, a full ULN) stays out of server.log.
# umask 077 and unix_socket_permissions=0700: the work dir, its files and the socket (trust) are the owner's alone.
set -euo pipefail
umask 077
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "installing PostgreSQL server from Debian packages" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
PG_WORK=${PG_WORK:-$(mktemp -d -t lrs-pg.XXXXXX)}
mkdir -p "$PG_WORK"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_WORK"; as_pg=(runuser -u postgres --); fi
PGPORT=${PGPORT:-$(python3 "$here/free_ports.py" 1)}
"${as_pg[@]}" "$PGBIN/initdb" -D "$PG_WORK/data" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$PG_WORK/initdb.log"
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PG_WORK/data" -l "$PG_WORK/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PG_WORK -c unix_socket_permissions=0700 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB -c log_error_verbosity=terse" \
  start >/dev/null
echo "$PGPORT" > "$PG_WORK/pg.port"
"$PGBIN/psql" -q "postgresql://postgres@127.0.0.1:$PGPORT/postgres" -v ON_ERROR_STOP=1 -c "CREATE DATABASE lrs" >/dev/null
echo "postgresql://postgres@127.0.0.1:$PGPORT/lrs"
