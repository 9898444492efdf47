#!/usr/bin/env python3
"""An HTTP proxy that injects AWS faults between the binary and the moto harness.

    fault_proxy.py TARGET_PORT

The binary's AWS_ENDPOINT_URL points here; every request is either answered with a fault or
forwarded to the harness on TARGET_PORT. Faults are drawn per request from one seeded random
generator, as shares of all requests in bands: a request is throttled, else answered 500 or 503,
else has its connection dropped before it is forwarded, else dropped after the harness applied it
(the answer is lost, as when a connection breaks on the way back), else passed through.

  POST /_proxy/faults {"seed": 7,
                       "throttle": 0.5, "throttle_services": ["ecs", "logs"],
                       "server_error": 0.1, "drop_before": 0.05, "drop_after": 0.05,
                       "lose_first_answer": ["RunTask"],
                       "always": {"RunTask": {"after": 1, "code": "ThrottlingException",
                                              "message": "Rate exceeded"}}}
      throttle applies to the named services only (ecs, logs, ecr, sts); lose_first_answer drops
      the connection after the first applied request of each of those actions whatever the draw;
      always answers every request of an action after the first `after` ones with that error.
  GET  /_proxy/counts  {"requests": N, "faults": {"throttled": N, "server_error": N,
                        "dropped_before": N, "dropped_after": N, "always": N},
                        "actions": {"RunTask": {"passed": N, "throttled": N, ...}}}

Requests under /_harness/ are forwarded untouched. The proxy listens on 127.0.0.1, prints one JSON
line {"port": N} when ready, and exits when its standard input closes.
"""

import http.client
import http.server
import json
import random
import sys
import threading
import urllib.parse

TARGETS = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "Logs_20140328": "logs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

LOCK = threading.Lock()
CONFIG = {}
RANDOM = random.Random(7)
COUNTS = {"requests": 0, "faults": {}, "actions": {}}
ANSWERED = set()  # actions whose first applied answer was already lost
ALWAYS_SEEN = {}  # action -> requests of it seen while an `always` rule is set
TARGET_PORT = None


def service_and_action(headers, body):
    target = headers.get("X-Amz-Target", "")
    if target:
        prefix, _, action = target.partition(".")
        return TARGETS.get(prefix, prefix), action
    # Query protocol (STS): the action is a form field.
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return "sts", form.get("Action", ["unknown"])[0]


def draw(service, action):
    """The fault for one request: a name, or "passed"."""
    with LOCK:
        COUNTS["requests"] += 1
        rule = CONFIG.get("always", {}).get(action)
        if rule is not None:
            seen = ALWAYS_SEEN.get(action, 0)
            ALWAYS_SEEN[action] = seen + 1
            if seen >= int(rule.get("after", 0)):
                return count(action, "always")
        roll = RANDOM.random()
        bands = [
            ("throttled", CONFIG.get("throttle", 0.0) if service in CONFIG.get("throttle_services", []) else 0.0),
            ("server_error", CONFIG.get("server_error", 0.0)),
            ("dropped_before", CONFIG.get("drop_before", 0.0)),
            ("dropped_after", CONFIG.get("drop_after", 0.0)),
        ]
        floor = 0.0
        for name, share in bands:
            if roll < floor + share:
                return count(action, name)
            floor += share
        if action in CONFIG.get("lose_first_answer", []) and action not in ANSWERED:
            ANSWERED.add(action)
            return count(action, "dropped_after")
        return count(action, "passed")


def count(action, fault):
    per_action = COUNTS["actions"].setdefault(action, {})
    per_action[fault] = per_action.get(fault, 0) + 1
    if fault != "passed":
        COUNTS["faults"][fault] = COUNTS["faults"].get(fault, 0) + 1
    return fault


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_proxy/"):
            return self.proxy_endpoint(body)
        if self.path.startswith("/_harness/"):
            return self.forward(body)
        service, action = service_and_action(self.headers, body)
        fault = draw(service, action)
        if fault == "throttled":
            return self.answer_error(400, "ThrottlingException", "Rate exceeded")
        if fault == "server_error":
            if RANDOM.random() < 0.5:
                return self.answer_error(500, "InternalFailure", "injected internal failure")
            return self.answer_error(503, "ServiceUnavailable", "injected: service unavailable")
        if fault == "always":
            rule = CONFIG["always"][action]
            return self.answer_error(int(rule.get("status", 400)), rule["code"], rule["message"])
        if fault == "dropped_before":
            self.close_connection = True
            return
        status, headers, payload = self.exchange(body)
        if fault == "dropped_after":
            self.close_connection = True
            return
        self.relay(status, headers, payload)

    def proxy_endpoint(self, body):
        with LOCK:
            if self.path == "/_proxy/faults":
                CONFIG.clear()
                CONFIG.update(json.loads(body or b"{}"))
                RANDOM.seed(CONFIG.get("seed", 7))
                ANSWERED.clear()
                ALWAYS_SEEN.clear()
                answer = {"ok": True}
            elif self.path == "/_proxy/counts":
                answer = json.loads(json.dumps(COUNTS))
            else:
                answer = None
        if answer is None:
            return self.relay(404, [], b"unknown proxy endpoint")
        self.relay(200, [("Content-Type", "application/json")], json.dumps(answer).encode())

    def exchange(self, body):
        connection = http.client.HTTPConnection("127.0.0.1", TARGET_PORT, timeout=120)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.getheaders(), payload
        finally:
            connection.close()

    def forward(self, body):
        self.relay(*self.exchange(body))

    def answer_error(self, status, code, message):
        # The shape of an error from an AWS JSON-protocol service; STS reads the status only.
        payload = json.dumps({"__type": code, "message": message}).encode()
        self.relay(
            status,
            [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)],
            payload,
        )

    def relay(self, status, headers, payload):
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    global TARGET_PORT
    TARGET_PORT = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()  # returns when the test closes our stdin or exits
    server.shutdown()


if __name__ == "__main__":
    main()
