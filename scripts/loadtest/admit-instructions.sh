#!/usr/bin/env bash
# Instructions Redis executes per admitted entry (the admit script), counted
# by valgrind's callgrind on a private redis-server: unlike a timing, the
# count does not move with whatever else the machine is doing, so two
# versions of admit.lua compare on a busy 2-core box.
#
#   scripts/loadtest/admit-instructions.sh          # prints Ir per entry, batches of 100
#   SIZE=20 scripts/loadtest/admit-instructions.sh  # batches of 20 (the load test's); 1, 10, 20 or 100
#
# It runs BenchmarkAdmitBatch<SIZE> (batches of SIZE edge-like records, one
# tenant, each from its own visitor) for 10 and for 60 batches against
# redis-server on 127.0.0.1:6390 under callgrind and divides the difference
# by the 50 * SIZE entries between them (fixed costs: start-up, connection,
# script load cancel out). Needs valgrind and redis-server (Debian
# packages); nothing else listens on 6390.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE=${SIZE:-100}
case $SIZE in 1|10|20|100) ;; *) echo "admit-instructions: SIZE must be 1, 10, 20 or 100" >&2; exit 2 ;; esac
for t in valgrind redis-server redis-cli callgrind_annotate go; do
  command -v "$t" >/dev/null || { echo "admit-instructions: $t is required" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'redis-cli -p 6390 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
go test -c -o "$work/q.test" ./store/queue/queueredis/

count() { # batches -> total Ir of redis-server
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" \
    redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  local vp=$!
  for _ in $(seq 150); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.2; done
  REDIS_ADDR=127.0.0.1:6390 "$work/q.test" -test.run '^$' -test.bench "BenchmarkAdmitBatch$SIZE\$" \
    -test.benchtime "$1x" >/dev/null
  redis-cli -p 6390 shutdown nosave >/dev/null 2>&1 || true
  wait "$vp" || true
  callgrind_annotate "$work/cg.$1" 2>/dev/null | tr -d ',' | awk '/PROGRAM TOTALS/ && !n { print $1; n = 1 }'
}
a=$(count 10); b=$(count 60)
awk -v a="$a" -v b="$b" -v n="$SIZE" 'BEGIN { printf "redis-server: %.0f instructions per admitted entry (batches of %d)\n", (b - a) / (50 * n), n }'
