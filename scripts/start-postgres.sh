#!/usr/bin/env bash
# Start a local PostgreSQL cluster for the store's contract tests (no systemd here). Idempotent.
# Prints nothing secret; the tests connect with TRAINCHAIN_TEST_PG_URL (see tests/services.py).
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
bin=/usr/lib/postgresql/$ver/bin
data=${PGDATA_DIR:-/var/lib/postgresql/trainchain-test}
port=${PGPORT:-55432}
if su postgres -c "$bin/pg_ctl -D $data status" >/dev/null 2>&1; then
    echo "postgres already running on $port"; exit 0
fi
if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"; chown postgres:postgres "$data"
    su postgres -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null
fi
mkdir -p /var/run/postgresql; chown postgres:postgres /var/run/postgresql
su postgres -c "$bin/pg_ctl -D $data -o '-p $port -k /var/run/postgresql -c listen_addresses=127.0.0.1' -l $data/server.log -w start" >/dev/null
echo "postgres $ver running on 127.0.0.1:$port"
