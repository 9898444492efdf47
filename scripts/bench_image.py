#!/usr/bin/env python3
"""Times two build+push runs of the same context and measures what each uploaded.

The context: a static busybox and 8 MiB of application data in three COPY layers, plus a RUN
step. The second run has nothing to rebuild or upload; the figures show how close it comes.
Bytes uploaded are measured from outside: the growth of the registry's blob storage.

Usage: .venv/bin/python scripts/bench_image.py BINARY
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_DATA = Path("/var/lib/ecs-loadtest-test/registry-data")


def storage_bytes():
    total = 0
    for directory, _, files in os.walk(REGISTRY_DATA):
        for name in files:
            total += (Path(directory) / name).stat().st_size
    return total


def main():
    binary = sys.argv[1]
    harness = subprocess.Popen([sys.executable, str(ROOT / "tests/harness/moto_harness.py")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = json.loads(harness.stdout.readline())["port"]
    endpoint = f"http://127.0.0.1:{port}"

    def call(path, body):
        request = urllib.request.Request(endpoint + path, json.dumps(body).encode(), method="POST")
        return json.load(urllib.request.urlopen(request))

    repository = f"bench-{int(time.time())}"
    setup = call("/_harness/setup", {"cluster": "bench", "family": "tester", "ecr_repository": repository})
    call("/_harness/script", {"cluster": "bench", "default": {"run_seconds": 0.2}})

    context = Path(tempfile.mkdtemp())
    shutil.copy("/bin/busybox", context / "busybox")
    (context / "data").mkdir()
    for part in range(3):
        (context / "data" / f"part{part}.bin").write_bytes(os.urandom(8 * 1024 * 1024 // 3))
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY data/part0.bin /data/\nCOPY data/part1.bin /data/\n"
        "COPY data/part2.bin /data/\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox ls /data > /listing\"]\n")

    environment = {
        "PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true", "GITHUB_SHA": "0123456789abcdef",
    }
    command = [binary, "run", "--aws-region", "us-east-1", "--cluster", "bench", "--task-definition", "tester",
               "--subnets", setup["subnets"][0], "--security-groups", setup["security_group"],
               "--context", str(context), "--ecr-repository", repository, "--comment", "false"]
    figures = []
    for attempt in ("first", "second"):
        before = storage_bytes()
        started = time.monotonic()
        process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        pushed, pushed_at, lines = None, None, []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Pushed ") and pushed is None:
                pushed, pushed_at = line.strip(), time.monotonic()
        if process.wait() != 0 or pushed is None:
            print("".join(lines[-60:]))
            sys.exit(f"the {attempt} run failed with {process.returncode}")
        elapsed = pushed_at - started
        uploaded = storage_bytes() - before
        figures.append((attempt, elapsed, uploaded, pushed))
    harness.stdin.close()
    shutil.rmtree(context)
    for attempt, elapsed, uploaded, pushed in figures:
        print(f"{attempt} start to pushed: {elapsed:.2f} s, {uploaded:,} bytes reached the registry; {pushed}")
    print(f"second/first: time {figures[1][1] / figures[0][1]:.2f}, bytes {figures[1][2] / max(figures[0][2], 1):.4f}")


if __name__ == "__main__":
    main()
