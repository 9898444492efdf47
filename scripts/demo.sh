#!/usr/bin/env bash
# Runs the product's main job on this machine with no AWS account: a real load test with the local
# backend. A small HTTP server on 127.0.0.1 is the target; three tasks of the built-in generator
# send it 300 requests a second for 10 seconds from this process, and the thresholds decide the
# exit status. Extra flags are passed on, e.g. scripts/demo.sh --rate 600 --duration 30s
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null; then
  echo "Installing python3 (the demo's target server)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi
cargo build --quiet --locked
binary=$PWD/target/debug/ecs-loadtest

# An empty directory: the build context (no Dockerfile there, so the built-in generator runs) and
# what the target serves.
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
echo "<h1>ecs-loadtest demo target</h1>" >"$work/index.html"
source scripts/target-server.sh
start_target_server "$work"

set +e
"$binary" run --backend local --context "$work" \
  --target-url "http://127.0.0.1:$port/" --task-count 3 --rate 300 --duration 10s \
  --thresholds $'p95 < 100ms\nerror_rate < 1%' "$@"
status=$?
set -e
echo "ecs-loadtest exited with $status"
exit "$status"
