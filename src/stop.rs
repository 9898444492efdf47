//! Stopping tasks: at the timeout, on a signal, and after any error once tasks have started.

use tokio::task::JoinSet;

use crate::backend::Backend;
use crate::event::{Event, Events};
use crate::launch::StartedTasks;
use crate::outcome::StopCause;

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

/// Stops everything this run started: the tasks it knows, and any task still marked as this
/// run's (a start whose answer was cut off by a signal still started its task).
pub async fn stop_run<B: Backend>(
    backend: &B,
    started: &StartedTasks,
    cause: StopCause,
    reason: &str,
    events: &Events,
) {
    let mut ids: Vec<String> = started.snapshot().into_iter().map(|task| task.id).collect();
    match backend.leftovers().await {
        Ok(running) => {
            for id in running {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Err(error) => events.warning(format!("could not list this run's tasks: {error:#}")),
    }
    if ids.is_empty() {
        return;
    }
    let stopped = stop_tasks(backend, &ids, cause, reason, events).await;
    events.send(Event::Stopped {
        stopped,
        total: ids.len(),
        reason: reason.to_string(),
    });
}
