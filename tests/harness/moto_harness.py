#!/usr/bin/env python3
"""A moto server whose ECS tasks end the way a test scripts them.

moto does not run containers: its tasks walk RUNNING -> STOPPED after a few DescribeTasks calls,
report only the first container, keep exit code 0 and set no stop code. This harness runs moto's
server in-process, patches its ECS task model, and adds endpoints under /_harness on moto's port:

  POST /_harness/setup   {"cluster", "family", "containers": [{"name", "essential", "logs"}],
                          "ecr_repository", "region"}
                         creates the cluster, a security group and a Fargate task definition the way
                         infra/terraform does, in "region" (default us-east-1), and answers
                         {"subnets", "security_group", "task_definition_arn"}.
  POST /_harness/script  {"cluster", "default": SCRIPT, "tasks": {"<TASK_INDEX>": SCRIPT}}
  POST /_harness/throttle {"share": 0.3, "actions": ["GetLogEvents", ...]}: that share of those
                         requests is answered with ThrottlingException
  POST /_harness/delay  {"actions": {"RunTask": 2.0}}: each such request waits that long before
                         moto applies it, as a request in flight at the service does
  POST /_harness/outage  {"region": "eu-west-1", "service": "ecs", "seconds": 30}: every request
                         signed for that service in that region is answered with a 500
                         InternalFailure for that long (0 ends it), as a region's API in an outage
  GET  /_harness/state   (?cluster=&region=) every task (status, stop reason, startedBy, tags, overrides, when it
                         stopped), the AWS actions received, with when, and how many RunTask
                         requests repeated a clientToken (answered with the first answer, as ECS
                         does, starting nothing).

A SCRIPT says how a task ends; every key is optional:
  launch_failure   {"reason", "detail"}: RunTask answers with this in failures[] and starts nothing
  pending_seconds  time in PROVISIONING/PENDING (default 0.3)
  run_seconds      time RUNNING; null: runs until StopTask (default 0.5)
  start_failure    true: goes from PENDING straight to STOPPED, never RUNNING
  stop_code        default EssentialContainerExited (TaskFailedToStart with start_failure)
  stopped_reason   default "Essential container in task exited"
  containers       {"<name>": {"exit_code": int or null, "reason": str}}; default exit 0
  logs             what the task's awslogs stream receives (the first container's):
                   {"lines": [str], written when the task starts running;
                    "generate": {"count": N, "per_second": R}: lines "task I line N t=EPOCH_MS"
                      written at that rate while running (the task stops only after the last);
                    "after_stop": [str], written "after_stop_delay" seconds (default 2) after the
                      task stopped, as the awslogs driver's last flush does;
                    "stream_delay": seconds after running before the stream exists,
                    "late": {"lines": [str], "after_seconds": A, "backdate_seconds": B}: lines
                      written A seconds after running with the timestamp of B seconds before,
                      as a batch that becomes searchable after later ones}

The server listens on 127.0.0.1, prints one JSON line {"port": N} when ready, and exits when its
standard input closes, so it never outlives the test that started it.
"""

import datetime
import io
import random
import json
import sys
import threading
import time
import urllib.parse
import uuid

import boto3
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import moto
from moto.ecs import models as ecs_models
from moto.logs import models as logs_models
from moto.ecs import responses as ecs_responses
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

# LOCK orders the harness's own state. moto adds tasks to its dictionaries without it (RunTask runs
# outside LOCK, see run_task below), so every walk over moto's dictionaries walks a list() copy:
# the copy is taken in one step, while a walk that runs Python code per item can see the
# dictionary grow under it.
LOCK = threading.RLock()
SCRIPTS = {}  # cluster name -> {"default": {...}, "tasks": {"0": {...}}}
REQUESTS = []  # AWS actions received, in order
TIMELINE = []  # (action, epoch seconds) for each of them
THROTTLE = {"share": 0.0, "actions": [], "throttled": 0}
THROTTLE_RANDOM = random.Random(7)
DELAYS = {}  # action -> seconds a request waits before moto applies it
OUTAGES = {}  # (region, service) -> monotonic time the outage ends
RUN_TASK_ANSWERS = {}  # (cluster, clientToken) -> the answer RunTask gave
RUN_TASK_REPEATS = [0]  # RunTask requests answered from RUN_TASK_ANSWERS
TOKEN_LOCKS = {}  # (cluster, clientToken) -> a lock held while that token's RunTask is applied
TOKENS_LOCK = threading.Lock()
ACCOUNT, REGION = "123456789012", "us-east-1"
PORT = None


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def script_for(cluster_name, overrides):
    index = task_index(overrides)
    scripts = SCRIPTS.get(cluster_name, {})
    script = dict(scripts.get("default", {}))
    script.update(scripts.get("tasks", {}).get(str(index), {}))
    return script


def region_of(arn):
    return arn.split(":")[3]


class ScriptedContainer:
    """What DescribeTasks shows of one container; attribute names follow the API shape."""

    def __init__(self, task, definition):
        self.container_arn = f"arn:aws:ecs:{region_of(task.task_arn)}:123456789012:container/{uuid.uuid4()}"
        self.task_arn = task.task_arn
        self.name = definition.get("name")
        self.image = definition.get("image")
        self.last_status = "PENDING"
        self.exit_code = None
        self.reason = None
        self.network_interfaces = []
        self.health_status = "UNKNOWN"
        self.cpu = str(definition.get("cpu", 0))
        self.memory = str(definition.get("memory")) if definition.get("memory") else None


class Life:
    """The scripted life of one task. `tick` moves it on; reads never change it, because moto
    serializes a task's containers before its status."""

    def __init__(self, task, script, definition):
        self.script = script
        self.created = time.monotonic()
        self.created_wall = now()
        self.status = "PROVISIONING"
        self.running_at = None
        self.stopped_at = None
        task.containers = [ScriptedContainer(task, c) for c in definition.container_definitions]
        self.task_index = task_index(task.overrides)
        self.region = region_of(task.task_arn)
        first = definition.container_definitions[0]
        options = (first.get("logConfiguration") or {}).get("options", {})
        self.log_group = options.get("awslogs-group")
        self.log_stream = f"{options.get('awslogs-stream-prefix')}/{first['name']}/{task.id}"
        self.logs = script.get("logs", {})
        self.generated = 0
        self.stream_ready = False
        self.lines_written = False
        self.after_stop_written = False
        self.late_written = False
        self.stopped_wall = None

    def generation_done(self):
        generate = self.logs.get("generate")
        return not generate or self.generated >= int(generate["count"])

    def write_logs(self):
        """Called by the log writer thread: puts what is due into the task's stream."""
        if self.log_group is None or self.running_at is None:
            return
        moment = time.monotonic()
        if not self.stream_ready:
            if moment < self.running_at + float(self.logs.get("stream_delay", 0)):
                return
            backend = logs_models.logs_backends[ACCOUNT][self.region]
            backend.create_log_stream(self.log_group, self.log_stream)
            self.stream_ready = True
        if not self.lines_written:
            self.lines_written = True
            put_lines(self.region, self.log_group, self.log_stream, self.logs.get("lines", []))
        generate = self.logs.get("generate")
        if generate and not self.generation_done():
            due = min(int(generate["count"]), int((moment - self.running_at) * float(generate.get("per_second", 10000))) + 1)
            if due > self.generated:
                stamp = int(time.time() * 1000)
                put_lines(
                    self.region,
                    self.log_group,
                    self.log_stream,
                    [f"task {self.task_index} line {n} t={stamp}" for n in range(self.generated, due)],
                )
                self.generated = due
        late = self.logs.get("late")
        if late and not self.late_written and moment >= self.running_at + float(late.get("after_seconds", 1)):
            self.late_written = True
            put_lines(self.region, self.log_group, self.log_stream, late.get("lines", []), float(late.get("backdate_seconds", 10)))
        if self.stopped_at is not None and not self.after_stop_written:
            if moment >= self.stopped_at + float(self.logs.get("after_stop_delay", 2)):
                self.after_stop_written = True
                put_lines(self.region, self.log_group, self.log_stream, self.logs.get("after_stop", []))

    def pending(self):
        return float(self.script.get("pending_seconds", 0.3))

    def tick(self, task):
        if self.status == "STOPPED":
            return
        elapsed = time.monotonic() - self.created
        pending = self.pending()
        if elapsed < pending:
            self.status = "PROVISIONING" if elapsed < pending / 2 else "PENDING"
            return
        if self.script.get("start_failure"):
            self.finish(task, ran=False)
            return
        if self.status != "RUNNING":
            self.status = "RUNNING"
            self.running_at = time.monotonic()
            task.started_at = self.created_wall + datetime.timedelta(seconds=pending)
            for container in task.containers:
                container.last_status = "RUNNING"
        run = self.script.get("run_seconds", 0.5)
        if run is not None and elapsed >= pending + float(run) and self.generation_done():
            self.finish(task, ran=True)

    def finish(self, task, ran):
        # Everything a stopped task reports is set before its status says STOPPED: a DescribeTasks
        # answered from another thread in between would otherwise see a stopped task whose
        # container has no exit code yet, which ECS never reports.
        task.stop_code = self.script.get(
            "stop_code", "EssentialContainerExited" if ran else "TaskFailedToStart"
        )
        task.stopped_reason = self.script.get("stopped_reason", "Essential container in task exited")
        scripted = self.script.get("containers", {})
        for container in task.containers:
            end = scripted.get(container.name, {})
            container.exit_code = end.get("exit_code", 0 if ran else None)
            container.reason = end.get("reason")
            container.last_status = "STOPPED"
        run = self.script.get("run_seconds", 0.5) if ran else 0
        self.stamp_stop(task, self.created_wall + datetime.timedelta(seconds=self.pending() + float(run or 0)))
        self.stopped_at = time.monotonic()
        self.stopped_wall = time.time()
        self.status = "STOPPED"

    def user_stop(self, task):
        """StopTask: what ECS reports after SIGTERM reached a container that then exited."""
        if self.status == "STOPPED":
            return
        ran = self.status == "RUNNING"
        task.stop_code = "UserInitiated"
        for container in task.containers:
            container.exit_code = 143 if ran else None
            container.last_status = "STOPPED"
        self.stamp_stop(task, now())
        self.stopped_at = time.monotonic()
        self.stopped_wall = time.time()
        self.status = "STOPPED"

    @staticmethod
    def stamp_stop(task, stamp):
        task.stopped_at = stamp
        task.execution_stopped_at = stamp
        task.stopping_at = stamp
        task.desired_status = "STOPPED"


def put_lines(region, group, stream, lines, backdate_seconds=0.0):
    backend = logs_models.logs_backends[ACCOUNT][region]
    for start in range(0, len(lines), 1000):
        stamp = int((time.time() - backdate_seconds) * 1000)
        events = [{"timestamp": stamp, "message": line} for line in lines[start : start + 1000]]
        with LOCK:
            backend.put_log_events(group, stream, events)


def task_index(overrides):
    for override in (overrides or {}).get("containerOverrides", []):
        for pair in override.get("environment", []):
            if pair.get("name") == "TASK_INDEX":
                return pair.get("value")
    return None


def ecs_backends():
    """Every region's ECS backend that has been used."""
    return [backend for _, backend in list(ecs_models.ecs_backends[ACCOUNT].items())]


def log_writer():
    """Moves every task of every region on and writes its due log lines, every 20 ms."""
    while True:
        time.sleep(0.02)
        lives = []
        for backend in ecs_backends():
            tick_all(backend)
            with LOCK:
                lives.extend(
                    task._life
                    for tasks in list(backend.tasks.values())
                    for task in list(tasks.values())
                    if getattr(task, "_life", None) is not None
                )
        for life in lives:
            try:
                life.write_logs()
            except Exception as error:  # shown in the harness's stderr
                print(f"log writer: {error!r}", file=sys.stderr, flush=True)


def tick_all(backend):
    with LOCK:
        for tasks in list(backend.tasks.values()):
            for task in list(tasks.values()):
                life = getattr(task, "_life", None)
                if life is not None:
                    life.tick(task)


def patch_moto():
    task_class = ecs_models.Task
    original_status = task_class.last_status

    def get_status(self):
        life = getattr(self, "_life", None)
        return life.status if life else original_status.fget(self)

    def set_status(self, value):
        life = getattr(self, "_life", None)
        if life is None:
            original_status.fset(self, value)
        elif value == "STOPPED":
            life.user_stop(self)

    task_class.last_status = property(get_status, set_status)

    backend_class = ecs_models.EC2ContainerServiceBackend
    original_run_task = backend_class.run_task
    original_stop_task = backend_class.stop_task

    def run_task(self, cluster_str, task_definition_str, count, overrides, *args, **kwargs):
        tasks = original_run_task(self, cluster_str, task_definition_str, count, overrides, *args, **kwargs)
        definition = self.describe_task_definition(task_definition_str)
        launched, refused = [], []
        with LOCK:
            for task in tasks:
                script = script_for(task.cluster_name, overrides)
                if "launch_failure" in script:
                    del self.tasks[task.cluster_name][task.task_arn]
                    refused.append(script["launch_failure"])
                    continue
                task._life = Life(task, script, definition)
                task.created_at = now()
                launched.append(task)
        self._harness_refused = refused
        return launched

    def stop_task(self, cluster_str, task_str, reason):
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in list(self.tasks.get(cluster.name, {}).items()):
            life = getattr(task, "_life", None)
            if arn.endswith(task_id) and life is not None and life.status == "STOPPED":
                return task  # ECS leaves a stopped task as it was
        return original_stop_task(self, cluster_str, task_str, reason)

    original_describe_tasks = backend_class.describe_tasks
    original_list_tasks = backend_class.list_tasks

    def describe_tasks(self, *args, **kwargs):
        tick_all(self)
        return original_describe_tasks(self, *args, **kwargs)

    def list_tasks(self, *args, **kwargs):
        tick_all(self)
        return original_list_tasks(self, *args, **kwargs)

    backend_class.run_task = run_task
    backend_class.stop_task = stop_task
    backend_class.describe_tasks = describe_tasks
    backend_class.list_tasks = list_tasks

    response_class = ecs_responses.EC2ContainerServiceResponse
    original_run_task_response = response_class.run_task

    def run_task_response(self):
        # ECS answers a repeated clientToken with the tasks the first request started, so a
        # request whose answer was lost can be sent again without starting a task twice.
        token = self._get_param("clientToken")
        if not token:
            return run_task_refusals(self, original_run_task_response(self))
        key = (self._get_param("cluster", "default"), token)
        # One lock per token, never LOCK: moto takes its own locks inside, in another order.
        with TOKENS_LOCK:
            token_lock = TOKEN_LOCKS.setdefault(key, threading.Lock())
        with token_lock:
            if key in RUN_TASK_ANSWERS:
                with TOKENS_LOCK:
                    RUN_TASK_REPEATS[0] += 1
                return RUN_TASK_ANSWERS[key]
            result = run_task_refusals(self, original_run_task_response(self))
            RUN_TASK_ANSWERS[key] = result
        return result

    def run_task_refusals(self, result):
        refused = getattr(self.ecs_backend, "_harness_refused", [])
        self.ecs_backend._harness_refused = []
        if refused:
            failures = [
                {
                    "arn": f"arn:aws:ecs:{self.region}:123456789012:container-instance/{uuid.uuid4()}",
                    "reason": failure.get("reason", "RESOURCE:MEMORY"),
                    "detail": failure.get("detail"),
                }
                for failure in refused
            ]
            result = type(result)({"tasks": result.result["tasks"], "failures": failures})
        return result

    response_class.run_task = run_task_response

    # moto notes which parts of an answer to leave out in one dict shared by every request (a
    # class attribute): a DescribeTasks without include=TAGS running beside one with it could drop
    # the tags from the other's answer. Each DescribeTasks gets a dict of its own.
    original_describe_tasks_response = response_class.describe_tasks

    def describe_tasks_response(self):
        self.RESPONSE_KEY_PATH_TO_TRANSFORMER = dict(self.RESPONSE_KEY_PATH_TO_TRANSFORMER)
        return original_describe_tasks_response(self)

    response_class.describe_tasks = describe_tasks_response

    # moto's log streams are plain lists; reads and the writer thread take turns.
    logs_class = logs_models.LogsBackend
    for name in ("get_log_events", "filter_log_events"):
        original = getattr(logs_class, name)

        def locked(self, *args, _original=original, **kwargs):
            with LOCK:
                return _original(self, *args, **kwargs)

        setattr(logs_class, name, locked)


def setup(body):
    region = body.get("region", REGION)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    endpoint = f"http://127.0.0.1:{PORT}"
    ec2 = session.client("ec2", endpoint_url=endpoint)
    ecs = session.client("ecs", endpoint_url=endpoint)
    cluster = body["cluster"]
    ecs.create_cluster(clusterName=cluster)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [
        subnet["SubnetId"]
        for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    security_group = ec2.create_security_group(
        GroupName=f"{cluster}-tasks-{uuid.uuid4().hex[:6]}", Description="load test tasks", VpcId=vpc
    )["GroupId"]
    containers = []
    for container in body.get("containers", [{"name": "tester"}]):
        definition = {
            "name": container["name"],
            "image": container.get("image", "public.ecr.aws/example/tester:base"),
            "essential": container.get("essential", True),
            "memory": 512,
        }
        if container.get("logs", True):
            definition["logConfiguration"] = {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": f"/ecs/{body.get('family', 'tester')}",
                    "awslogs-region": region,
                    "awslogs-stream-prefix": "loadtest",
                },
            }
        containers.append(definition)
    if body.get("ecr_repository"):
        session.client("ecr", endpoint_url=endpoint).create_repository(repositoryName=body["ecr_repository"])
    logs = session.client("logs", endpoint_url=endpoint)
    group = f"/ecs/{body.get('family', 'tester')}"
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    definition = ecs.register_task_definition(
        family=body.get("family", "tester"),
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn="arn:aws:iam::123456789012:role/ecs-loadtest-execution",
        containerDefinitions=containers,
        tags=[{"key": "team", "value": "perf"}],
    )["taskDefinition"]
    return {
        "subnets": subnets[:2],
        "security_group": security_group,
        "task_definition_arn": definition["taskDefinitionArn"],
    }


def state(cluster, region=REGION):
    backend = ecs_models.ecs_backends[ACCOUNT][region]
    tasks = []
    tick_all(backend)
    with LOCK:
        for arn, task in list(backend.tasks.get(cluster, {}).items()):
            tasks.append(
                {
                    "arn": arn,
                    "lastStatus": task.last_status,
                    "desiredStatus": task.desired_status,
                    "stoppedReason": task.stopped_reason,
                    "stopCode": getattr(task, "stop_code", None),
                    "startedBy": task.started_by,
                    "tags": task.tags,
                    "overrides": task.overrides,
                    "taskDefinitionArn": task.task_definition_arn,
                    "platformVersion": task.platform_version,
                    "launchType": task.launch_type,
                    "capacityProvider": task.capacity_provider_name,
                    "networkConfiguration": getattr(task, "network_configuration", None),
                    "stoppedAtEpoch": getattr(getattr(task, "_life", None), "stopped_wall", None),
                }
            )
        definitions = [
            {
                "arn": definition.arn,
                "images": [c.get("image") for c in definition.container_definitions],
                "containers": definition.container_definitions,
                "tags": backend.list_tags_for_resource(definition.arn),
            }
            for family in list(backend.task_definitions.values())
            for definition in list(family.values())
        ]
        return {
            "tasks": tasks,
            "requests": list(REQUESTS),
            "timeline": list(TIMELINE),
            "throttled": THROTTLE["throttled"],
            "runTaskRepeats": RUN_TASK_REPEATS[0],
            "task_definitions": definitions,
        }


def application():
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        request = Request(environ)
        if request.path.startswith("/_harness/"):
            try:
                body = json.loads(request.get_data() or b"{}")
                if request.path == "/_harness/setup":
                    answer = setup(body)
                elif request.path == "/_harness/script":
                    with LOCK:
                        SCRIPTS[body["cluster"]] = body
                    answer = {"ok": True}
                elif request.path == "/_harness/throttle":
                    with LOCK:
                        THROTTLE["share"] = float(body.get("share", 0))
                        THROTTLE["actions"] = list(body.get("actions", []))
                    answer = {"ok": True}
                elif request.path == "/_harness/delay":
                    with LOCK:
                        DELAYS.clear()
                        DELAYS.update({name: float(seconds) for name, seconds in body.get("actions", {}).items()})
                    answer = {"ok": True}
                elif request.path == "/_harness/outage":
                    with LOCK:
                        OUTAGES[(body["region"], body.get("service", "ecs"))] = time.monotonic() + float(body["seconds"])
                    answer = {"ok": True}
                elif request.path == "/_harness/state":
                    answer = state(request.args.get("cluster", ""), request.args.get("region", REGION))
                else:
                    return Response("unknown harness endpoint", 404)(environ, start_response)
            except Exception as error:  # the test reads the message
                return Response(f"harness error: {error!r}", 500)(environ, start_response)
            return Response(json.dumps(answer, default=str), mimetype="application/json")(
                environ, start_response
            )
        target = request.headers.get("X-Amz-Target") or request.args.get("Action") or ""
        if not target:
            # Query-protocol calls (STS) name the action in the form body; read it and hand moto
            # an unread copy.
            data = request.get_data()
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            target = urllib.parse.parse_qs(data.decode("utf-8", "replace")).get("Action", [""])[0]
        action = target.split(".")[-1] or request.path
        # The signature's credential scope names the region and the service: KEY/DATE/REGION/SERVICE/…
        scope = request.headers.get("Authorization", "").split("Credential=")[-1].split(",")[0].split("/")
        signed = (scope[2], scope[3]) if len(scope) > 3 else None
        with LOCK:
            down = signed is not None and OUTAGES.get(signed, 0) > time.monotonic()
        if down:
            body = json.dumps({"__type": "InternalFailure", "message": f"{signed[0]} is having an outage"})
            return Response(body, 500, mimetype="application/x-amz-json-1.1")(environ, start_response)
        with LOCK:
            REQUESTS.append(action)
            TIMELINE.append((action, time.time()))
            throttle = action in THROTTLE["actions"] and THROTTLE_RANDOM.random() < THROTTLE["share"]
            if throttle:
                THROTTLE["throttled"] += 1
            delay = DELAYS.get(action, 0.0)
        if delay:
            time.sleep(delay)
        if throttle:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return Response(body, 400, mimetype="application/x-amz-json-1.1")(environ, start_response)
        return moto_app(environ, start_response)

    return app


# The patches above lean on moto's internals (Task, run_task, stop_task, the ECS responses); a
# different moto must be checked against them first, so it is refused rather than half-working.
MOTO_VERSION = "5.2.5"


def main():
    global PORT
    if moto.__version__ != MOTO_VERSION:
        sys.exit(f"moto {moto.__version__} is installed; the harness is written for moto {MOTO_VERSION}")
    patch_moto()
    server = make_server("127.0.0.1", 0, application(), threaded=True, request_handler=MotoRequestHandler)
    PORT = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=log_writer, daemon=True).start()
    print(json.dumps({"port": PORT}), flush=True)
    sys.stdin.read()  # returns when the test closes our stdin or exits
    server.shutdown()


if __name__ == "__main__":
    main()
