#!/usr/bin/env bash
# Stats benchmarks (README "Measured", "Stats"). Needs PostgreSQL as for the
# tests (PIXELGW_TEST_POSTGRES_DSN, default the local `test` database).
#
#   scripts/bench-stats.sh query    BenchmarkTenantStats on a PostgreSQL seeded with
#                                   PIXELGW_BENCH_STATS_ROWS audit events (default here
#                                   10,000,000; seeding takes many minutes) and as many
#                                   outcomes, plus the rollups they produce
#   scripts/bench-stats.sh append   BenchmarkAppendBatches (AppendEvents/AppendOutcomes,
#                                   batches of 1,000) on both drivers, on this tree and on
#                                   BASE (default: the commit before the rollups), taking
#                                   turns COUNT times (default 3)
#   scripts/bench-stats.sh          both
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
go=${GO:-go}

query() {
  echo "== BenchmarkTenantStats, ${PIXELGW_BENCH_STATS_ROWS:=10000000} rows ($(nproc) cores, $(uname -m))"
  PIXELGW_BENCH_STATS_ROWS=$PIXELGW_BENCH_STATS_ROWS $go test -run '^$' -bench '^BenchmarkTenantStats$' \
    -benchtime "${BENCHTIME:-1000x}" -timeout 3h -v ./store/storepg/ 2>&1 | grep -E 'seeded|Benchmark|ok|FAIL|Error'
}

append_cost() {
  local base tmp
  base=${BASE:-$(git rev-parse "$(git log --diff-filter=A --format=%H -- store/storepg/migration/002_stats.up.sql | tail -1)^")}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  git archive "$base" | tar -x -C "$tmp"
  # The benchmark uses only AppendEvents/AppendOutcomes: it runs unchanged
  # on the tree without rollups.
  for f in store/storetest/stats_bench.go store/storepg/stats_append_bench_test.go store/storesqlite/stats_append_bench_test.go; do
    cp "$f" "$tmp/$f"
  done
  for i in $(seq "${COUNT:-3}"); do
    for tree in before after; do
      dir=.
      [ "$tree" = before ] && dir=$tmp
      echo "== round $i, $tree ($([ "$tree" = before ] && echo "${base:0:10}" || git rev-parse --short HEAD))"
      (cd "$dir" && $go test -run '^$' -bench '^BenchmarkAppendBatches$' -benchtime "${APPEND_BENCHTIME:-50x}" \
        ./store/storepg/ ./store/storesqlite/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|pkg)')
    done
  done
}

case "$what" in
  query) query ;;
  append) append_cost ;;
  all) append_cost; query ;;
  *) echo "usage: $0 [query|append|all]" >&2; exit 2 ;;
esac
