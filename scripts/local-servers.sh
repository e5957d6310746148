# Local PostgreSQL and Redis owned by this checkout. Sourced by ./dev.
#
# PostgreSQL refuses to run as root, so as root it runs as the `postgres`
# system user, with its data under /var/tmp (a checkout under /root is not
# reachable by that user). Each checkout gets its own folder, keyed by path.

PG_PORT="${OCOP_PG_PORT:-55432}"
REDIS_PORT="${OCOP_REDIS_PORT:-56379}"
REPO_DIR="$(pwd -P)"
LOCAL_DIR="$REPO_DIR/.local"
KEY="$(printf '%s' "$REPO_DIR" | sha1sum | cut -c1-10)"
if [ "$(id -u)" = 0 ]; then
  PG_DIR="/var/tmp/ocop-$KEY-pg"
else
  PG_DIR="$LOCAL_DIR/pg"
fi
REDIS_DIR="$LOCAL_DIR/redis"
OCOP_DB_URL="postgres://ocop@127.0.0.1:$PG_PORT/ocop"
OCOP_ADMIN_DB_URL="postgres://ocop@127.0.0.1:$PG_PORT/postgres"
OCOP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
STARTED_PG=0
STARTED_REDIS=0

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

ensure_packages() {
  local missing=()
  [ -n "$(pg_bin || true)" ] || missing+=(postgresql)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} with apt"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  # Debian starts the system servers on install; ours run on other ports, so leave them be.
  local version
  version=$(basename "$(dirname "$(pg_bin)")")
  if [ "${version%%.*}" -lt 15 ]; then
    log "PostgreSQL $version found; 15 or later is needed"; exit 1
  fi
}

# The headless browser the verify page is tested in (`./dev test` only).
ensure_browser() {
  if ! command -v chromium >/dev/null; then
    log "installing chromium with apt (the verify page is tested in a headless browser)"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
  fi
}

# Runs a PostgreSQL binary as the user that owns the data folder.
pg_run() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

start_pg() {
  if pg_running; then return; fi
  local bin; bin=$(pg_bin)
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $PG_DIR"
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
    pg_run "$bin/initdb" -D "$PG_DIR/data" -U ocop --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
      || { cat "$PG_DIR/initdb.log"; exit 1; }
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  pg_run "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR -c max_connections=400" >/dev/null \
    || { tail -n 30 "$PG_DIR/server.log"; exit 1; }
  STARTED_PG=1
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U ocop -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ocop'" | grep -q 1 \
    || psql -q -h 127.0.0.1 -p "$PG_PORT" -U ocop -d postgres -c "CREATE DATABASE ocop" >/dev/null
}

redis_running() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_redis() {
  if redis_running; then return; fi
  mkdir -p "$REDIS_DIR"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --daemonize yes \
    --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save "" --appendonly no
  for _ in $(seq 50); do redis_running && break; sleep 0.1; done
  redis_running || { tail -n 20 "$REDIS_DIR/redis.log"; exit 1; }
  STARTED_REDIS=1
}

ensure_servers() {
  ensure_packages
  start_pg
  start_redis
}

stop_pg() { pg_running && pg_run "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || true; }
stop_redis() { redis_running && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }

stop_servers_we_started() {
  [ "$STARTED_PG" = 1 ] && { log "stopping PostgreSQL"; stop_pg; }
  [ "$STARTED_REDIS" = 1 ] && { log "stopping Redis"; stop_redis; }
  return 0
}

stop_servers() { stop_pg; stop_redis; }

# Test databases of earlier runs (a failed test leaves its database behind).
drop_test_databases() {
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U ocop -d postgres -tAc \
    "SELECT 'DROP DATABASE IF EXISTS \"' || datname || '\" WITH (FORCE);' FROM pg_database WHERE datname LIKE 'ocop_test_%'" \
    | psql -q -h 127.0.0.1 -p "$PG_PORT" -U ocop -d postgres >/dev/null
}
