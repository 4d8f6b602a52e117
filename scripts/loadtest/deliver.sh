#!/usr/bin/env bash
# Delivery load run in scaled mode (PostgreSQL + Redis), on 127.0.0.1 only,
# bounded in time; it stops and cleans up by itself.
#
#   scripts/loadtest/deliver.sh                  # 50,000 events, 10 tenants x 2 pixels
#   EVENTS=100000 TENANTS=20 scripts/loadtest/deliver.sh
#   PROFILE=/tmp/deliver.prof scripts/loadtest/deliver.sh  # + a 5 s CPU profile of phase 2
#
# Phase 1 (queue): `pixelgw serve` with the delivery engine off; deliver/
# creates the tenants (two pixels each: Meta and GA4), one consented visitor
# per tenant, and queues EVENTS server-side events through the events API.
# Phase 2 (deliver): `pixelgw serve` again with the engine on, delivering to
# the in-process platform simulator (platforms.simulator); the clock runs
# until PostgreSQL holds a "delivered" outcome for every (event, pixel) and
# every event's audit row — the audit writes are part of what is measured.
# Deliveries/s = EVENTS x 2 / that time. CPU of pixelgw, PostgreSQL and Redis
# is read from /proc.
#
# Needs: go, psql, redis-cli, openssl, curl; PostgreSQL on 127.0.0.1:5432
# (trust, db test) and Redis on 127.0.0.1:6379 (`make deps`).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/loadtest/lib.sh

EVENTS=${EVENTS:-50000}
TENANTS=${TENANTS:-10}
TIMEOUT=${TIMEOUT:-300}          # seconds phase 2 may take at most
API_PORT=${API_PORT:-18181}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}

for t in go psql redis-cli curl openssl; do
  command -v "$t" >/dev/null || { echo "deliver: $t is required" >&2; exit 1; }
done
curl() { command curl -m 10 "$@"; }

suffix=$(openssl rand -hex 4)
schema=pgw_dload_$suffix
prefix=pgwdload$suffix
work=$(mktemp -d)
serve_pid=

cleanup() {
  set +e
  [ -z "$serve_pid" ] || { kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; }
  psql "$PG_DSN" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
  delete_redis_prefix "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== build"
go build -o "$work/pixelgw" ./cmd/pixelgw
go build -o "$work/deliver" ./scripts/loadtest/deliver

psql "$PG_DSN" -qc "CREATE SCHEMA $schema" >/dev/null
export PIXELGW_MODE=scaled
export PIXELGW_DATA_DIR=$work/data
export PIXELGW_DATABASE_POSTGRES_DSN="$PG_DSN&search_path=$schema"
export PIXELGW_REDIS_ADDR=127.0.0.1:6379
export PIXELGW_REDIS_PREFIX=$prefix
export PIXELGW_SECRETS_MASTER_KEY=$(openssl rand -base64 32)
export PIXELGW_API_JWT_KEYS_0_KID=load PIXELGW_API_JWT_KEYS_0_ALG=HS256
export PIXELGW_API_JWT_KEYS_0_SECRET=$(openssl rand -base64 32)
export PIXELGW_EDGE_LISTEN=127.0.0.1:0
export PIXELGW_API_LISTEN=127.0.0.1:$API_PORT
export PIXELGW_OPS_LISTEN=127.0.0.1:$((API_PORT + 1))
export PIXELGW_PLATFORMS_SIMULATOR=true
export PIXELGW_LOG_LEVEL=warn
[ -z "${PROFILE:-}" ] || export PIXELGW_OPS_PPROF=true
export PIXELGW_SHUTDOWN_READY_DELAY=0s
export PIXELGW_EDGE_MAX_LIVE_IDS_PER_TENANT=100000000
mkdir -p "$PIXELGW_DATA_DIR"
"$work/pixelgw" migrate >/dev/null

serve() { # deliver=true|false
  PIXELGW_PLATFORMS_DELIVER=$1 "$work/pixelgw" serve 2>>"$work/serve.log" &
  serve_pid=$!
  for i in $(seq 100); do
    curl -fsS "http://127.0.0.1:$((API_PORT + 1))/readyz" >/dev/null 2>&1 && return 0
    [ "$i" = 100 ] && { echo "deliver: pixelgw did not become ready" >&2; cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
  done
}
stop() { kill "$serve_pid"; wait "$serve_pid" || true; serve_pid=; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
pgcpu() { # CPU seconds of every postgres process (the server and its backends)
  local s=0 p
  for p in $(pgrep -x postgres || true); do s=$(awk -v s="$s" -v t="$(getconf CLK_TCK)" '{printf "%.2f", s + ($14 + $15) / t}' "/proc/$p/stat" 2>/dev/null || echo "$s"); done
  echo "$s"
}
sql() { psql "$PG_DSN" -qtAc "SET search_path=$schema; $1" | tail -1; }

echo "== phase 1: queue $EVENTS events for $TENANTS tenants x 2 pixels (engine off)"
serve false
"$work/deliver" -api "http://127.0.0.1:$API_PORT" -pixelgw "$work/pixelgw" -tenants "$TENANTS" -events "$EVENTS" -run "$suffix" | sed 's/^/   /'
stop
echo "   queued: $(redis-cli -h 127.0.0.1 -p 6379 xlen "$prefix:q") stream entries"

echo "== phase 2: deliver (engine on, in-process simulator, audit in PostgreSQL)"
want=$((EVENTS * 2))
redis_pid=$(redis-cli -h 127.0.0.1 -p 6379 info server | grep -o 'process_id:[0-9]*' | cut -d: -f2)
r0=$(cpu "$redis_pid"); p0=$(pgcpu); t0=$(date +%s.%N)
serve true
s0=0
[ -z "${PROFILE:-}" ] || command curl -sS -m 20 -o "$PROFILE" "http://127.0.0.1:$((API_PORT + 1))/debug/pprof/profile?seconds=5" &
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  got=$(sql "SELECT count(*) FROM delivery_outcome WHERE status = 'delivered'")
  rows=$(sql "SELECT count(*) FROM tracking_event")
  [ "$got" -ge "$want" ] && [ "$rows" -ge "$EVENTS" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || { echo "deliver: only $got of $want deliveries, $rows of $EVENTS audit rows after ${TIMEOUT}s" >&2; tail -5 "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
t1=$(date +%s.%N); s1=$(cpu "$serve_pid"); r1=$(cpu "$redis_pid"); p1=$(pgcpu)
other=$(sql "SELECT count(*) FROM delivery_outcome WHERE status <> 'delivered'")
responses=$(sql "SELECT count(*) FROM platform_response")
stop

echo
echo "== results (nproc $(nproc), $(go env GOVERSION), scaled mode: PostgreSQL $(psql "$PG_DSN" -qtAc 'SHOW server_version' | cut -d' ' -f1) + Redis $(redis-cli -h 127.0.0.1 -p 6379 info server | grep -o 'redis_version:[0-9.]*' | cut -d: -f2))"
awk -v a="$t0" -v b="$t1" -v n="$want" -v e="$EVENTS" 'BEGIN {
  printf "   %d deliveries (%d events x 2 pixels) in %.2f s (start-up included): %.0f deliveries/s (target >= 10000)\n", n, e, b - a, n / (b - a) }'
echo "   audit: $EVENTS event rows, $want delivered outcomes, $other other outcomes, $responses platform responses"
awk -v s0="$s0" -v s1="$s1" -v r0="$r0" -v r1="$r1" -v p0="$p0" -v p1="$p1" -v a="$t0" -v b="$t1" -v n="$want" 'BEGIN {
  w = b - a; printf "   cpu: pixelgw %.2f cores, postgres %.2f, redis %.2f; per 1,000 deliveries: pixelgw %.0f ms, postgres %.0f ms, redis %.0f ms\n",
  (s1 - s0) / w, (p1 - p0) / w, (r1 - r0) / w, (s1 - s0) * 1e6 / n, (p1 - p0) * 1e6 / n, (r1 - r0) * 1e6 / n }'
printf '   load average before the run: %s\n' "$load0"
if [ -s "$work/serve.log" ]; then
  echo "   serve log (warnings):"; head -5 "$work/serve.log" | sed 's/^/     /'
fi
