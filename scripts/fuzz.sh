#!/usr/bin/env bash
# Runs the "never panics" property tests for a bounded time each, far past the cases `cargo test`
# runs, and prints the cases executed per target.
#
# Each target is a proptest in the unit tests (the inputs, thresholds, the result line whole and in
# chunks, a `/loadtest` comment, the HPACK decoder, the HTTP/2 frame reader, the JTL and k6 CSV
# readers, `.dockerignore`, the Dockerfile step mapper, load stages, request lines). It is run in
# batches of BATCH cases, each batch with a fresh random seed, until SECONDS_PER_TARGET have passed.
# A failing case is shrunk by proptest and written to `proptest-regressions/<module path>.txt`:
# commit that file and the case is replayed first by every later `cargo test`.
#
#   scripts/fuzz.sh [FILTER]        (default: every target; FILTER picks targets by substring)
#
# Exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
BATCH=${BATCH:-2000}
filter=${1:-}

binary=$(cargo test --lib --locked --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["lib"]:
        print(m["executable"])')
[ -x "$binary" ] || { echo "fuzz: the unit test binary was not built" >&2; exit 2; }

mapfile -t targets < <("$binary" --list 2>/dev/null | sed -n 's/: test$//p' |
  grep -E 'never_panics|without_panicking' | grep -F -- "$filter" || true)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no target matches '$filter'" >&2; exit 2; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '%-80s %10s %8s %10s %s\n' target cases seconds cases/s result
failed=0
for target in "${targets[@]}"; do
  cases=0
  result=ok
  start=$(date +%s.%N)
  while :; do
    now=$(date +%s.%N)
    python3 -c "import sys; sys.exit(0 if $now - $start < $SECONDS_PER_TARGET else 1)" || break
    if ! RUST_BACKTRACE=0 PROPTEST_CASES=$BATCH timeout 600 "$binary" --exact "$target" --test-threads 1 -q \
      >"$log" 2>&1; then
      result=FAILED
      failed=1
      grep -m1 -A1 'panicked at' "$log" || true
      grep -m1 'minimal failing input' "$log" || true
      break
    fi
    cases=$((cases + BATCH))
  done
  seconds=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  rate=$(python3 -c "print(f'{$cases / max($seconds, 0.001):.0f}')")
  printf '%-80s %10d %8s %10s %s\n' "$target" "$cases" "$seconds" "$rate" "$result"
done
exit $failed
