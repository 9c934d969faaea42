#!/usr/bin/env bash
# The servers the team-deployment tests run against: PostgreSQL, Redis, NATS, ClickHouse
# (and HAProxy, which the replica tests start themselves), on loopback, in one folder.
#
#   scripts/services.sh start DIR   installs what is missing (Debian packages, as root), starts
#                                   each server with its data in DIR, waits until it answers, and
#                                   writes DIR/env: `. DIR/env` exports the URLs the tests read
#                                   (TFO_TEST_POSTGRES_URL, _REDIS_URL, _NATS_URL, _CLICKHOUSE_URL).
#   scripts/services.sh stop DIR    stops them by the PIDs recorded in DIR, then removes DIR.
#
# A server that cannot be installed or started is left out of DIR/env with a warning, and
# the tests that need it say they were skipped and why. Ports: TFO_TEST_PG_PORT (55432),
# TFO_TEST_REDIS_PORT (56379), TFO_TEST_NATS_PORT (54222), TFO_TEST_CH_PORT (58123), or the
# next free one when something already listens there.
set -uo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ] || { [ "$cmd" != start ] && [ "$cmd" != stop ]; }; then
  echo "usage: scripts/services.sh start|stop DIR" >&2
  exit 2
fi

# The first port from `start` on which nothing answers, so that a server already running
# there (another checkout's) is never mistaken for ours; its monitor port, at +4000 for NATS
# and +877 for ClickHouse's native protocol, must be free too.
free_port() {
  local port=$1 offset=${2:-0}
  while (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null || { [ "$offset" -ne 0 ] && (: </dev/tcp/127.0.0.1/$((port + offset))) 2>/dev/null; }; do
    port=$((port + 1))
  done
  echo "$port"
}
pg_port=$(free_port "${TFO_TEST_PG_PORT:-55432}")
redis_port=$(free_port "${TFO_TEST_REDIS_PORT:-56379}")
nats_port=$(free_port "${TFO_TEST_NATS_PORT:-54222}" 4000)
ch_port=$(free_port "${TFO_TEST_CH_PORT:-58123}" 877)
postgres_bin() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1; }
pgbin=$(postgres_bin)

stop() {
  if [ -f "$dir/pg/postmaster.pid" ] && [ -n "$pgbin" ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
  fi
  for name in redis nats clickhouse; do
    if [ -s "$dir/$name.pid" ]; then kill "$(cat "$dir/$name.pid")" 2>/dev/null || true; fi
  done
  # Wait (bounded) for them to go, so the ports are free for the next run.
  for _ in $(seq 1 50); do
    alive=0
    for name in redis nats clickhouse; do
      [ -s "$dir/$name.pid" ] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null && alive=1
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  rm -rf "$dir"
}

# Run as root, a wrong DIR must not cost anything: start wants a new or empty folder (it
# changes its mode), stop only a folder start made (it removes it).
if [ "$cmd" = stop ]; then
  if [ ! -f "$dir/env" ]; then
    echo "services: $dir was not made by 'scripts/services.sh start' (no env file there); nothing stopped or removed" >&2
    exit 2
  fi
  stop
  exit 0
fi
if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  echo "services: $dir is not empty; give a new folder (e.g. /tmp/svc)" >&2
  exit 2
fi

mkdir -p "$dir" && chmod 755 "$dir" # the postgres user must be able to enter it
: >"$dir/env"
export DEBIAN_FRONTEND=noninteractive

# Install only what is missing; PostgreSQL is on the machine image, and installing the
# metapackage there would upgrade its common packages, so it is only installed when absent.
need=()
[ -n "$pgbin" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v nats-server >/dev/null || need+=(nats-server)
command -v clickhouse-server >/dev/null || need+=(clickhouse-server clickhouse-client)
command -v haproxy >/dev/null || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "services: installing ${need[*]}"
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$dir/apt.log" 2>&1 ||
      echo "services: warning: could not install ${need[*]} (see $dir/apt.log)" >&2
    pgbin=$(postgres_bin)
  else
    echo "services: warning: ${need[*]} missing and not root with apt-get; their tests will be skipped" >&2
  fi
fi

# Polls a readiness check for up to 15 s.
ready() {
  for _ in $(seq 1 150); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
# An HTTP GET on loopback answered 200, with bash alone (curl is not on every machine).
# shellcheck disable=SC2317 # called through ready "$@"
http_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    head -n 1 <&3 | grep -q ' 200 '
  ) 2>/dev/null
}
started=()
missing=()

if [ -n "$pgbin" ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$dir/pg" && chown postgres:postgres "$dir/pg"
  if runuser -u postgres -- "$pgbin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 &&
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w \
      -o "-h 127.0.0.1 -p $pg_port -k $dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null 2>&1 &&
    ready "$pgbin/pg_isready" -h 127.0.0.1 -p "$pg_port" -q; then
    echo "export TFO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres" >>"$dir/env"
    started+=("postgres:$pg_port")
  else missing+=(postgres); fi
else missing+=(postgres); fi

if command -v redis-server >/dev/null; then
  mkdir -p "$dir/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null 2>&1
  if ready redis-cli -h 127.0.0.1 -p "$redis_port" ping; then
    echo "export TFO_TEST_REDIS_URL=redis://127.0.0.1:$redis_port" >>"$dir/env"
    started+=("redis:$redis_port")
  else missing+=(redis); fi
else missing+=(redis); fi

if command -v nats-server >/dev/null; then
  nats-server -a 127.0.0.1 -p "$nats_port" -m $((nats_port + 4000)) -P "$dir/nats.pid" -l "$dir/nats.log" </dev/null >/dev/null 2>&1 &
  if ready http_ok $((nats_port + 4000)) /healthz; then
    echo "export TFO_TEST_NATS_URL=nats://127.0.0.1:$nats_port" >>"$dir/env"
    started+=("nats:$nats_port")
  else missing+=(nats); fi
else missing+=(nats); fi

if command -v clickhouse-server >/dev/null; then
  mkdir -p "$dir/ch/data" "$dir/ch/tmp" "$dir/ch/user_files" "$dir/ch/format_schemas"
  # Debian's ClickHouse is 18.16: the <yandex> root and its users.xml.
  cat >"$dir/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/ch/server.log</log><errorlog>$dir/ch/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>$ch_port</http_port><tcp_port>$((ch_port + 877))</tcp_port><listen_host>127.0.0.1</listen_host>
  <max_connections>64</max_connections><max_concurrent_queries>16</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size><mark_cache_size>67108864</mark_cache_size>
  <path>$dir/ch/data/</path><tmp_path>$dir/ch/tmp/</tmp_path>
  <user_files_path>$dir/ch/user_files/</user_files_path><format_schema_path>$dir/ch/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
</yandex>
EOF
  clickhouse-server --config-file="$dir/ch/config.xml" --pid-file="$dir/clickhouse.pid" --daemon >/dev/null 2>&1
  if ready http_ok "$ch_port" /ping; then
    echo "export TFO_TEST_CLICKHOUSE_URL=http://127.0.0.1:$ch_port" >>"$dir/env"
    started+=("clickhouse:$ch_port")
  else missing+=(clickhouse); fi
else missing+=(clickhouse); fi

echo "services: started ${started[*]:-none}${missing[*]:+; not available: ${missing[*]}} (in $dir)"
exit 0
