"""What the benchmark scripts share: the moto harness in a child process, and a peak-RSS watch."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Harness:
    """tests/harness/moto_harness.py on a free port of 127.0.0.1; it exits when closed."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/harness/moto_harness.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.port = json.loads(self.process.stdout.readline())["port"]
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def call(self, path, body):
        request = urllib.request.Request(self.endpoint + path, json.dumps(body).encode(), method="POST")
        return json.load(urllib.request.urlopen(request))

    def state(self, cluster):
        url = f"{self.endpoint}/_harness/state?cluster={cluster}"
        return json.load(urllib.request.urlopen(url, timeout=60))

    def environment(self, **more):
        """What the binary runs with against this server: its endpoint, test credentials, no
        instance metadata, as a GitHub Actions step; `more` adds variables (GITHUB_RUN_ID, …)."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "GITHUB_ACTIONS": "true",
        } | more

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def watch_peak_rss(process):
    """Returns a one-item list that holds `process`'s peak RSS in KiB while it runs, read from its
    own VmHWM: the rusage of a child counts the forking parent's memory too (Linux keeps the
    larger of the old and new image's high-water mark at exec)."""
    peak = [0]

    def watch():
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    return peak
