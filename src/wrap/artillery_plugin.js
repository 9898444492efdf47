'use strict';
// ecs-loadtest's plugin for Artillery, loaded into each of Artillery's workers by the wrapper
// (ARTILLERY_PLUGIN_PATH and ARTILLERY_PLUGINS; the script is not changed). In each worker it:
//
// - gives this task its share of every phase (TASK_INDEX of TASK_COUNT): `arrivalRate`, `rampTo`,
//   `arrivalCount` and `maxVusers` by the split rule (task i gets floor(total / N), plus one if
//   i < total mod N), so the tasks' shares add up to the script's numbers; durations and pauses
//   are every task's;
// - holds the worker's start until START_AT, so that every task's load begins together;
// - writes every response and error to the wrapper's pipe (ECS_LOADTEST_SAMPLES), one line each:
//
//       start<TAB>EPOCH_MS                          once a worker, when its load begins
//       NAME<TAB>MILLISECONDS<TAB>STATUS<TAB>ERROR   a request (STATUS 0: no answer; ERROR empty: it passed)
//
//   MILLISECONDS is the time from the request being made to its response read, to the
//   microsecond (Artillery's own figures are whole milliseconds to the first byte). Each line is
//   one write below the pipe's atomic size, so the lines of several workers never interleave.

const fs = require('fs');

const split = (total, index, count) => {
  const number = Number(total);
  if (!Number.isFinite(number)) {
    return total;
  }
  if (!Number.isInteger(number)) {
    return number / count;
  }
  return Math.floor(number / count) + (index < number % count ? 1 : 0);
};

const clean = (text) => String(text).replace(/[\t\r\n]/g, ' ');

function sharePhases(phases, index, count) {
  return (phases || []).map((phase) => {
    const mine = Object.assign({}, phase);
    for (const key of ['arrivalRate', 'rampTo', 'arrivalCount']) {
      if (mine[key] !== undefined) {
        mine[key] = split(mine[key], index, count);
      }
    }
    if (mine.maxVusers !== undefined) {
      // A cap of 0 would skip every arrival: each task keeps at least one.
      mine.maxVusers = Math.max(1, split(mine.maxVusers, index, count));
    }
    return mine;
  });
}

// A pause phase that lasts until START_AT from when Artillery starts its phases, not from when
// the script was read (the workers read it, then wait for each other, then start). Artillery
// reads a phase's `pause` once, when it starts the phases (through a deep copy that keeps an
// object's prototype, so this getter is read then), accepts it as a duration string, and then
// sets the number it made of it; `began` runs when the pause ends, with the load.
// The phase has no state of its own (Artillery posts phases between threads, which copies no
// function): when to start and what to do then are this worker's, below.
// Artillery reads `pause` several times before it sets it: the first read decides.
let hold = { startAt: 0, began: () => {}, pause: undefined };

class HoldUntil {
  get pause() {
    if (hold.pause === undefined) {
      const wait = Math.max(1, hold.startAt - Date.now());
      setTimeout(hold.began, wait);
      hold.pause = `${wait}ms`;
    }
    return hold.pause;
  }

  set pause(seconds) {
    Object.defineProperty(this, 'pause', { value: seconds, writable: true, enumerable: true });
  }
}

function EcsLoadtest(script, _events) {
  // Artillery also loads plugins in its main thread, with a copy of the script: only the
  // workers run the load.
  if (typeof process.env.LOCAL_WORKER_ID === 'undefined' || !process.env.ECS_LOADTEST_SAMPLES) {
    return;
  }
  const index = Number(process.env.TASK_INDEX || 0);
  const count = Math.max(1, Number(process.env.TASK_COUNT || 1));
  script.config.phases = sharePhases(script.config.phases, index, count);

  const samples = fs.openSync(process.env.ECS_LOADTEST_SAMPLES, 'a');
  const write = (line) => fs.writeSync(samples, line);
  const startAt = Number(process.env.START_AT || 0);
  if (startAt > 0) {
    hold = { startAt, began: () => write(`start\t${Date.now()}\n`), pause: undefined };
    script.config.phases.unshift(new HoldUntil());
  } else {
    write(`start\t${Date.now()}\n`);
  }

  const started = new WeakMap();
  const nameOf = (request) => {
    if (request.name) {
      return clean(request.name);
    }
    const url = String(request.url || request.uri || '');
    return clean(url.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/\?.*$/, '') || '/');
  };
  // Once a request: a failed capture runs the error hooks and then the response hooks.
  const record = (request, status, error) => {
    const at = started.get(request);
    if (at === undefined) {
      return;
    }
    started.delete(request);
    const milliseconds = (Number(process.hrtime.bigint() - at) / 1e6).toFixed(3);
    write(`${nameOf(request)}\t${milliseconds}\t${status}\t${error}\n`);
  };

  const processor = typeof script.config.processor === 'object' && script.config.processor
    ? script.config.processor
    : (script.config.processor = {});
  processor.ecsLoadtestBeforeRequest = (request, _context, _ee, done) => {
    started.set(request, process.hrtime.bigint());
    done();
  };
  processor.ecsLoadtestAfterResponse = (request, response, _context, _ee, done) => {
    const status = Number(response.statusCode) || 0;
    record(request, status, status >= 400 ? `HTTP ${status}` : '');
    done();
  };
  processor.ecsLoadtestOnError = (error, request, _context, _ee, done) => {
    record(request, 0, clean(error.code || error.name || 'Error'));
    done();
  };
  for (const scenario of script.scenarios || []) {
    scenario.beforeRequest = [].concat(scenario.beforeRequest || [], 'ecsLoadtestBeforeRequest');
    scenario.afterResponse = [].concat(scenario.afterResponse || [], 'ecsLoadtestAfterResponse');
    scenario.onError = [].concat(scenario.onError || [], 'ecsLoadtestOnError');
  }
}

// Artillery's second plugin interface: `Plugin` gets the whole script.
module.exports = { Plugin: EcsLoadtest, sharePhases };
