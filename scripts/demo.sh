#!/usr/bin/env bash
# Runs the action's main job end to end on this machine, without an AWS account: the real binary
# against a local moto server (the test harness), with three tasks of which the last one fails.
# Usage: scripts/demo.sh [extra ecs-loadtest flags, e.g. --task-count 5 --vus 50]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-env.sh
cargo build --quiet --locked
binary=target/debug/ecs-loadtest

fifo=$(mktemp -u)
mkfifo "$fifo"
ready=$(mktemp)
trap 'exec 3>&- 2>/dev/null; rm -f "$fifo" "$ready"' EXIT
# The harness exits when its standard input closes, so it goes away with this script.
.venv/bin/python tests/harness/moto_harness.py <"$fifo" >"$ready" 2>/dev/null &
exec 3>"$fifo"
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
port=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$ready")

setup=$(.venv/bin/python - "$port" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
def call(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(request))
answer = call("/_harness/setup", {"cluster": "demo", "family": "tester", "containers": [{"name": "tester"}]})
def logs(index, p95):
    result = {"v": 1, "requests": 6000, "errors": 6 * index, "duration_ms": 60000,
              "latency_ms": {"p50": 40 + index, "p90": 90, "p95": p95, "p99": 2 * p95, "max": 1500}}
    return {"lines": [f"tester {index}: ramping up", f"tester {index}: steady"],
            "after_stop": ["ECS_LOADTEST_RESULT " + json.dumps(result)]}
call("/_harness/script", {"cluster": "demo", "default": {"run_seconds": 3},
                          "tasks": {"0": {"logs": logs(0, 180)}, "1": {"logs": logs(1, 240)},
                                    "2": {"logs": logs(2, 610), "containers": {"tester": {"exit_code": 3}}}}})
print(",".join(answer["subnets"]), answer["security_group"])
PY
)
read -r subnets security_group <<<"$setup"

set +e
AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
AWS_EC2_METADATA_DISABLED=true \
  "$binary" run --aws-region us-east-1 --cluster demo --task-definition tester \
    --subnets "$subnets" --security-groups "$security_group" \
    --image 123456789012.dkr.ecr.us-east-1.amazonaws.com/tester:demo \
    --task-count 3 --vus 30 --rate 100 --duration 1m --target-url https://staging.example.com/ \
    --thresholds $'p95 < 500ms\nerror_rate < 1%' "$@"
status=$?
set -e
echo "ecs-loadtest exited with $status (task 3 of 3 was scripted to exit 3)"
