#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback, for the tests and the benchmarks.
#
#   scripts/pg-local.sh start [DIR]   initdb DIR (default: a new /tmp/por-pg.XXXXXX), start the
#                                     server on 127.0.0.1 and a free port, create database "por",
#                                     print its URL (postgresql://por@127.0.0.1:PORT/por) on stdout
#   scripts/pg-local.sh stop DIR      stop that server and delete DIR
#
# Uses initdb/pg_ctl from Debian's `postgresql` package (/usr/lib/postgresql/*/bin). PostgreSQL
# refuses to run as root: as root, the server runs as the `postgres` system user.
set -euo pipefail

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir="$d"; done
if [ -z "$bindir" ]; then
  echo "pg-local: no PostgreSQL found in /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
  exit 2
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd="${1:-}"
case "$cmd" in
  start)
    dir="${2:-}"
    if [ -z "$dir" ]; then dir="$(mktemp -d /tmp/por-pg.XXXXXX)"; else mkdir -p "$dir"; fi
    chmod 0700 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    as_pg "$bindir/initdb" -D "$dir/data" -U por --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { echo "pg-local: initdb failed, see $dir/initdb.log" >&2; cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on -c max_connections=50" \
      start >/dev/null \
      || { echo "pg-local: server did not start, see $dir/server.log" >&2; cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U por por
    echo "$port" >"$dir/port"
    echo "postgresql://por@127.0.0.1:$port/por"
    ;;
  stop)
    dir="${2:?usage: pg-local.sh stop DIR}"
    if [ -d "$dir/data" ]; then
      as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start [DIR] | stop DIR" >&2
    exit 2
    ;;
esac
