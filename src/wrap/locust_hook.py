"""ecs-loadtest's hook for Locust, loaded beside the user's locustfile (`-f theirs.py,this.py`).

It waits until START_AT before the users start, so that every task's load begins together, and
writes every request Locust records to the wrapper's pipe (ECS_LOADTEST_SAMPLES), one line each:

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


@events.init.add_listener
def _begin(environment, **_kwargs):
    global _samples
    if environment.shape_class is not None:
        sys.stderr.write(
            "ecs-loadtest: a LoadTestShape sets the users of each task as if it were alone, so N "
            "tasks would send N times its load; it is refused until the shape is split across "
            "tasks (give `vus` and `duration` instead)\n"
        )
        sys.stderr.flush()
        os._exit(3)
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
