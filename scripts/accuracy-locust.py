#!/usr/bin/env python3
"""How right the merged percentiles of a Locust test are, against what the server saw.

A server on 127.0.0.1 answers each request after a delay drawn from a long-tailed distribution
(log-normal, median 20 ms) and keeps every delay: its exact percentiles are the reference (the
client adds its own few hundred microseconds on top). The same locustfile then runs, for the
same time and users:
  - under ecs-loadtest on 3 local tasks (each task's Locust a child of the wrapper), and
  - as Locust's own distributed test, a master and 3 workers, whose figures are Locust's merge.
Printed: p50, p95 and p99 of each, side by side, in milliseconds.

    scripts/accuracy-locust.py [BINARY]   (default: target/release/ecs-loadtest)

Needs Locust (scripts/setup-test-env.sh puts it in .venv-locust). Loopback only; each run is
bounded to SECONDS.
"""

import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECONDS = int(os.environ.get("SECONDS_PER_RUN", "20"))
USERS = int(os.environ.get("USERS", "30"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/ecs-loadtest")
LOCUST = os.path.join(ROOT, ".venv-locust/bin/locust")

LOCUSTFILE = """
from locust import HttpUser, task, constant_throughput

class Reader(HttpUser):
    wait_time = constant_throughput(5)

    @task
    def page(self):
        self.client.get("/page", name="page")
"""


class Delays:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = []

    def take(self):
        with self.lock:
            values, self.values = self.values, []
        return sorted(values)


DELAYS = Delays()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        delay = min(random.lognormvariate(math.log(0.020), 0.8), 2.0)
        time.sleep(delay)
        with DELAYS.lock:
            DELAYS.values.append(delay * 1000.0)
        body = b"ok"
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # A user stopped at the end of the run; its request is not counted by the client.
            pass

    def log_message(self, *_args):
        pass


def percentile(values, q):
    """The smallest value with at least q of the values at or below it (as HdrHistogram reads)."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(q * len(values)) - 1)]


def ours(host, work):
    output = os.path.join(work, "github_output")
    env = dict(os.environ, PATH=os.path.dirname(LOCUST) + ":" + os.environ["PATH"],
               GITHUB_OUTPUT=output)
    subprocess.run(
        [BINARY, "run", "--backend", "local", "--script", "locustfile.py", "--task-count", "3",
         "--vus", str(USERS), "--duration", f"{SECONDS}s", "--environment", f"LOCUST_HOST={host}"],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=SECONDS + 120, check=False)
    text = open(output).read()
    # `results<<DELIMITER` … `DELIMITER`
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("results<<"))
    end = lines.index(lines[start].split("<<", 1)[1], start + 1)
    merged = json.loads("\n".join(lines[start + 1:end]))["merged"]
    latency = merged["latency"]
    return merged["requests"], [latency[f"{p}_us"] / 1000.0 for p in ("p50", "p95", "p99")]


def locusts_own(host, work):
    common = [LOCUST, "-f", "locustfile.py", "--host", host]
    master = subprocess.Popen(
        common + ["--master", "--headless", "--expect-workers", "3", "-u", str(USERS), "-r",
                  str(USERS), "-t", f"{SECONDS}s", "--csv", "locust", "--only-summary"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = [subprocess.Popen(common + ["--worker"], cwd=work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(3)]
    master.wait(timeout=SECONDS + 120)
    for worker in workers:
        worker.wait(timeout=30)
    with open(os.path.join(work, "locust_stats.csv")) as stats:
        row = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    return int(row["Request Count"]), [float(row[q]) for q in ("50%", "95%", "99%")]


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{server.server_address[1]}"
    rows = []
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "locustfile.py"), "w") as file:
            file.write(LOCUSTFILE)
        DELAYS.take()
        count, figures = ours(host, work)
        seen = DELAYS.take()
        rows.append(("ecs-loadtest, 3 tasks", count, figures, seen))
        count, figures = locusts_own(host, work)
        seen = DELAYS.take()
        rows.append(("Locust master, 3 workers", count, figures, seen))
    server.shutdown()
    print(f"{'run':<26}{'requests':>9}  {'p50 ms':>16}  {'p95 ms':>16}  {'p99 ms':>16}")
    for name, count, figures, seen in rows:
        exact = [percentile(seen, q) for q in (0.50, 0.95, 0.99)]
        cells = "  ".join(f"{got:7.1f} ({want:6.1f})" for got, want in zip(figures, exact))
        print(f"{name:<26}{count:>9}  {cells}")
    print("(in brackets: the exact percentile of the delays the server itself gave in that run;")
    print(" the client's own time, Locust's and Python's, comes on top of them)")


if __name__ == "__main__":
    main()
