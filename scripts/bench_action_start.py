#!/usr/bin/env python3
"""Prints the action image's size and the time from `docker run` to its first AWS call.

The AWS endpoint is a listener on 127.0.0.1 that notes when the first connection arrives; the
container runs with host networking, as the runner's network is reachable from a Docker action.

Usage: python3 scripts/bench_action_start.py IMAGE [RUNS]
"""

import json
import socket
import statistics
import subprocess
import sys
import threading
import time


def first_connection(listener, arrived):
    connection, _ = listener.accept()
    arrived.append(time.monotonic())
    connection.close()


def main():
    image = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    size = json.loads(subprocess.check_output(["docker", "image", "inspect", image]))[0]["Size"]
    print(f"image {image}: {size:,} bytes ({size / 1_000_000:.1f} MB)")
    delays = []
    for _ in range(runs):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        arrived = []
        thread = threading.Thread(target=first_connection, args=(listener, arrived), daemon=True)
        thread.start()
        inputs = {"CLUSTER": "c", "TASK-DEFINITION": "t", "SUBNETS": "subnet-0123abcd", "IMAGE": "x:1"}
        command = ["docker", "run", "--rm", "--network", "host", "-e", "GITHUB_ACTIONS=true",
                   "-e", f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}", "-e", "AWS_REGION=us-east-1",
                   "-e", "AWS_ACCESS_KEY_ID=a", "-e", "AWS_SECRET_ACCESS_KEY=b",
                   "-e", "AWS_EC2_METADATA_DISABLED=true", "-e", "AWS_MAX_ATTEMPTS=1"]
        for name, value in inputs.items():
            command += ["-e", f"INPUT_{name}={value}"]
        started = time.monotonic()
        process = subprocess.Popen(command + [image], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        thread.join(timeout=30)
        process.kill()
        process.wait()
        listener.close()
        if arrived:
            delays.append(arrived[0] - started)
    print(f"docker run to the first AWS call, {len(delays)} runs: median {statistics.median(delays) * 1000:.0f} ms, "
          f"min {min(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
