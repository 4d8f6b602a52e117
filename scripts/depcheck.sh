#!/usr/bin/env bash
# Dependency-direction check (README "Package map"). Fails listing every
# import that breaks a rule. Uses `go list` on non-test code.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/jaraba/pixelgw
fail=0
bad() { echo "depcheck: $1"; fail=1; }

while read -r pkg imports; do
  rel=${pkg#"$mod"}; rel=${rel#/}
  for imp in $imports; do
    case "$imp" in
      "$mod"/test/platformsim) [[ "$rel" == cmd/* ]] || bad "$rel imports $imp (only cmd/ may embed the simulator)" ;;
      "$mod"/cmd*|"$mod"/test*) bad "$rel imports $imp (nothing imports cmd/ or test/)" ;;
    esac
    case "$imp" in
      *test) [[ "$imp" == "$mod"/* ]] && bad "$rel imports test-only package $imp" ;;
    esac
    stdlib=1
    [[ "$imp" == *.*/* || "$imp" == "$mod"* ]] && stdlib=0
    case "$rel" in
      store|platforms|consent)
        [ $stdlib = 1 ] || bad "$rel must import only the standard library, imports $imp" ;;
      cmd/*) ;;
      store/storepg*|store/storesqlite*|store/*redis*|store/queue/queuesqlite*) ;;
      *)
        case "$imp" in
          "$mod"/store/storepg*|"$mod"/store/storesqlite*|"$mod"/store/queue/queuesqlite*|"$mod"/store/*redis*|\
          github.com/jackc/pgx*|modernc.org/sqlite*|github.com/redis/go-redis*)
            bad "$rel imports driver $imp (only cmd/ wires drivers; depend on store interfaces)" ;;
        esac ;;
    esac
  done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)

# No init() functions and no blank-import registration outside cmd/.
if grep -rn --include='*.go' -E '^func init\(\)' --exclude-dir=.git . | grep -v '_test.go'; then
  bad "init() functions are not allowed"
fi
[ $fail = 0 ] && echo "depcheck: ok"
exit $fail
