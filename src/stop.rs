//! Stopping tasks: at the timeout, on a signal, and after any error once tasks have started.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::backend::Backend;
use crate::event::{Event, Events};
use crate::launch::StartedTasks;
use crate::outcome::StopCause;
use crate::plan::Plan;

/// Stops every task in `ids` at once (the runner kills the container seconds after a cancel), and
/// returns how many stop requests succeeded. A failure is reported: one task that cannot be
/// stopped must not keep the others running.
pub async fn stop_tasks<B: Backend>(
    backend: &B,
    ids: &[String],
    cause: StopCause,
    reason: &str,
    events: &Events,
) -> usize {
    let mut requests = JoinSet::new();
    for id in ids {
        let backend = backend.clone();
        let id = id.clone();
        let reason = reason.to_string();
        requests.spawn(async move {
            let result = backend.stop(&id, cause, &reason).await;
            (id, result)
        });
    }
    let mut stopped = 0;
    while let Some(joined) = requests.join_next().await {
        match joined {
            Ok((_, Ok(()))) => stopped += 1,
            Ok((id, Err(error))) => events.send(Event::StopFailed {
                task: backend.short_id(&id).to_string(),
                error: format!("{error:#}"),
            }),
            Err(error) => events.send(Event::StopFailed {
                task: String::new(),
                error: error.to_string(),
            }),
        }
    }
    stopped
}

/// How long stopping waits for start requests still in flight to be answered.
const START_SETTLE: Duration = Duration::from_secs(15);

/// Stops everything this run started: the tasks it knows, and any task still marked as this
/// run's (a start whose answer was cut off by a signal still started its task). What is known is
/// stopped at once (the runner kills the step seconds after a cancel); then, if start requests
/// were in flight, their answers are awaited and what they started is stopped too, with a
/// second look for the run's tasks (the service may have applied a request only now).
pub async fn stop_run<B: Backend>(
    backend: &B,
    started: &StartedTasks,
    cause: StopCause,
    reason: &str,
    events: &Events,
) {
    let mut asked = Vec::new();
    let starting = started.starting();
    let mut stopped = stop_unasked(backend, started, &mut asked, cause, reason, events).await;
    if starting {
        if !started.settle(START_SETTLE).await {
            events.warning(format!(
                "some start requests were still unanswered after {} s; the post step looks for their tasks",
                START_SETTLE.as_secs()
            ));
        }
        stopped += stop_unasked(backend, started, &mut asked, cause, reason, events).await;
    }
    if asked.is_empty() {
        return;
    }
    events.send(Event::Stopped {
        stopped,
        total: asked.len(),
        reason: reason.to_string(),
    });
}

/// Stops the run's tasks, known or listed, that are not in `asked` yet, and adds them to it.
async fn stop_unasked<B: Backend>(
    backend: &B,
    started: &StartedTasks,
    asked: &mut Vec<String>,
    cause: StopCause,
    reason: &str,
    events: &Events,
) -> usize {
    let mut ids: Vec<String> = started.snapshot().into_iter().map(|task| task.id).collect();
    match backend.leftovers().await {
        Ok(listed) => {
            ids.extend(listed.ids);
            for failure in listed.failures {
                events.warning(format!("could not list this run's tasks: {failure}"));
            }
        }
        Err(error) => events.warning(format!("could not list this run's tasks: {error:#}")),
    }
    ids.retain(|id| !asked.contains(id));
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return 0;
    }
    asked.extend(ids.iter().cloned());
    stop_tasks(backend, &ids, cause, reason, events).await
}

/// A re-run's first duty: tasks of the workflow run's earlier attempts that are still running
/// were left by a step that was killed (a re-run is only possible once every attempt ended), and
/// they still load the target. They are stopped, and the run says so. Listing them is best
/// effort: a failure is a warning and the run goes on.
pub async fn sweep_earlier_attempts<B: Backend>(backend: &B, plan: &Plan, events: &Events) {
    let identity = &plan.identity;
    for mark in &identity.earlier_attempts {
        let running = match backend.marked(mark).await {
            Ok(listed) => {
                for failure in &listed.failures {
                    events.warning(format!(
                        "could not look for tasks that an earlier attempt of this run left running: {failure}"
                    ));
                }
                listed.ids
            }
            Err(error) => {
                events.warning(format!(
                    "could not look for tasks that an earlier attempt of this run left running: {error:#}"
                ));
                return;
            }
        };
        if running.is_empty() {
            continue;
        }
        let reason = format!(
            "ecs-loadtest: left running by an earlier attempt, stopped by {}",
            identity.description
        );
        let stopped = stop_tasks(backend, &running, StopCause::Cancelled, &reason, events).await;
        events.warning(format!(
            "stopped {stopped} of {} task(s) started by `{mark}` (an earlier attempt of this workflow run) that were still running {}",
            running.len(),
            backend.place()
        ));
    }
}
