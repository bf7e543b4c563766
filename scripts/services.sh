#!/usr/bin/env bash
# Start/stop the PostgreSQL and Redis that OpenDCP needs, unless DATABASE_URL / REDIS_URL point
# at services the environment already provides. Private services live under .local/ on
# non-default ports (PostgreSQL 54329, Redis 63799) so they never clash with system ones.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOCAL="$ROOT/.local"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${DCP_PG_PORT:-54329}
REDISPORT=${DCP_REDIS_PORT:-63799}

# The cluster's files must be reachable by the server's own user (postgres). In a clone whose
# folder it cannot traverse (root's home is mode 0700, so is a `mktemp -d` folder) they go to
# /var/lib/opendcp/pg-<hash of this folder> instead, and .local/pg-home says where.
pg_home() {
  if [ -f "$LOCAL/pg/data/PG_VERSION" ]; then echo "$LOCAL/pg"; return; fi
  if [ -f "$LOCAL/pg-home" ]; then cat "$LOCAL/pg-home"; return; fi
  mkdir -p "$LOCAL"
  if runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then echo "$LOCAL/pg"; return; fi
  echo "/var/lib/opendcp/pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
}
PGHOME=""
PGDATA=""
PGRUN=""
pg_paths() {
  PGHOME=$(pg_home)
  PGDATA="$PGHOME/data"
  PGRUN="$PGHOME/run"
}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

apt_install() {
  say "installing Debian packages: $*"
  if [ ! -f /var/lib/apt/lists/.opendcp-updated ] ; then
    apt-get update -qq && touch /var/lib/apt/lists/.opendcp-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

system_deps() {
  local missing=()
  [ -n "${DATABASE_URL:-}" ] || [ -x "$PGBIN/initdb" ] || missing+=(postgresql-15)
  [ -n "${REDIS_URL:-}" ] || command -v redis-server >/dev/null || missing+=(redis-server)
  if [ "${1:-}" = "--browser" ]; then  # the test suite: browser tests and the faketime run
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v faketime >/dev/null || missing+=(faketime)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them with apt-get (needs root)"
    apt_install "${missing[@]}"
  fi
}

start_pg() {
  if [ -n "${DATABASE_URL:-}" ]; then
    say "PostgreSQL: using DATABASE_URL"
    return
  fi
  [ "$(id -u)" = 0 ] || die "starting the private PostgreSQL needs root (it runs as the postgres \
user): run as root, or set DATABASE_URL to a server you have"
  pg_paths
  mkdir -p "$PGHOME" "$PGRUN" "$LOCAL/log"
  if [ "$PGHOME" != "$LOCAL/pg" ]; then
    say "PostgreSQL: the postgres user cannot reach $LOCAL; keeping the cluster in $PGHOME"
    chmod 755 "$(dirname "$PGHOME")"
    echo "$PGHOME" > "$LOCAL/pg-home"
  fi
  chown -R postgres:postgres "$PGHOME"
  runuser -u postgres -- test -w "$PGHOME" 2>/dev/null \
    || die "the postgres user cannot write $PGHOME (a parent folder it cannot traverse?): \
clone into a folder it can reach, or set DATABASE_URL to a server you have"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "PostgreSQL: initialising a private cluster in $PGHOME"
    (cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 \
      --locale=C.UTF-8 >/dev/null) || die "initdb failed in $PGHOME"
    cat >> "$PGDATA/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGRUN'
fsync = on
shared_buffers = 256MB
max_connections = 200
CONF
  fi
  if ! (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1); then
    say "PostgreSQL: starting on 127.0.0.1:$PGPORT"
    (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGHOME/server.log" -w -t 60 \
      start >/dev/null) || die "PostgreSQL did not start: see $PGHOME/server.log"
  fi
  psql_local() { psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
  if [ "$(psql_local -c "select 1 from pg_roles where rolname='opendcp'")" != 1 ]; then
    psql_local -c "create role opendcp login superuser"
  fi
  if [ "$(psql_local -c "select 1 from pg_database where datname='opendcp'")" != 1 ]; then
    psql_local -c "create database opendcp owner opendcp"
  fi
}

start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    say "Redis: using REDIS_URL"
    return
  fi
  mkdir -p "$LOCAL/redis"
  if ! redis-cli -p "$REDISPORT" ping >/dev/null 2>&1; then
    say "Redis: starting on 127.0.0.1:$REDISPORT"
    redis-server --port "$REDISPORT" --bind 127.0.0.1 --daemonize yes --dir "$LOCAL/redis" \
      --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log" \
      --appendonly yes --save "" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDISPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

check() {
  # Tell the user exactly which dependency is unreachable and how to fix it.
  "$ROOT/.venv/bin/python" - <<'PY'
import os, sys
import psycopg, redis
pg_port = os.environ.get("DCP_PG_PORT") or "54329"
redis_port = os.environ.get("DCP_REDIS_PORT") or "63799"
db = os.environ.get("DATABASE_URL") or f"postgresql://opendcp@127.0.0.1:{pg_port}/opendcp"
rd = os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{redis_port}/0"
ok = True
try:
    psycopg.connect(db.replace("postgres://", "postgresql://", 1), connect_timeout=5).close()
except Exception as exc:
    ok = False
    print(f"ERROR: PostgreSQL at {db} is not reachable: {exc}".strip(), file=sys.stderr)
    print("  fix: unset DATABASE_URL to use the private cluster (make services), or start "
          "the server it names.", file=sys.stderr)
try:
    redis.Redis.from_url(rd, socket_connect_timeout=5).ping()
except Exception as exc:
    ok = False
    print(f"ERROR: Redis at {rd} is not reachable: {exc}", file=sys.stderr)
    print("  fix: unset REDIS_URL to use the private Redis (make services), or start the "
          "server it names.", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

stop() {
  pg_paths
  if [ -f "$PGDATA/PG_VERSION" ]; then
    (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1) \
      && say "PostgreSQL stopped" || true
  fi
  if [ -f "$LOCAL/redis/redis.pid" ]; then
    redis-cli -p "$REDISPORT" shutdown nosave >/dev/null 2>&1 && say "Redis stopped" || true
  fi
}

case "${1:-start}" in
  deps) shift; system_deps "$@" ;;
  start) start_pg; start_redis; check ;;
  check) check ;;
  stop) stop ;;
  clean)  # after stop: the cluster's files when they live outside .local
    pg_paths
    if [ "$PGHOME" != "$LOCAL/pg" ] && [ -n "$PGHOME" ]; then rm -rf "$PGHOME"; fi ;;
  *) die "usage: $0 deps [--browser] | start | check | stop | clean" ;;
esac
