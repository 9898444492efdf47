#!/usr/bin/env python3
"""A moto server whose ECS tasks end the way a test scripts them.

moto does not run containers: its tasks walk RUNNING -> STOPPED after a few DescribeTasks calls,
report only the first container, keep exit code 0 and set no stop code. This harness runs moto's
server in-process, patches its ECS task model, and adds endpoints under /_harness on moto's port:

  POST /_harness/setup   {"cluster", "family", "containers": [{"name", "essential"}]}
                         creates the cluster, a security group and a Fargate task definition the way
                         infra/terraform does, and answers {"subnets", "security_group",
                         "task_definition_arn"}.
  POST /_harness/script  {"cluster", "default": SCRIPT, "tasks": {"<TASK_INDEX>": SCRIPT}}
  GET  /_harness/state   every task (status, stop reason, startedBy, tags, overrides) and the list
                         of AWS actions received.

A SCRIPT says how a task ends; every key is optional:
  launch_failure   {"reason", "detail"}: RunTask answers with this in failures[] and starts nothing
  pending_seconds  time in PROVISIONING/PENDING (default 0.3)
  run_seconds      time RUNNING; null: runs until StopTask (default 0.5)
  start_failure    true: goes from PENDING straight to STOPPED, never RUNNING
  stop_code        default EssentialContainerExited (TaskFailedToStart with start_failure)
  stopped_reason   default "Essential container in task exited"
  containers       {"<name>": {"exit_code": int or null, "reason": str}}; default exit 0

The server listens on 127.0.0.1, prints one JSON line {"port": N} when ready, and exits when its
standard input closes, so it never outlives the test that started it.
"""

import datetime
import io
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
from moto.ecs import responses as ecs_responses
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

LOCK = threading.RLock()
SCRIPTS = {}  # cluster name -> {"default": {...}, "tasks": {"0": {...}}}
REQUESTS = []  # AWS actions received, in order
PORT = None


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def script_for(cluster_name, overrides):
    index = None
    for override in (overrides or {}).get("containerOverrides", []):
        for pair in override.get("environment", []):
            if pair.get("name") == "TASK_INDEX":
                index = pair.get("value")
    scripts = SCRIPTS.get(cluster_name, {})
    script = dict(scripts.get("default", {}))
    script.update(scripts.get("tasks", {}).get(str(index), {}))
    return script


class ScriptedContainer:
    """What DescribeTasks shows of one container; attribute names follow the API shape."""

    def __init__(self, task, definition):
        self.container_arn = f"arn:aws:ecs:us-east-1:123456789012:container/{uuid.uuid4()}"
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

    def __init__(self, task, script, definitions):
        self.script = script
        self.created = time.monotonic()
        self.created_wall = now()
        self.status = "PROVISIONING"
        task.containers = [ScriptedContainer(task, definition) for definition in definitions]

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
            task.started_at = self.created_wall + datetime.timedelta(seconds=pending)
            for container in task.containers:
                container.last_status = "RUNNING"
        run = self.script.get("run_seconds", 0.5)
        if run is not None and elapsed >= pending + float(run):
            self.finish(task, ran=True)

    def finish(self, task, ran):
        self.status = "STOPPED"
        task.stop_code = self.script.get(
            "stop_code", "EssentialContainerExited" if ran else "TaskFailedToStart"
        )
        task.stopped_reason = self.script.get("stopped_reason", "Essential container in task exited")
        scripted = self.script.get("containers", {})
        for container in task.containers:
            end = scripted.get(container.name, {})
            container.last_status = "STOPPED"
            container.exit_code = end.get("exit_code", 0 if ran else None)
            container.reason = end.get("reason")
        run = self.script.get("run_seconds", 0.5) if ran else 0
        self.stamp_stop(task, self.created_wall + datetime.timedelta(seconds=self.pending() + float(run or 0)))

    def user_stop(self, task):
        """StopTask: what ECS reports after SIGTERM reached a container that then exited."""
        if self.status == "STOPPED":
            return
        ran = self.status == "RUNNING"
        self.status = "STOPPED"
        task.stop_code = "UserInitiated"
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exit_code = 143 if ran else None
        self.stamp_stop(task, now())

    @staticmethod
    def stamp_stop(task, stamp):
        task.stopped_at = stamp
        task.execution_stopped_at = stamp
        task.stopping_at = stamp
        task.desired_status = "STOPPED"


def tick_all(backend):
    with LOCK:
        for tasks in backend.tasks.values():
            for task in tasks.values():
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
                task._life = Life(task, script, definition.container_definitions)
                task.created_at = now()
                launched.append(task)
        self._harness_refused = refused
        return launched

    def stop_task(self, cluster_str, task_str, reason):
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
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
        result = original_run_task_response(self)
        refused = getattr(self.ecs_backend, "_harness_refused", [])
        self.ecs_backend._harness_refused = []
        if refused:
            failures = [
                {
                    "arn": f"arn:aws:ecs:us-east-1:123456789012:container-instance/{uuid.uuid4()}",
                    "reason": failure.get("reason", "RESOURCE:MEMORY"),
                    "detail": failure.get("detail"),
                }
                for failure in refused
            ]
            result = type(result)({"tasks": result.result["tasks"], "failures": failures})
        return result

    response_class.run_task = run_task_response


def setup(body):
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
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
    group = ec2.create_security_group(
        GroupName=f"{cluster}-tasks-{uuid.uuid4().hex[:6]}", Description="load test tasks", VpcId=vpc
    )["GroupId"]
    containers = []
    for container in body.get("containers", [{"name": "tester"}]):
        containers.append(
            {
                "name": container["name"],
                "image": container.get("image", "public.ecr.aws/example/tester:base"),
                "essential": container.get("essential", True),
                "memory": 512,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{body.get('family', 'tester')}",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "loadtest",
                    },
                },
            }
        )
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
        "security_group": group,
        "task_definition_arn": definition["taskDefinitionArn"],
    }


def state(cluster):
    backend = ecs_models.ecs_backends["123456789012"]["us-east-1"]
    tasks = []
    tick_all(backend)
    with LOCK:
        for arn, task in backend.tasks.get(cluster, {}).items():
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
                }
            )
        definitions = [
            {
                "arn": definition.arn,
                "images": [c.get("image") for c in definition.container_definitions],
                "tags": backend.list_tags_for_resource(definition.arn),
            }
            for family in backend.task_definitions.values()
            for definition in family.values()
        ]
        return {"tasks": tasks, "requests": list(REQUESTS), "task_definitions": definitions}


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
                elif request.path == "/_harness/state":
                    answer = state(request.args.get("cluster", ""))
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
        with LOCK:
            REQUESTS.append(target.split(".")[-1] or request.path)
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
    print(json.dumps({"port": PORT}), flush=True)
    sys.stdin.read()  # returns when the test closes our stdin or exits
    server.shutdown()


if __name__ == "__main__":
    main()
