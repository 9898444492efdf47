#!/usr/bin/env python3
"""How right the merged percentiles of Locust, Artillery and JMeter tests are, and what the
wrapper costs a sample.

A server on 127.0.0.1 answers each request after a delay drawn from a long-tailed distribution
(log-normal, median 20 ms) and keeps every delay: their exact percentiles are the reference the
server saw (the client's own time comes on top). For each tool:
  - ecs-loadtest runs the tool's script on 3 local tasks (the wrapper reads every sample);
  - the tool runs the same script on its own, with this project's hook or plugin also loaded to
    keep the raw sample of every request, so the tool's own figure (Locust's master merging 3
    workers, Artillery's report) is set against the exact percentiles of the very same samples;
  - the wrapper runs one task alone, and its own CPU time (not the tool's) is divided by the
    samples it read.
Printed: p50, p95 and p99 of each, in milliseconds, and the wrapper's CPU per sample.

    scripts/accuracy-testers.py [BINARY] [TOOL…]   (default: target/release/ecs-loadtest, all)

Needs Locust, Artillery and JMeter (scripts/setup-test-env.sh). Loopback only; each run is
bounded to SECONDS_PER_RUN (20) plus a minute.
"""

import csv
import glob
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
ARGS = sys.argv[1:]
BINARY = ARGS.pop(0) if ARGS and os.sep in ARGS[0] else os.path.join(
    ROOT, "target/release/ecs-loadtest")
TOOLS = ARGS or ["locust", "artillery", "jmeter"]
LOCUST = os.path.join(ROOT, ".venv-locust/bin/locust")
ARTILLERY = os.path.join(ROOT, ".artillery/node_modules/.bin/artillery")
HOOK = os.path.join(ROOT, "src/wrap/locust_hook.py")
PLUGIN = os.path.join(ROOT, "src/wrap/artillery_plugin.js")
JAVA_ARGS = "-Xbootclasspath/a:" + os.path.join(ROOT, ".jmeter/allow-types.jar")

# Each tool's script: about 5 requests a second a user (or 5 × USERS arrivals a second).
LOCUSTFILE = """
from locust import HttpUser, task, constant_throughput

class Reader(HttpUser):
    wait_time = constant_throughput(5)

    @task
    def page(self):
        self.client.get("/page", name="page")
"""

SCENARIO = """config:
  target: "{host}"
  phases:
    - duration: {seconds}
      arrivalRate: {rate}
scenarios:
  - flow:
      - get:
          url: "/page"
          name: page
"""

PLAN = """<?xml version="1.0" encoding="UTF-8"?>
<jmeterTestPlan version="1.2" properties="2.8" jmeter="2.13">
  <hashTree>
    <TestPlan guiclass="TestPlanGui" testclass="TestPlan" testname="accuracy" enabled="true">
      <elementProp name="TestPlan.user_defined_variables" elementType="Arguments">
        <collectionProp name="Arguments.arguments"/>
      </elementProp>
    </TestPlan>
    <hashTree>
      <ThreadGroup guiclass="ThreadGroupGui" testclass="ThreadGroup" testname="readers" enabled="true">
        <stringProp name="ThreadGroup.on_sample_error">continue</stringProp>
        <elementProp name="ThreadGroup.main_controller" elementType="LoopController" testclass="LoopController">
          <boolProp name="LoopController.continue_forever">false</boolProp>
          <stringProp name="LoopController.loops">-1</stringProp>
        </elementProp>
        <stringProp name="ThreadGroup.num_threads">${{__P(threads,1)}}</stringProp>
        <stringProp name="ThreadGroup.ramp_time">0</stringProp>
        <boolProp name="ThreadGroup.scheduler">true</boolProp>
        <stringProp name="ThreadGroup.duration">${{__P(duration,10)}}</stringProp>
      </ThreadGroup>
      <hashTree>
        <HTTPSamplerProxy guiclass="HttpTestSampleGui" testclass="HTTPSamplerProxy" testname="page" enabled="true">
          <elementProp name="HTTPsampler.Arguments" elementType="Arguments">
            <collectionProp name="Arguments.arguments"/>
          </elementProp>
          <stringProp name="HTTPSampler.domain">127.0.0.1</stringProp>
          <stringProp name="HTTPSampler.port">{port}</stringProp>
          <stringProp name="HTTPSampler.protocol">http</stringProp>
          <stringProp name="HTTPSampler.path">/page</stringProp>
          <stringProp name="HTTPSampler.method">GET</stringProp>
          <boolProp name="HTTPSampler.use_keepalive">true</boolProp>
        </HTTPSamplerProxy>
        <hashTree>
          <ConstantTimer guiclass="ConstantTimerGui" testclass="ConstantTimer" testname="think" enabled="true">
            <stringProp name="ConstantTimer.delay">200</stringProp>
          </ConstantTimer>
          <hashTree/>
        </hashTree>
      </hashTree>
    </hashTree>
  </hashTree>
</jmeterTestPlan>
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
            pass

    def log_message(self, *_args):
        pass


def percentile(values, q):
    """The smallest value with at least q of the values at or below it (as HdrHistogram reads)."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(q * len(values)) - 1)]


def exact(values):
    values = sorted(values)
    return [percentile(values, q) for q in (0.50, 0.95, 0.99)]


def tool_path(tool):
    return {"locust": os.path.dirname(LOCUST), "artillery": os.path.dirname(ARTILLERY),
            "jmeter": "/usr/bin"}[tool]


def write_script(tool, work, host, port, rate):
    name = {"locust": "locustfile.py", "artillery": "scenario.yml", "jmeter": "plan.jmx"}[tool]
    text = {"locust": LOCUSTFILE,
            "artillery": SCENARIO.format(host=host, seconds=SECONDS, rate=rate),
            "jmeter": PLAN.format(port=port)}[tool]
    with open(os.path.join(work, name), "w") as file:
        file.write(text)
    return name


def ours(tool, script, host, work):
    """The merged figures of 3 local tasks."""
    output = os.path.join(work, "github_output")
    env = dict(os.environ, PATH=tool_path(tool) + ":" + os.environ["PATH"],
               GITHUB_OUTPUT=output, JAVA_ARGS=JAVA_ARGS)
    command = [BINARY, "run", "--backend", "local", "--script", script, "--task-count", "3",
               "--tester", tool]
    if tool in ("locust", "jmeter"):
        command += ["--vus", str(USERS), "--duration", f"{SECONDS}s"]
    if tool == "locust":
        command += ["--environment", f"LOCUST_HOST={host}"]
    subprocess.run(command, cwd=work, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=SECONDS + 120, check=False)
    lines = open(output).read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("results<<"))
    end = lines.index(lines[start].split("<<", 1)[1], start + 1)
    merged = json.loads("\n".join(lines[start + 1:end]))["merged"]
    latency = merged["latency"]
    return merged["requests"], [latency[f"{p}_us"] / 1000.0 for p in ("p50", "p95", "p99")]


def raw_samples(paths):
    """Milliseconds of every request line the hook or plugin wrote into `paths`."""
    values = []
    for path in paths:
        for line in open(path):
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 4:
                values.append(float(fields[1]))
    return values


def locusts_own(host, work):
    """Locust's master over 3 workers, each also writing its raw samples through the hook."""
    common = [LOCUST, "-f", f"locustfile.py,{HOOK}", "--host", host]
    env = dict(os.environ, VUS=str(USERS))
    master = subprocess.Popen(
        common + ["--master", "--headless", "--expect-workers", "3", "-u", str(USERS), "-r",
                  str(USERS), "-t", f"{SECONDS}s", "--csv", "locust", "--only-summary"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(env, ECS_LOADTEST_SAMPLES=os.path.join(work, "master.samples")))
    workers = [subprocess.Popen(
        common + ["--worker"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(env, ECS_LOADTEST_SAMPLES=os.path.join(work, f"worker{i}.samples")))
        for i in range(3)]
    master.wait(timeout=SECONDS + 120)
    for worker in workers:
        worker.wait(timeout=30)
    with open(os.path.join(work, "locust_stats.csv")) as stats:
        row = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    own = [float(row[q]) for q in ("50%", "95%", "99%")]
    samples = raw_samples(glob.glob(os.path.join(work, "worker*.samples")))
    return "Locust's master, 3 workers", int(row["Request Count"]), own, samples


def artillerys_own(work):
    """One Artillery process (its workers' sketches merged in its report), with the plugin also
    writing the raw samples."""
    plugins = os.path.join(work, "plugins", "artillery-plugin-ecs-loadtest")
    os.makedirs(plugins, exist_ok=True)
    with open(PLUGIN) as source, open(os.path.join(plugins, "index.js"), "w") as copy:
        copy.write(source.read())
    samples = os.path.join(work, "artillery.samples")
    open(samples, "w").close()
    env = dict(os.environ, ARTILLERY_PLUGIN_PATH=os.path.dirname(plugins),
               ARTILLERY_PLUGINS='{"ecs-loadtest":{}}', ECS_LOADTEST_SAMPLES=samples)
    subprocess.run([ARTILLERY, "run", "--quiet", "--output", "report.json", "scenario.yml"],
                   cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=SECONDS + 120, check=False)
    report = json.load(open(os.path.join(work, "report.json")))["aggregate"]
    summary = report["summaries"]["http.response_time"]
    own = [float(summary[q]) for q in ("p50", "p95", "p99")]
    return ("Artillery's report (time to first byte)", report["counters"]["http.responses"], own,
            raw_samples([samples]))


def jmeters_own(work):
    """JMeter alone: its non-GUI summary has no percentiles, so only the exact ones of its JTL."""
    subprocess.run(["jmeter", "-n", "-t", "plan.jmx", "-l", "own.jtl", "-j", "own.log",
                    f"-Jthreads={USERS}", f"-Jduration={SECONDS}",
                    "-Jjmeter.save.saveservice.output_format=csv",
                    "-Jjmeter.save.saveservice.print_field_names=true"],
                   cwd=work, env=dict(os.environ, JAVA_ARGS=JAVA_ARGS), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=SECONDS + 120, check=False)
    with open(os.path.join(work, "own.jtl")) as jtl:
        values = [float(row["elapsed"]) for row in csv.DictReader(jtl)]
    return "JMeter alone (no merged percentile)", len(values), None, values


def cpu_seconds(pid):
    """User and system CPU of the process itself (not its children), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrapper_cpu(tool, script, host, work):
    """One task under `ecs-loadtest wrap`: the wrapper's own CPU time a sample, in microseconds."""
    command = {"locust": ["locust", "-f", script],
               "artillery": ["artillery", "run", script],
               "jmeter": ["jmeter", "-n", "-t", script]}[tool]
    env = dict(os.environ, PATH=tool_path(tool) + ":" + os.environ["PATH"], JAVA_ARGS=JAVA_ARGS,
               LOCUST_HOST=host, TASK_INDEX="0", TASK_COUNT="1")
    if tool != "artillery":
        env.update(VUS=str(USERS), DURATION=str(SECONDS))
    wrapper = subprocess.Popen([BINARY, "wrap", tool, "--"] + command, cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    used = 0.0
    reader = threading.Thread(target=lambda: setattr(wrapper, "text", wrapper.stdout.read()))
    reader.start()
    while wrapper.poll() is None:
        try:
            used = cpu_seconds(wrapper.pid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        time.sleep(0.05)
    reader.join()
    requests = 0
    for line in wrapper.text.splitlines():
        if line.startswith("ECS_LOADTEST_RESULT_CHUNK"):
            requests = json.loads(line.split(" ", 4)[4]).get("requests", 0)
    return requests, used * 1e6 / max(requests, 1)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    host = f"http://127.0.0.1:{port}"
    rows, costs = [], []
    for tool in TOOLS:
        with tempfile.TemporaryDirectory() as work:
            script = write_script(tool, work, host, port, rate=5 * USERS)
            DELAYS.take()
            count, figures = ours(tool, script, host, work)
            rows.append((f"{tool}: ecs-loadtest, 3 tasks", count, figures, None, DELAYS.take()))
            name, count, own, samples = {
                "locust": lambda: locusts_own(host, work),
                "artillery": lambda: artillerys_own(work),
                "jmeter": lambda: jmeters_own(work),
            }[tool]()
            rows.append((f"{tool}: {name}", count, own, samples, DELAYS.take()))
            costs.append((tool,) + wrapper_cpu(tool, script, host, work))
            DELAYS.take()
    server.shutdown()
    print(f"{'run':<58}{'requests':>9}  {'p50 ms':>24}  {'p95 ms':>24}  {'p99 ms':>24}")
    for name, count, figures, samples, seen in rows:
        server_side = exact(seen)
        client_side = exact(samples) if samples else [None] * 3
        cells = []
        for at in range(3):
            got = "      –" if figures is None else f"{figures[at]:7.1f}"
            same = "" if client_side[at] is None else f" ({client_side[at]:6.1f})"
            cells.append(f"{got}{same} [{server_side[at]:6.1f}]")
        print(f"{name:<58}{count:>9}  " + "  ".join(f"{cell:>24}" for cell in cells))
    print("(in round brackets: the exact percentile of the same run's raw samples, each request's")
    print(" time as the tool measured it, kept by this project's hook or plugin; in square brackets:")
    print(" the exact percentile of the delays the server gave in that run, below the client's time)")
    print()
    tick = 1e6 / os.sysconf("SC_CLK_TCK")
    for tool, requests, micros in costs:
        figure = (f"{micros:.1f} µs" if micros > 0
                  else f"under {tick / max(requests, 1):.1f} µs (less than one {tick / 1000:.0f} ms tick in all)")
        print(f"wrapper CPU, {tool}: {figure} a sample ({requests} samples, one task; the wrapper's"
              " fixed costs, its timers and the tool's output it copies, are counted in)")


if __name__ == "__main__":
    main()
