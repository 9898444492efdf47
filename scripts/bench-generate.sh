#!/usr/bin/env bash
# Benchmarks `ecs-loadtest generate` against wrk, on loopback only, every run bounded in time.
#
# A server that is cheap enough for the client to be the bottleneck (nginx from Debian, one worker,
# `return 200`, keep-alive without limit, no access log) runs pinned to CPU 0; the client runs
# pinned to CPU 1. wrk and generate alternate, RUNS times each, with CONNECTIONS connections for
# SECONDS seconds. Printed: requests/s of each, the ratio pair by pair and its median, client CPU
# per request, peak RSS. Then the generator's peak RSS at 1,000 and 10,000 connections (whole, and
# a connection's share above a one-connection run), and after 10 s against 60 s.
#
#   scripts/bench-generate.sh [BINARY]      (default: target/release/ecs-loadtest, built if absent)
#
# Installs wrk, nginx-light and GNU time from Debian when they are missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNECTIONS=${CONNECTIONS:-50}
PORT=${PORT:-18089}
binary=${1:-target/release/ecs-loadtest}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
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
events { worker_connections 19000; }
worker_rlimit_nofile 20000;
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
ulimit -n "$(ulimit -Hn)"
taskset -c 0 /usr/sbin/nginx -c "$work/nginx.conf" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/"

calc() { awk "BEGIN { print $* }"; }

# Runs a client pinned to CPU 1 under GNU time; prints "REQUESTS CPU_SECONDS PEAK_RSS_KB".
measure() {
  local kind=$1 connections=$2 seconds=$3 out="$work/out" timing="$work/time"
  if [ "$kind" = wrk ]; then
    /usr/bin/time -f '%U %S %M' -o "$timing" taskset -c 1 \
      wrk -t1 -c"$connections" -d"${seconds}s" "$url" > "$out"
    requests=$(awk '/requests in/ {print $1}' "$out")
  else
    /usr/bin/time -f '%U %S %M' -o "$timing" taskset -c 1 \
      "$binary" generate --target-url "$url" --vus "$connections" --duration "${seconds}s" > "$out"
    requests=$(sed -n 's/^done · \([0-9]*\) requests.*/\1/p' "$out")
  fi
  read -r user sys rss < "$timing"
  echo "$requests $(calc "$user + $sys") $rss"
}

echo "Client pinned to CPU 1, nginx to CPU 0; $CONNECTIONS connections, ${SECONDS_PER_RUN} s a run"
printf '%-4s %14s %14s %8s %16s %16s %12s %12s\n' run "wrk req/s" "generate req/s" ratio \
  "wrk CPU µs/req" "gen CPU µs/req" "wrk RSS KiB" "gen RSS KiB"
ratios=()
for run in $(seq "$RUNS"); do
  read -r wrk_requests wrk_cpu wrk_rss <<< "$(measure wrk "$CONNECTIONS" "$SECONDS_PER_RUN")"
  read -r gen_requests gen_cpu gen_rss <<< "$(measure generate "$CONNECTIONS" "$SECONDS_PER_RUN")"
  wrk_rate=$(calc "$wrk_requests / $SECONDS_PER_RUN")
  gen_rate=$(calc "$gen_requests / $SECONDS_PER_RUN")
  ratio=$(calc "$gen_rate / $wrk_rate")
  ratios+=("$ratio")
  printf '%-4s %14.0f %14.0f %8.3f %16.2f %16.2f %12s %12s\n' "$run" "$wrk_rate" "$gen_rate" "$ratio" \
    "$(calc "$wrk_cpu * 1000000 / $wrk_requests")" \
    "$(calc "$gen_cpu * 1000000 / $gen_requests")" "$wrk_rss" "$gen_rss"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'median ratio generate/wrk: %.3f\n' "$median"

echo
echo "generate peak RSS by connections (10 s each; the base is one connection's run):"
read -r _ _ base <<< "$(measure generate 1 10)"
printf '  %6s connection:  %8s KiB peak RSS\n' 1 "$base"
for connections in 1000 10000; do
  read -r requests cpu rss <<< "$(measure generate "$connections" 10)"
  printf '  %6s connections: %8s KiB peak RSS, %6.1f KiB a connection (%.1f above the base), %s requests\n' \
    "$connections" "$rss" "$(calc "$rss / $connections")" \
    "$(calc "($rss - $base) / ($connections - 1)")" "$requests"
done
echo "generate peak RSS by length ($CONNECTIONS connections):"
for seconds in 10 60; do
  read -r requests cpu rss <<< "$(measure generate "$CONNECTIONS" "$seconds")"
  printf '  %3s s: %8s KiB peak RSS, %s requests\n' "$seconds" "$rss" "$requests"
done
