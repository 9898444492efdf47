#!/usr/bin/env bash
# Benchmarks what the wrapper costs k6: the same script against the same server, k6 alone against
# k6 under `ecs-loadtest wrap k6` (its samples as CSV through a named pipe into the wrapper), in
# turn, RUNS pairs, on loopback only, each run bounded to SECONDS_PER_RUN seconds. Each pair also
# runs k6 writing the same CSV (the wrapper's tags) to /dev/null: what k6's own CSV writer costs,
# which no reader of its samples can go under.
#
# nginx (one worker, `return 200`, no access log) runs pinned to CPU 0; k6, and the wrapper with
# it, pinned to CPU 1, so the client is the bottleneck. Printed per pair: requests/s of each and
# their ratio, and the CPU seconds per 1,000 requests of k6 alone and of k6 with the wrapper (the
# wrapper's share is the difference); then the median ratio.
#
#   scripts/bench-k6.sh [BINARY]      (default: target/release/ecs-loadtest, built if absent)
#
# Needs k6 (scripts/setup-test-env.sh puts it in .venv/bin); installs nginx-light and GNU time
# from Debian when they are missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
VUS=${VUS:-20}
PORT=${PORT:-18090}
binary=${1:-target/release/ecs-loadtest}
k6=${K6:-.venv/bin/k6}

[ -x "$k6" ] || scripts/setup-test-env.sh >/dev/null
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x "$binary" ] || cargo build --release --locked

work=$(mktemp -d)
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_temp_path $work;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    location / { return 200 "ok"; }
  }
}
EOF
taskset -c 0 /usr/sbin/nginx -c "$work/nginx.conf" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

cat > "$work/load.js" <<EOF
import http from 'k6/http';
export const options = { vus: $VUS, duration: '${SECONDS_PER_RUN}s' };
export default function () { http.get('http://127.0.0.1:$PORT/'); }
EOF

calc() { awk "BEGIN { print $* }"; }
ratios=()
floors=()
for run in $(seq "$RUNS"); do
  # k6 alone: its own count of requests, from its end-of-test summary.
  /usr/bin/time -f "%U %S" -o "$work/alone.time" taskset -c 1 "$k6" run --quiet \
    --summary-export "$work/alone.json" "$work/load.js" >/dev/null 2>&1
  alone=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['http_reqs']['count'])" "$work/alone.json")
  alone_cpu=$(awk '{ print $1 + $2 }' "$work/alone.time")

  # k6 under the wrapper: the requests its result line counts.
  /usr/bin/time -f "%U %S" -o "$work/wrapped.time" taskset -c 1 "$binary" wrap k6 -- \
    "$k6" run "$work/load.js" >"$work/wrapped.out" 2>&1
  wrapped=$(sed -n 's/.*"requests":\([0-9]*\),.*/\1/p' "$work/wrapped.out" | head -n 1)
  wrapped_cpu=$(awk '{ print $1 + $2 }' "$work/wrapped.time")

  # k6 writing its CSV to nowhere: the floor.
  taskset -c 1 "$k6" run --quiet --system-tags name,status,error_code --out csv=/dev/null \
    --summary-export "$work/csv.json" "$work/load.js" >/dev/null 2>&1
  csv=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['http_reqs']['count'])" "$work/csv.json")

  ratio=$(calc "$wrapped / $alone")
  ratios+=("$ratio")
  floors+=("$(calc "$csv / $alone")")
  printf 'pair %d: k6 alone %.0f req/s (%.3f CPU s per 1,000), wrapped %.0f req/s (%.3f CPU s per 1,000), ratio %.3f; k6 writing its CSV to /dev/null %.0f req/s, ratio %.3f\n' \
    "$run" "$(calc "$alone / $SECONDS_PER_RUN")" "$(calc "$alone_cpu * 1000 / $alone")" \
    "$(calc "$wrapped / $SECONDS_PER_RUN")" "$(calc "$wrapped_cpu * 1000 / $wrapped")" "$ratio" \
    "$(calc "$csv / $SECONDS_PER_RUN")" "$(calc "$csv / $alone")"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "median requests/s ratio, wrapped to alone: $(median "${ratios[@]}") (target: at least 0.95)"
echo "median requests/s ratio, k6's CSV to /dev/null to alone: $(median "${floors[@]}") (the floor of any reader)"
