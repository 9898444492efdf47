#!/usr/bin/env python3
"""A launch in three regions against a launch of as many tasks in one (not a test: it prints figures).

Against the local moto server, which serves every region from one endpoint: TASKS tasks in
us-east-1 alone, and the same number split over us-east-1, eu-west-1 and ap-southeast-2, each run
with `wait: false` (the process starts every task and exits). RunTask is paced to Fargate's quota,
20 calls a second a region (a burst of 20), so three regions start three times as fast once the
burst is spent. Printed, for RUNS runs of each in turn: the time from the first RunTask to the last
(from the server's own timeline) and the whole process's time, then the medians and their ratio.

Usage: scripts/bench-regions.sh [TASKS], or .venv/bin/python scripts/bench_regions.py BINARY [TASKS]
"""

import json
import os
import statistics
import subprocess
import sys
import time

from harness_client import Harness

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
RUNS = int(os.environ.get("RUNS", "3"))
# Every run is bounded: one that has not ended by then is killed.
LIMIT_SECONDS = 300


def setups(harness):
    places = {}
    for region in REGIONS:
        cluster = f"bench-{region}"
        places[region] = harness.call(
            "/_harness/setup", {"region": region, "cluster": cluster, "family": "tester"}
        ) | {"cluster": cluster}
        # Each task ends at once: the launch is what is timed.
        harness.call("/_harness/script", {"cluster": cluster, "default": {"run_seconds": 0.2}, "tasks": {}})
    return places


def command(binary, places, tasks, regions):
    first = places[REGIONS[0]]
    words = [
        binary, "run", "--aws-region", "us-east-1", "--cluster", first["cluster"],
        "--task-definition", "tester", "--subnets", first["subnets"][0],
        "--security-groups", first["security_group"], "--image", "bench:1",
        "--task-count", str(tasks), "--wait", "false", "--start-delay", "0",
    ]
    if regions > 1:
        shares = [tasks // regions + (1 if index < tasks % regions else 0) for index in range(regions)]
        words += ["--regions", "\n".join(f"{region}: {share}" for region, share in zip(REGIONS, shares))]
        settings = {
            region: {
                "cluster": places[region]["cluster"],
                "subnets": places[region]["subnets"][:1],
                "security-groups": [places[region]["security_group"]],
            }
            for region in REGIONS[1:regions]
        }
        words += ["--region-settings", json.dumps(settings)]
    return words


def run_once(binary, harness, places, tasks, regions):
    environment = harness.environment(
        GITHUB_RUN_ID=str(int(time.time() * 1000)),
        GITHUB_RUN_ATTEMPT="1",
        GITHUB_REPOSITORY="acme/bench",
    )
    before = len(harness.state("")["timeline"])
    began = time.monotonic()
    finished = subprocess.run(
        command(binary, places, tasks, regions),
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=LIMIT_SECONDS,
    )
    whole = time.monotonic() - began
    if finished.returncode != 0:
        sys.exit(f"the run exited {finished.returncode}:\n{finished.stdout[-3000:]}")
    starts = [at for action, at in harness.state("")["timeline"][before:] if action == "RunTask"]
    if len(starts) < tasks:
        sys.exit(f"{len(starts)} RunTask calls for {tasks} tasks")
    return max(starts) - min(starts), whole


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 150
    harness = Harness()
    try:
        places = setups(harness)
        figures = {1: [], 3: []}
        for run in range(RUNS):
            for regions in (1, 3):
                launch, whole = run_once(binary, harness, places, tasks, regions)
                figures[regions].append((launch, whole))
                print(f"run {run + 1}, {regions} region(s), {tasks} tasks: RunTask first to last {launch:.2f} s, the process {whole:.2f} s", flush=True)
        one = [statistics.median(values) for values in zip(*figures[1])]
        three = [statistics.median(values) for values in zip(*figures[3])]
        print(f"median, 1 region:  first to last RunTask {one[0]:.2f} s, process {one[1]:.2f} s")
        print(f"median, 3 regions: first to last RunTask {three[0]:.2f} s, process {three[1]:.2f} s")
        print(f"3 regions / 1 region: launch {three[0] / one[0]:.2f}, process {three[1] / one[1]:.2f}")
    finally:
        harness.close()


if __name__ == "__main__":
    main()
