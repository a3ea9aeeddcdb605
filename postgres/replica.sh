#!/bin/bash
# The db-replica container (compose-scale.yml): on first start, copy the primary with
# pg_basebackup -R (which writes standby.signal and primary_conninfo), then run PostgreSQL as a
# hot standby that streams the primary's WAL. Later starts just resume streaming.
set -euo pipefail
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until as_postgres pg_basebackup -h "$PRIMARY_HOST" -U "$POSTGRES_USER" -D "$PGDATA" -R -X stream -c fast; do
    echo "waiting for the primary to allow a base backup..." >&2
    sleep 2
  done
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses='*'
