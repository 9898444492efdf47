#!/usr/bin/env bash
# Benchmarks `ecs-loadtest generate` against wrk and h2load, on loopback only, every run bounded
# in time.
#
# A server that is cheap enough for the client to be the bottleneck (nginx from Debian, one worker,
# `return 200`, keep-alive without limit, no access log) runs pinned to CPU 0; the client runs
# pinned to CPU 1. For each case the reference and generate alternate, RUNS times each, SECONDS
# seconds a run. Printed per case: requests/s of each, the ratio pair by pair and its median, client
# CPU per request, peak RSS, and the server's CPU per request (times requests/s near 1: the server
# was the limit); then the generator's memory per case: a connection's share above a one-connection
# run (from 1,000 virtual users), and the case's peak after 10 s against MEMORY_SECONDS (60).
#
# The cases (CASES picks some, by name, comma-separated):
#   http1      HTTP/1.1, 50 connections                      against wrk
#   h2c-50x1   HTTP/2 with prior knowledge, 50 connections × 1 stream   against h2load -c 50 -m 1
#   h2c-10x10  HTTP/2 with prior knowledge, 10 connections × 10 streams against h2load -c 10 -m 10
#   tls-http1  HTTP/1.1 over TLS 1.3, 50 connections         against wrk over https
#   tls-h2     HTTP/2 over TLS 1.3 (ALPN), 50 connections × 1 stream    against h2load over https
# Then, for HTTP/1.1, the peak RSS at 1,000 and 10,000 connections (SCALE=0 skips it).
#
# TLS: the server's certificate is signed by a CA made for the run, which the generator trusts
# through SSL_CERT_FILE, as a user trusts a private CA (wrk and h2load verify nothing).
#
#   scripts/bench-generate.sh [BINARY]      (default: target/release/ecs-loadtest, built if absent)
#
# Installs wrk, h2load (nghttp2-client), nginx-light, openssl and GNU time from Debian when they
# are missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
MEMORY_SECONDS=${MEMORY_SECONDS:-60}
CASES=${CASES:-http1,h2c-50x1,h2c-10x10,tls-http1,tls-h2}
# RUNS=0 skips the comparisons (memory only); MEMORY_SECONDS=0 and SCALE=0 skip the memory rows.
SCALE=${SCALE:-1}
PORT=${PORT:-18089}
binary=${1:-target/release/ecs-loadtest}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v openssl >/dev/null || missing+=(openssl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x "$binary" ] || cargo build --release --locked
# A binary from before `--http2-streams` put up to 100 virtual users on one HTTP/2 connection.
streams_flag=
if "$binary" generate --help | grep -q -- --http2-streams; then streams_flag=--http2-streams; fi

work=$(mktemp -d)
# A CA, and a leaf certificate for 127.0.0.1 it signs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/leaf.key" -out "$work/leaf.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$work/leaf.ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/leaf.ext" -out "$work/leaf.pem" 2>/dev/null

http1_port=$PORT h2c_port=$((PORT + 1)) tls_port=$((PORT + 2))
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
  http2_max_concurrent_streams 128;
  client_body_temp_path $work;
  ssl_protocols TLSv1.3;
  ssl_certificate $work/leaf.pem;
  ssl_certificate_key $work/leaf.key;
  server {
    listen 127.0.0.1:$http1_port backlog=4096;
    location / { return 200 "ok"; }
  }
  server {
    listen 127.0.0.1:$h2c_port http2 backlog=4096;
    location / { return 200 "ok"; }
  }
  server {
    listen 127.0.0.1:$tls_port ssl http2 backlog=4096;
    location / { return 200 "ok"; }
  }
}
EOF
ulimit -n "$(ulimit -Hn)"
taskset -c 0 /usr/sbin/nginx -c "$work/nginx.conf" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for port in $http1_port $h2c_port $tls_port; do
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
if ! kill -0 "$server" 2>/dev/null; then
  echo "nginx did not start: are ports $http1_port-$tls_port in use (PORT=… picks others)?" >&2
  exit 1
fi

calc() { awk "BEGIN { print $* }"; }
# The server's CPU seconds so far (its master and worker), to see which side was the limit.
server_cpu() {
  local ticks=0 pid
  for pid in $server $(pgrep -P "$server"); do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  calc "$ticks / $(getconf CLK_TCK)"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A case's URL, its connections and streams a connection, and the generator's HTTP version.
case_settings() {
  case $1 in
    http1) echo "http://127.0.0.1:$http1_port/ 50 1 1.1" ;;
    h2c-50x1) echo "http://127.0.0.1:$h2c_port/ 50 1 2" ;;
    h2c-10x10) echo "http://127.0.0.1:$h2c_port/ 10 10 2" ;;
    tls-http1) echo "https://127.0.0.1:$tls_port/ 50 1 1.1" ;;
    tls-h2) echo "https://127.0.0.1:$tls_port/ 50 1 2" ;;
    *) echo "unknown case $1 (http1, h2c-50x1, h2c-10x10, tls-http1, tls-h2)" >&2; exit 2 ;;
  esac
}

# Runs a client pinned to CPU 1 under GNU time; prints "REQUESTS CPU_SECONDS PEAK_RSS_KB
# SERVER_CPU_SECONDS".
# KIND is wrk, h2load or generate; the generator runs CONNECTIONS × STREAMS virtual users.
measure() {
  local kind=$1 url=$2 connections=$3 streams=$4 version=$5 seconds=$6
  local out="$work/out" timing="$work/time" server_before
  server_before=$(server_cpu)
  case $kind in
    wrk)
      /usr/bin/time -f '%U %S %M' -o "$timing" taskset -c 1 \
        wrk -t1 -c"$connections" -d"${seconds}s" "$url" > "$out"
      requests=$(awk '/requests in/ {print $1}' "$out") ;;
    h2load)
      /usr/bin/time -f '%U %S %M' -o "$timing" taskset -c 1 \
        h2load -t1 -c"$connections" -m"$streams" -D"$seconds" "$url" > "$out"
      requests=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out") ;;
    generate)
      SSL_CERT_FILE=$work/ca.pem /usr/bin/time -f '%U %S %M' -o "$timing" taskset -c 1 \
        "$binary" generate --target-url "$url" --vus $((connections * streams)) \
        --http-version "$version" ${streams_flag:+"$streams_flag" "$streams"} \
        --duration "${seconds}s" > "$out"
      requests=$(sed -n 's/^done · \([0-9]*\) requests.*/\1/p' "$out")
      if grep -q '^Errors:' "$out"; then grep '^Errors:' "$out" >&2; fi ;;
  esac
  read -r user sys rss < "$timing"
  echo "$requests $(calc "$user + $sys") $rss $(calc "$(server_cpu) - $server_before")"
}

IFS=, read -r -a cases <<< "$CASES"
summary=()
echo "Client pinned to CPU 1, nginx to CPU 0; ${SECONDS_PER_RUN} s a run, $RUNS pairs a case"
for name in "${cases[@]}"; do
  [ "$RUNS" -gt 0 ] || break
  read -r url connections streams version <<< "$(case_settings "$name")"
  reference=wrk
  [ "$version" = 2 ] && reference=h2load
  echo
  echo "$name: $connections connections × $streams stream(s), generate --http-version $version against $reference"
  printf '%-4s %14s %14s %8s %15s %15s %11s %11s %15s %15s\n' run "$reference req/s" \
    "generate req/s" ratio "ref CPU µs/req" "gen CPU µs/req" "ref RSS KiB" "gen RSS KiB" \
    "server µs/ref" "server µs/gen"
  ratios=()
  for run in $(seq "$RUNS"); do
    read -r ref_requests ref_cpu ref_rss ref_server <<< \
      "$(measure "$reference" "$url" "$connections" "$streams" "$version" "$SECONDS_PER_RUN")"
    read -r gen_requests gen_cpu gen_rss gen_server <<< \
      "$(measure generate "$url" "$connections" "$streams" "$version" "$SECONDS_PER_RUN")"
    ref_rate=$(calc "$ref_requests / $SECONDS_PER_RUN")
    gen_rate=$(calc "$gen_requests / $SECONDS_PER_RUN")
    ratio=$(calc "$gen_rate / $ref_rate")
    ratios+=("$ratio")
    printf '%-4s %14.0f %14.0f %8.3f %15.2f %15.2f %11s %11s %15.2f %15.2f\n' "$run" "$ref_rate" \
      "$gen_rate" "$ratio" "$(calc "$ref_cpu * 1000000 / $ref_requests")" \
      "$(calc "$gen_cpu * 1000000 / $gen_requests")" "$ref_rss" "$gen_rss" \
      "$(calc "$ref_server * 1000000 / $ref_requests")" "$(calc "$gen_server * 1000000 / $gen_requests")"
  done
  printf '%s median ratio generate/%s: %.3f\n' "$name" "$reference" "$(median "${ratios[@]}")"
  summary+=("$(printf '%-10s %-7s %s' "$name" "$reference" "$(median "${ratios[@]}")")")
done

if [ "$MEMORY_SECONDS" -gt 0 ]; then
  echo
  echo "generate memory per case (peak RSS): a connection's share above a one-connection run, from"
  echo "1,000 virtual users (1,000 connections; 100 for 10x10), and the case itself after 10 s and after ${MEMORY_SECONDS} s:"
  printf '%-10s %10s %12s %14s %12s %12s %12s\n' case "base KiB" "1,000 KiB" "KiB/conn above" \
    "10 s KiB" "${MEMORY_SECONDS} s KiB" "growth KiB"
  for name in "${cases[@]}"; do
    read -r url connections streams version <<< "$(case_settings "$name")"
    many=$((1000 / streams))
    read -r _ _ base _ <<< "$(measure generate "$url" 1 "$streams" "$version" 10)"
    read -r _ _ wide _ <<< "$(measure generate "$url" "$many" "$streams" "$version" 10)"
    read -r _ _ short _ <<< "$(measure generate "$url" "$connections" "$streams" "$version" 10)"
    read -r _ _ long _ <<< \
      "$(measure generate "$url" "$connections" "$streams" "$version" "$MEMORY_SECONDS")"
    printf '%-10s %10s %12s %14.1f %12s %12s %12s\n' "$name" "$base" "$wide" \
      "$(calc "($wide - $base) / ($many - 1)")" "$short" "$long" "$((long - short))"
  done
fi

if [ "$SCALE" = 1 ]; then
  echo
  echo "generate peak RSS by connections, HTTP/1.1 (10 s each; the base is one connection's run):"
  url="http://127.0.0.1:$http1_port/"
  read -r _ _ base _ <<< "$(measure generate "$url" 1 1 1.1 10)"
  printf '  %6s connection:  %8s KiB peak RSS\n' 1 "$base"
  for connections in 1000 10000; do
    read -r requests _ rss _ <<< "$(measure generate "$url" "$connections" 1 1.1 10)"
    printf '  %6s connections: %8s KiB peak RSS, %6.1f KiB a connection (%.1f above the base), %s requests\n' \
      "$connections" "$rss" "$(calc "$rss / $connections")" \
      "$(calc "($rss - $base) / ($connections - 1)")" "$requests"
  done
fi

if [ ${#summary[@]} -gt 0 ]; then
  echo
  echo "median ratios (generate / reference):"
  printf '  %s\n' "${summary[@]}"
fi
