//! Stopping tasks: at the timeout, on a signal, and after any error once tasks have started.

use tokio::task::JoinSet;

use crate::backend::Backend;
use crate::backend::fargate::task_id;
use crate::gha::Gha;
use crate::launch::StartedTasks;

/// Stops every task in `ids` at once (the runner kills the container seconds after a cancel), and
/// returns how many StopTask calls succeeded. Failures are reported as warnings: one task that
/// cannot be stopped must not keep the others running.
pub async fn stop_tasks<B: Backend>(backend: &B, ids: &[String], reason: &str, gha: &Gha) -> usize {
    let mut requests = JoinSet::new();
    for id in ids {
        let backend = backend.clone();
        let id = id.clone();
        let reason = reason.to_string();
        requests.spawn(async move {
            let result = backend.stop(&id, &reason).await;
            (id, result)
        });
    }
    let mut stopped = 0;
    while let Some(joined) = requests.join_next().await {
        match joined {
            Ok((_, Ok(()))) => stopped += 1,
            Ok((id, Err(error))) => {
                gha.warning(&format!("could not stop task {}: {error:#}", task_id(&id)))
            }
            Err(error) => gha.warning(&format!("a StopTask request failed: {error}")),
        }
    }
    stopped
}

/// Stops everything this run started: the tasks it knows, and any task still marked with this
/// run's `startedBy` (a RunTask whose answer was cut off by a signal still started its task).
pub async fn stop_run<B: Backend>(backend: &B, started: &StartedTasks, reason: &str, gha: &Gha) {
    let mut ids: Vec<String> = started.snapshot().into_iter().map(|task| task.id).collect();
    match backend.running_tasks_of_run().await {
        Ok(running) => {
            for id in running {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Err(error) => gha.warning(&format!("could not list this run's tasks: {error:#}")),
    }
    if ids.is_empty() {
        return;
    }
    let stopped = stop_tasks(backend, &ids, reason, gha).await;
    gha.line(&format!(
        "Stopped {stopped} of {} task(s): {reason}",
        ids.len()
    ));
}
