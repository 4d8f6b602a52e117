#!/usr/bin/env bash
# A/B comparison of two pixelgw builds under the edge load test, for a
# machine whose speed drifts (the dev VM: the same binary moves ±15% from
# run to run): runs scripts/loadtest/run.sh for A and B alternately, ROUNDS
# times each (A B A B …, so drift hits both), and prints every run's numbers
# and the medians. Bounded: each run.sh is.
#
#   scripts/loadtest/ab.sh /tmp/pixelgw-old /tmp/pixelgw-new
#   ROUNDS=5 DURATION=8 scripts/loadtest/ab.sh A B   # env passes through to run.sh
#
# Build the two binaries first, e.g. `git stash; go build -o /tmp/pixelgw-old
# ./cmd/pixelgw; git stash pop; go build -o /tmp/pixelgw-new ./cmd/pixelgw`.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] && [ -x "$1" ] && [ -x "$2" ] || { echo "usage: $0 BIN_A BIN_B (two executables)" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
export DURATION=${DURATION:-8} DELIVER=${DELIVER:-false}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for r in $(seq "$ROUNDS"); do
  for side in A B; do
    bin=$1; [ "$side" = B ] && bin=$2
    BIN=$bin scripts/loadtest/run.sh >"$out/run" 2>&1 || { cat "$out/run" >&2; exit 1; }
    # One line per run: closed-loop beacons/s, ratio, open-loop p99, CPU per 1,000 beacons.
    awk -v side="$side" -v r="$r" '
      /throughput: edge/ { rps = $3; ratio = $10; sub(",", "", ratio) }
      /open loop:/ { for (i = 1; i <= NF; i++) if ($i == "p99" && p99 == "") p99 = $(i + 1) }
      /per 1,000 beacons/ { for (i = 1; i <= NF; i++) { if ($i == "pixelgw" && $(i + 1) ~ /^[0-9.]+$/) pg = $(i + 1); if ($i == "redis" && $(i + 1) ~ /^[0-9.]+$/) rd = $(i + 1) } }
      END { printf "%s %d rps=%s ratio=%s ol_p99_ms=%s pixelgw_ms=%s redis_ms=%s\n", side, r, rps, ratio, p99, pg, rd }
    ' "$out/run" | tee -a "$out/lines"
  done
done

echo "== medians over $ROUNDS rounds"
for side in A B; do
  grep "^$side " "$out/lines" | awk -v side="$side" '
    { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[i, NR] = kv[2] + 0; name[i] = kv[1] } n = NR; nf = NF }
    function median(col,   i, j, t, b) { for (i = 1; i <= n; i++) b[i] = v[col, i]
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
      return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2 }
    END { printf "%s", side; for (i = 3; i <= nf; i++) printf " %s=%s", name[i], median(i); printf "\n" }'
done
