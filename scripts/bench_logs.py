#!/usr/bin/env python3
"""Measures the log follower against the local moto server (not a test: it prints figures).

  1. Throughput, API to stdout: N lines already in the stream(s) when following starts, 1 and 5
     tasks; lines per second from the first printed line to the last, beside moto's own ceiling
     (a plain GetLogEvents loop over the same stream, with nothing printed).
  2. Delay from a line's write to its print, at a steady 500 lines/s for 20 s: median and p99.
  3. Peak RSS of the binary while it follows 100,000 lines.

Usage: .venv/bin/python scripts/bench_logs.py BINARY
"""

import statistics
import subprocess
import sys
import time

import boto3

from harness_client import Harness, watch_peak_rss


def run_binary(binary, harness, setup, task_count, on_line, log_mode="grouped"):
    """Runs one load test; calls on_line(arrival_seconds, text) for each stdout line. Returns
    (exit status, peak RSS in KiB)."""
    environment = harness.environment()
    command = [
        binary, "run", "--aws-region", "us-east-1", "--cluster", "bench", "--task-definition", "tester",
        "--subnets", setup["subnets"][0], "--security-groups", setup["security_group"],
        "--image", "bench:1", "--task-count", str(task_count), "--log-mode", log_mode,
    ]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True, bufsize=1)
    peak_kib = watch_peak_rss(process)
    for line in process.stdout:
        on_line(time.time(), line.rstrip("\n"))
    status = process.wait()
    return status, peak_kib[0]


def throughput(binary, task_count, lines_per_task, log_mode):
    harness = Harness()
    setup = harness.call("/_harness/setup", {"cluster": "bench", "family": "tester"})
    # The lines are all in the stream before the follower can read it: run_seconds covers the
    # generation at a rate far above what is measured.
    harness.call("/_harness/script", {"cluster": "bench", "default": {
        "pending_seconds": 0.2, "run_seconds": 3,
        "logs": {"generate": {"count": lines_per_task, "per_second": 1_000_000}}}})
    arrivals = []
    is_line = (lambda text: text.startswith("task ")) if log_mode == "grouped" else (lambda text: "] task " in text)
    status, rss = run_binary(binary, harness, setup, task_count,
                             lambda at, text: is_line(text) and arrivals.append(at), log_mode)
    total = task_count * lines_per_task
    assert status == 0 and len(arrivals) == total, (status, len(arrivals), total)
    span = arrivals[-1] - arrivals[0]

    # moto's ceiling: read the same streams with a bare GetLogEvents loop.
    logs = boto3.client("logs", endpoint_url=harness.endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/ecs/tester")["logStreams"]]
    started = time.time()
    read = 0
    for stream in streams:
        token = None
        while True:
            kwargs = {"logGroupName": "/ecs/tester", "logStreamName": stream, "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            page = logs.get_log_events(**kwargs)
            read += len(page["events"])
            if page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
    moto_span = time.time() - started
    # And with one FilterLogEvents query over all the streams, paged.
    started = time.time()
    filtered = 0
    token = None
    while True:
        kwargs = {"logGroupName": "/ecs/tester", "logStreamNames": streams}
        if token:
            kwargs["nextToken"] = token
        page = logs.filter_log_events(**kwargs)
        filtered += len(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    filter_span = time.time() - started
    harness.close()
    return total / span if span > 0 else float("inf"), read / moto_span, filtered / filter_span, rss


def delay(binary):
    harness = Harness()
    setup = harness.call("/_harness/setup", {"cluster": "bench", "family": "tester"})
    harness.call("/_harness/script", {"cluster": "bench", "default": {
        "pending_seconds": 0.2, "run_seconds": 20,
        "logs": {"generate": {"count": 10_000, "per_second": 500}}}})
    delays = []

    def on_line(at, text):
        if text.startswith("task ") and " t=" in text:
            written_ms = int(text.rsplit(" t=", 1)[1])
            delays.append(at - written_ms / 1000)

    status, _ = run_binary(binary, harness, setup, 1, on_line)
    harness.close()
    assert status == 0 and len(delays) == 10_000, (status, len(delays))
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.99)]


def main():
    binary = sys.argv[1]
    print(f"binary: {binary}")
    for task_count, lines, log_mode in [(1, 100_000, "grouped"), (5, 20_000, "grouped"), (5, 20_000, "interleaved")]:
        rate, get_rate, filter_rate, rss = throughput(binary, task_count, lines, log_mode)
        ceiling = get_rate if task_count <= 4 else filter_rate
        print(f"throughput, {task_count} task(s) x {lines} lines, {log_mode}: {rate:,.0f} lines/s to stdout; "
              f"moto's own ceiling: GetLogEvents {get_rate:,.0f} lines/s, "
              f"FilterLogEvents {filter_rate:,.0f} lines/s; "
              f"ratio to the API used {rate / ceiling:.2f}; peak RSS {rss / 1024:.1f} MiB")
    median, p99 = delay(binary)
    print(f"delay from write to print at 500 lines/s for 20 s: median {median:.2f} s, p99 {p99:.2f} s")


if __name__ == "__main__":
    main()
