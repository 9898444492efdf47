#!/usr/bin/env python3
"""`task-count: 1000` against the local moto server (not a test: it prints figures).

  1. A whole run: 1,000 tasks that run RUN_SECONDS and print a result line after they stop.
     Printed: time from the first RunTask to the last beside the quota-paced ideal (Fargate's
     RunTask quota, 20 calls a second burst and sustained, one task a call: 49 s for 1,000), AWS
     calls per minute by operation (mean over the run, and the busiest minute), peak RSS, the
     time from the last task's STOPPED to the verdict (the process's exit), and the exit status.
  2. A cancel: 1,000 tasks that run until stopped; SIGTERM once all are running. Printed: the
     time from the signal until every task is STOPPED, and until the process exits.

Usage: .venv/bin/python scripts/bench_scale.py BINARY [TASKS]
"""

import collections
import json
import os
import signal
import subprocess
import sys
import time
import tempfile

from harness_client import Harness, watch_peak_rss

RUN_SECONDS = float(os.environ.get("RUN_SECONDS", "20"))
RUN_TASK_PER_SECOND, RUN_TASK_BURST = 20, 20
# Every load loop here is bounded: a run that has not ended by then is killed.
LIMIT_SECONDS = 900


def start(binary, harness, setup, tasks):
    """Starts one run; returns the process and a list that holds its peak RSS in KiB."""
    environment = harness.environment(
        GITHUB_RUN_ID="77", GITHUB_RUN_ATTEMPT="1", GITHUB_REPOSITORY="acme/bench"
    )
    command = [
        binary, "run", "--aws-region", "us-east-1", "--cluster", "bench", "--task-definition", "tester",
        "--subnets", setup["subnets"][0], "--security-groups", setup["security_group"],
        "--image", "bench:1", "--task-count", str(tasks), "--timeout-minutes", "14",
        "--start-delay", "0",
    ]
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-scale-", suffix=".log")
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    peak = watch_peak_rss(process)
    return process, peak


def result_line():
    latency = {"p50": 20, "p90": 40, "p95": 50, "p99": 90, "max": 200}
    body = {"v": 1, "requests": 1000, "errors": 1, "duration_ms": int(RUN_SECONDS * 1000),
            "status": {"200": 999, "503": 1}, "latency_ms": latency}
    return "ECS_LOADTEST_RESULT " + json.dumps(body, separators=(",", ":"))


def whole_run(binary, tasks):
    harness = Harness()
    setup = harness.call("/_harness/setup", {"cluster": "bench", "family": "tester"})
    harness.call("/_harness/script", {"cluster": "bench", "default": {
        "pending_seconds": 1, "run_seconds": RUN_SECONDS,
        "logs": {"lines": ["running"], "after_stop": [result_line()], "after_stop_delay": 2}}})
    began = time.time()
    process, peak = start(binary, harness, setup, tasks)
    status = process.wait(timeout=LIMIT_SECONDS)
    ended = time.time()
    state = harness.state("bench")
    harness.close()

    timeline = [(action, at) for action, at in state["timeline"] if at >= began]
    runs = [at for action, at in timeline if action == "RunTask"]
    if len(runs) < tasks:
        process.log.seek(0)
        sys.exit(f"the run started {len(runs)} of {tasks} tasks; its output ends:\n" + "".join(process.log.readlines()[-30:]))
    stops = [task["stoppedAtEpoch"] for task in state["tasks"] if task["stoppedAtEpoch"]]
    ideal = max(0, tasks - RUN_TASK_BURST) / RUN_TASK_PER_SECOND
    launch = runs[-1] - runs[0]
    print(f"whole run, {tasks} tasks of {RUN_SECONDS:.0f} s: exit status {status}, {len(state['tasks'])} tasks")
    print(f"  launch: {launch:.1f} s from the first RunTask to the last; quota-paced ideal {ideal:.1f} s "
          f"({(launch / ideal - 1) * 100 if ideal else 0:+.1f} %)")
    print(f"  last STOPPED to the verdict: {ended - max(stops):.1f} s; whole run {ended - began:.1f} s")
    print(f"  peak RSS: {peak[0] / 1024:.1f} MiB")
    minutes = max((ended - began) / 60, 1 / 60)
    by_operation = collections.Counter(action for action, _ in timeline)
    busiest = collections.defaultdict(collections.Counter)
    for action, at in timeline:
        busiest[action][int((at - began) // 60)] += 1
    print("  AWS calls by operation: total, mean a minute, busiest minute")
    for action, count in by_operation.most_common():
        print(f"    {action:<24} {count:>7} {count / minutes:>9.0f} {max(busiest[action].values()):>9}")


def cancelled_run(binary, tasks):
    harness = Harness()
    setup = harness.call("/_harness/setup", {"cluster": "bench", "family": "tester"})
    harness.call("/_harness/script", {"cluster": "bench", "default": {"pending_seconds": 1, "run_seconds": None}})
    process, peak = start(binary, harness, setup, tasks)
    deadline = time.time() + LIMIT_SECONDS
    while time.time() < deadline:
        running = [task for task in harness.state("bench")["tasks"] if task["lastStatus"] == "RUNNING"]
        if len(running) == tasks:
            break
        time.sleep(1)
    signalled = time.time()
    process.send_signal(signal.SIGTERM)
    all_stopped = None
    while time.time() < signalled + 120:
        left = [task for task in harness.state("bench")["tasks"] if task["lastStatus"] != "STOPPED"]
        if not left:
            all_stopped = time.time() - signalled
            break
        time.sleep(0.2)
    status = process.wait(timeout=120)
    exited = time.time() - signalled
    harness.close()
    stopped = "never" if all_stopped is None else f"{all_stopped:.1f} s"
    print(f"cancel, {tasks} tasks running: all STOPPED {stopped} after SIGTERM; "
          f"the process exited after {exited:.1f} s with {status}; peak RSS {peak[0] / 1024:.1f} MiB")


def main():
    binary = sys.argv[1]
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    whole_run(binary, tasks)
    cancelled_run(binary, tasks)


if __name__ == "__main__":
    main()
