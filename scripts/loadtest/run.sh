#!/usr/bin/env bash
# Load test of the edge in scaled mode (PostgreSQL + real Redis), on
# 127.0.0.1 only, bounded in time; it stops and cleans up by itself.
#
#   scripts/loadtest/run.sh            # defaults below
#   DURATION=20 RATE=15000 scripts/loadtest/run.sh
#   ROUNDS=5 scripts/loadtest/run.sh   # more alternated bare/edge rounds for the median ratio
#   WARMUP=0 scripts/loadtest/run.sh   # no warm-up run before the measured rounds
#   BIN=/path/to/pixelgw scripts/loadtest/run.sh   # test another build
#   PROFILE=/tmp/cpu.prof scripts/loadtest/run.sh  # also a CPU profile of pixelgw during the first edge run
#
# It builds pixelgw (or takes BIN) and two helpers (bare/, openloop/), creates a PostgreSQL schema of its
# own and a random Redis key prefix, migrates, seeds the demo tenant, starts
# `pixelgw serve` in scaled mode, obtains a consent cookie from the tenant's
# consent endpoint (paths read from the demo page and the loader), then:
#   1. throughput: wrk (closed loop, beacon.lua: unique event ids) against a
#      bare fasthttp 204 server and against the edge, alternated ROUNDS
#      times after an unmeasured WARMUP run on each, and the median ratio;
#   2. latency: openloop/ at a fixed RATE beacons/s: p50, p99, non-2xx;
#   3. checks that every 2xx beacon was really enqueued (the stream's
#      entries-added counter), and reports CPU per beacon and Redis's
#      accounting of the admit script.
# Cleanup (on any exit): stops what it started, drops the schema, deletes
# the prefix's Redis keys (SCAN + DEL).
#
# `pixelgw serve` runs the delivery engine too (to the in-process platform
# simulator, SIMULATOR=true by default): the numbers are the whole gateway's
# on these cores, not the edge's alone.
#
# Needs: go, psql, redis-cli, wrk (installed with apt-get when missing and
# root), openssl, curl. PostgreSQL on 127.0.0.1:5432 (trust, db test) and
# Redis on 127.0.0.1:6379: `make deps` starts them.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/loadtest/lib.sh

DURATION=${DURATION:-10}          # seconds per wrk run and for the open-loop run
ROUNDS=${ROUNDS:-3}               # alternated bare/edge wrk runs
WARMUP=${WARMUP:-3}               # seconds of unmeasured wrk load on each server first (0: none)
RATE=${RATE:-15000}               # open-loop beacons/s
THREADS=${THREADS:-2}             # wrk threads
CONNS=${CONNS:-64}                # wrk connections
EDGE_PORT=${EDGE_PORT:-18080}
BARE_PORT=${BARE_PORT:-18090}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS_ADDR=127.0.0.1:6379

for t in go psql redis-cli curl openssl; do
  command -v "$t" >/dev/null || { echo "loadtest: $t is required" >&2; exit 1; }
done
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "loadtest: wrk is missing: sudo apt-get install -y wrk" >&2; exit 1
  fi
fi

curl() { command curl -m 10 "$@"; } # nothing here may hang

suffix=$(openssl rand -hex 4)
schema=pgw_load_$suffix
prefix=pgwload$suffix
work=$(mktemp -d)
pids=()

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  psql "$PG_DSN" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
  delete_redis_prefix "$prefix"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# The price of a syscall here, taken before any load: a 1-byte read + write
# pair through dd. It tells the dev VMs apart (README, Edge performance:
# 2.5-2.9 us on the paravirtualized one, where the edge and the bare server
# both manage 2-2.5x less than on the fast one).
syscall_us=$(LC_ALL=C dd if=/dev/zero of=/dev/null bs=1 count=200000 2>&1 |
  awk '/copied/ { for (i = 2; i <= NF; i++) if ($i == "s,") printf "%.2f", $(i - 1) * 1e6 / 200000 }')
echo "== build"
if [ -n "${BIN:-}" ]; then   # a prebuilt binary (another commit)
  cp "$BIN" "$work/pixelgw"
else
  go build -o "$work/pixelgw" ./cmd/pixelgw
fi
go build -o "$work/bare" ./scripts/loadtest/bare
go build -o "$work/openloop" ./scripts/loadtest/openloop

psql "$PG_DSN" -qc "CREATE SCHEMA $schema" >/dev/null
export PIXELGW_MODE=scaled
export PIXELGW_DATA_DIR=$work/data
export PIXELGW_DATABASE_POSTGRES_DSN="$PG_DSN&search_path=$schema"
export PIXELGW_REDIS_ADDR=$REDIS_ADDR
export PIXELGW_REDIS_PREFIX=$prefix
export PIXELGW_SECRETS_MASTER_KEY=$(openssl rand -base64 32)
export PIXELGW_API_JWT_KEYS_0_KID=load PIXELGW_API_JWT_KEYS_0_ALG=HS256
export PIXELGW_API_JWT_KEYS_0_SECRET=$(openssl rand -base64 32)
export PIXELGW_EDGE_LISTEN=127.0.0.1:$EDGE_PORT
export PIXELGW_API_LISTEN=127.0.0.1:0
export PIXELGW_OPS_LISTEN=127.0.0.1:$((EDGE_PORT + 1))
export PIXELGW_EDGE_DEMO=true
# serve also runs the delivery engine (and its audit writer) on the same
# cores; the in-process platform simulator gives it somewhere to deliver.
# SIMULATOR=none leaves the key unset (a build without the delivery engine).
[ "${SIMULATOR:-true}" = none ] || export PIXELGW_PLATFORMS_SIMULATOR=${SIMULATOR:-true}
# DELIVER=false measures an edge-only instance (the fleet's edge tier).
export PIXELGW_PLATFORMS_DELIVER=${DELIVER:-true}
export PIXELGW_LOG_LEVEL=warn
[ -z "${PROFILE:-}" ] || export PIXELGW_OPS_PPROF=true
export PIXELGW_SHUTDOWN_READY_DELAY=0s
# One client IP sends everything: the per-IP and per-tenant buckets must not
# be what is measured. The live-key cap covers the run's unique ids.
export PIXELGW_EDGE_RATE_LIMIT_PER_IP=1000000 PIXELGW_EDGE_RATE_LIMIT_BURST_IP=1000000
export PIXELGW_EDGE_RATE_LIMIT_PER_TENANT=10000000 PIXELGW_EDGE_RATE_LIMIT_BURST_TENANT=10000000
export PIXELGW_EDGE_MAX_LIVE_IDS_PER_TENANT=100000000
mkdir -p "$PIXELGW_DATA_DIR"

echo "== migrate, seed (schema $schema, redis prefix $prefix)"
"$work/pixelgw" migrate >/dev/null
"$work/pixelgw" seed-demo >/dev/null

"$work/pixelgw" serve 2>"$work/serve.log" &
pids+=($!)
edge=http://127.0.0.1:$EDGE_PORT
for i in $(seq 100); do
  curl -fsS "$edge/readyz" >/dev/null 2>&1 && break
  [ "$i" = 100 ] && { echo "loadtest: the edge did not become ready" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
"$work/bare" -listen "127.0.0.1:$BARE_PORT" &
pids+=($!)
bare_pid=$!

# The tenant's paths, as a browser finds them: the demo page names the
# loader; the loader's config names the collect and consent paths.
host=t.demo.localhost
origin=http://www.demo.localhost:8080
loader_url=$(curl -fsS -H "Host: www.demo.localhost:8080" "$edge/" | grep -o 'src="[^"]*"' | head -1 | sed 's/^src="//; s/"$//')
loader_path=/${loader_url#*://*/}
loader=$(curl -fsS -H "Host: $host" "$edge$loader_path")
# The config is the loader's last argument: {lp:[…],c:"<collect>",k:"<consent>",p:"<policy>",…}
conf=${loader##*(window,document,}
key() { grep -o "[{,]\"\?$1\"\?:\"[^\"]*\"" <<<"$conf" | head -1 | sed 's/.*:"//; s/"$//'; }
collect=$(key c); consent=$(key k); policy=$(key p)
[ -n "$collect" ] && [ -n "$consent" ] && [ -n "$policy" ] || { echo "loadtest: cannot read paths from the loader" >&2; exit 1; }
echo "   loader $loader_path collect $collect consent $consent policy $policy"

# A consent decision (analytics + marketing) as the loader posts it.
hdrs=$(curl -fsS -o /dev/null -D - -H "Host: $host" -H "Origin: $origin" -H 'Content-Type: text/plain;charset=UTF-8' \
  --data "{\"v\":1,\"analytics\":true,\"marketing\":true,\"functional\":false,\"policy\":\"$policy\"}" "$edge$consent")
cookie=$(grep -i '^set-cookie: jaraba_' <<<"$hdrs" | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r' | paste -sd';' | sed 's/;/; /g')
grep -q jaraba_consent= <<<"$cookie" && grep -q jaraba_visitor_id= <<<"$cookie" || { echo "loadtest: no consent cookie: $hdrs" >&2; exit 1; }

# Entries ever added to the stream (the delivery engine's groups ack and
# trim it, so XLEN would undercount).
xlen() { redis-cli -h 127.0.0.1 -p 6379 xinfo stream "$prefix:q" | awk 'p == "entries-added" { print; exit } { p = $0 }'; }
status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Host: $host" -H "Origin: $origin" -H 'Content-Type: text/plain' -H "Cookie: $cookie" \
  --data "{\"v\":1,\"events\":[{\"name\":\"page_view\",\"id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"ts\":$(date +%s%3N),\"url\":\"$origin/\"}]}" "$edge$collect")
[ "$status" = 204 ] && [ "$(xlen)" = 1 ] || { echo "loadtest: the first beacon was not enqueued (status $status, stream $(xlen))" >&2; exit 1; }

export PGW_HOST=$host PGW_PATH=$collect PGW_ORIGIN=$origin PGW_COOKIE=$cookie
runwrk() { wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s scripts/loadtest/beacon.lua "$1" | grep '^WRK'; }
field() { grep -o " $1=[0-9.]*" <<<"$2" | cut -d= -f2; }
# CPU seconds (user + system) a process has used so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
redis_pid=$(redis-cli -h 127.0.0.1 -p 6379 info server | grep -o 'process_id:[0-9]*' | cut -d: -f2)
serve_pid=${pids[0]}

# Throughput: ROUNDS alternated wrk runs (bare, edge, bare, edge, …) so that
# the machine's drift (±15% within minutes on the dev VM) hits both sides;
# the ratio is the median of each round's edge/bare.
echo "== throughput: wrk -t$THREADS -c$CONNS -d${DURATION}s, closed loop, $ROUNDS alternated rounds"
# A warm-up on each server first, not measured: the first seconds of a
# fresh process (heap growth, worker goroutines, Redis's new stream and
# dedup keyspace) are not what either server does in its steady state.
if [ "$WARMUP" -gt 0 ]; then
  DURATION=$WARMUP runwrk "http://127.0.0.1:$BARE_PORT" >/dev/null
  DURATION=$WARMUP runwrk "$edge" >/dev/null
  echo "   (after a ${WARMUP}s unmeasured warm-up run on each)"
fi
evalsha() { redis-cli -h 127.0.0.1 -p 6379 info commandstats | grep '^cmdstat_evalsha:' | tr -d '\r'; }
e0=$(evalsha)
bare_cpu=0 bare_secs=0 bare_n=0 edge_cpu=0 redis_cpu=0 edge_secs=0 edge_n=0 edge_bad=0 edge_sock=0 enq=0
bare_all=() edge_all=() ratios=() p50s=() p99s=()
prof_pid=
for r in $(seq "$ROUNDS"); do
  sleep 1
  b0=$(cpu "$bare_pid"); tb0=$(date +%s.%N)
  bare_out=$(runwrk "http://127.0.0.1:$BARE_PORT")
  b1=$(cpu "$bare_pid"); tb1=$(date +%s.%N)
  sleep 1
  before=$(xlen)
  c0s=$(cpu "$serve_pid"); c0r=$(cpu "$redis_pid"); t0=$(date +%s.%N)
  if [ -n "${PROFILE:-}" ] && [ "$r" = 1 ]; then
    command curl -sS -m $((DURATION + 10)) -o "$PROFILE" "http://127.0.0.1:$((EDGE_PORT + 1))/debug/pprof/profile?seconds=$((DURATION > 3 ? DURATION - 2 : 1))" &
    prof_pid=$!
  fi
  edge_out=$(runwrk "$edge")
  [ -z "$prof_pid" ] || { wait "$prof_pid"; prof_pid=; }
  c1s=$(cpu "$serve_pid"); c1r=$(cpu "$redis_pid"); t1=$(date +%s.%N)
  after=$(xlen)
  b=$(field rps "$bare_out"); e=$(field rps "$edge_out")
  ratio=$(awk -v a="$e" -v b="$b" 'BEGIN{printf "%.2f", a/b}')
  printf '   round %d: bare %s req/s, edge %s beacons/s, ratio %s (edge p50 %s ms, p99 %s ms, non-2xx %s)\n' \
    "$r" "$b" "$e" "$ratio" "$(field p50_ms "$edge_out")" "$(field p99_ms "$edge_out")" "$(field non2xx "$edge_out")"
  bare_all+=("$b"); edge_all+=("$e"); ratios+=("$ratio")
  p50s+=("$(field p50_ms "$edge_out")"); p99s+=("$(field p99_ms "$edge_out")")
  read -r bare_cpu bare_secs bare_n edge_cpu redis_cpu edge_secs edge_n <<<"$(awk -v bc="$bare_cpu" -v bs="$bare_secs" -v bn="$bare_n" \
    -v ec="$edge_cpu" -v rc="$redis_cpu" -v es="$edge_secs" -v en="$edge_n" -v b0="$b0" -v b1="$b1" -v tb0="$tb0" -v tb1="$tb1" \
    -v c0s="$c0s" -v c1s="$c1s" -v c0r="$c0r" -v c1r="$c1r" -v t0="$t0" -v t1="$t1" -v nb="$(field requests "$bare_out")" -v ne="$(field requests "$edge_out")" \
    'BEGIN { printf "%f %f %d %f %f %f %d", bc + b1 - b0, bs + tb1 - tb0, bn + nb, ec + c1s - c0s, rc + c1r - c0r, es + t1 - t0, en + ne }')"
  edge_bad=$((edge_bad + $(field non2xx "$edge_out"))); edge_sock=$((edge_sock + $(field sockerr "$edge_out")))
  enq=$((enq + after - before))
done
e1=$(evalsha)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
edge_rps=$(median "${edge_all[@]}"); bare_rps=$(median "${bare_all[@]}"); ratio=$(median "${ratios[@]}")
after=$(xlen)

echo "== latency: openloop at $RATE beacons/s for ${DURATION}s"
sleep 1
ol_out=$("$work/openloop" -addr "127.0.0.1:$EDGE_PORT" -host "$host" -path "$collect" -origin "$origin" -cookie "$cookie" \
  -rate "$RATE" -duration "${DURATION}s")
echo "   $ol_out"
after2=$(xlen)

echo
echo "== results (nproc $(nproc), $(go env GOVERSION), scaled mode: PostgreSQL + Redis $(redis-cli -h 127.0.0.1 -p 6379 info server | grep -o 'redis_version:[0-9.]*' | cut -d: -f2), generator on the same machine)"
printf '   throughput: edge %s beacons/s, bare 204 %s req/s, ratio %s (medians of %d rounds; ratios %s; targets: >= 25000, >= 0.4)\n' \
  "$edge_rps" "$bare_rps" "$ratio" "$ROUNDS" "$(IFS=' '; echo "${ratios[*]}")"
printf '   wrk edge:   p50 %s ms, p99 %s ms (medians), non-2xx %s, socket errors %s, enqueued %s of %s beacons\n' \
  "$(median "${p50s[@]}")" "$(median "${p99s[@]}")" "$edge_bad" "$edge_sock" "$enq" "$edge_n"
printf '   open loop:  %s/s target, %s/s achieved, p50 %s ms, p99 %s ms, max %s ms, non-2xx %s (target p99 <= 10 ms, 0 non-2xx)\n' \
  "$RATE" "$(field rps "$ol_out")" "$(field p50_ms "$ol_out")" "$(field p99_ms "$ol_out")" "$(field max_ms "$ol_out")" "$(field non2xx "$ol_out")"
awk -v s="$edge_cpu" -v r="$redis_cpu" -v w="$edge_secs" -v n="$edge_n" 'BEGIN{
  printf "   cpu (wrk runs): pixelgw %.2f cores, redis-server %.2f cores, of %d; per 1,000 beacons: pixelgw %.1f ms, redis %.1f ms\n",
  s / w, r / w, '"$(nproc)"', s * 1e6 / n, r * 1e6 / n }'
awk -v s="$bare_cpu" -v w="$bare_secs" -v n="$bare_n" 'BEGIN{
  printf "   cpu (bare runs): bare %.2f cores; per 1,000 requests %.1f ms\n", s / w, s * 1e6 / n }'
printf '   load average before the run: %s; a 1-byte read + write pair (dd): %s us\n' "$load0" "$syscall_us"
# Redis's own accounting of the admit scripts (the Redis is shared: other
# clients' EVALSHAs during the run are counted too).
stat() { grep -o "[:,]$1=[0-9.]*" <<<"$2" | cut -d= -f2; }
awk -v c0="$(stat calls "$e0")" -v c1="$(stat calls "$e1")" -v u0="$(stat usec "$e0")" -v u1="$(stat usec "$e1")" -v n="$enq" 'BEGIN{
  c = c1 - c0; if (c > 0) printf "   redis admit script (wrk runs): %d calls, %.0f entries per call, %.0f us per call, %.1f us per entry\n", c, n / c, (u1 - u0) / c, (u1 - u0) / n }'
printf '   stream:     %s entries enqueued by the open-loop run\n' "$((after2 - after))"
if [ -s "$work/serve.log" ]; then
  echo "   serve log (warnings):"; head -5 "$work/serve.log" | sed 's/^/     /'
fi
