"""ecs-loadtest's hook for Locust, loaded beside the user's locustfile (`-f theirs.py,this.py`).

It waits until START_AT before the users start, so that every task's load begins together; gives a
LoadTestShape this task's share of the users at each step (TASK_INDEX of TASK_COUNT, by the split
rule: task i gets floor(users / N), plus one if i < users mod N, so the tasks add up to the shape's
users at every step; the spawn rate in proportion); and writes every request Locust records to the
wrapper's pipe (ECS_LOADTEST_SAMPLES), one line each:

    start<TAB>EPOCH_MS                         once, when the load begins
    NAME<TAB>MILLISECONDS<TAB>STATUS<TAB>ERROR  a request (STATUS 0: no answer; ERROR empty: it passed)

The wrapper folds each into an HdrHistogram: no response time is rounded here.
"""

import os
import sys
import time

from locust import events

_samples = None


def _clean(text):
    return str(text).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _refuse(why):
    sys.stderr.write(f"ecs-loadtest: {why}\n")
    sys.stderr.flush()
    os._exit(3)


def _share_the_shape(shape):
    """Makes `shape.tick()` give this task's share of each step's users."""
    index = int(os.environ.get("TASK_INDEX", "0") or 0)
    count = max(1, int(os.environ.get("TASK_COUNT", "1") or 1))
    whole_tick = shape.tick
    said = [None]

    def tick():
        step = whole_tick()
        if step is None:
            return None
        users, rate = int(step[0]), float(step[1])
        mine = users // count + (1 if index < users % count else 0)
        # The spawn rate in proportion to the users; a task with none keeps a rate above zero.
        my_rate = rate * mine / users if mine else rate / count
        if said[0] != (users, mine):
            said[0] = (users, mine)
            sys.stderr.write(
                f"ecs-loadtest: shape step: {users} users in all, {mine} on this task "
                f"(task {index + 1} of {count})\n"
            )
            sys.stderr.flush()
        return (mine, my_rate) + tuple(step[2:])

    shape.tick = tick


@events.init.add_listener
def _begin(environment, **_kwargs):
    global _samples
    users_given = os.environ.get("VUS", "").strip() != ""
    if environment.shape_class is not None:
        if users_given:
            _refuse(
                "the locustfile has a LoadTestShape, which sets the users at every step; give "
                "no `vus` or `duration` beside it (each task runs its share of the shape)"
            )
        _share_the_shape(environment.shape_class)
    elif not users_given:
        _refuse(
            "the locustfile has no LoadTestShape, so `vus` and `duration` set its load: give both"
        )
    _samples = open(os.environ["ECS_LOADTEST_SAMPLES"], "w", buffering=1 << 16)
    start_at = os.environ.get("START_AT", "").strip()
    if start_at:
        wait = int(start_at) / 1000.0 - time.time()
        if wait > 0:
            time.sleep(wait)
    _samples.write(f"start\t{int(time.time() * 1000)}\n")


@events.request.add_listener
def _request(name, response_time, response=None, exception=None, **_kwargs):
    status = getattr(response, "status_code", 0) or 0
    error = "" if exception is None else _clean(type(exception).__name__)
    _samples.write(f"{_clean(name)}\t{response_time}\t{status}\t{error}\n")


@events.quitting.add_listener
def _end(**_kwargs):
    if _samples is not None and not _samples.closed:
        _samples.close()
