//! Waiting for every started task to stop, with one DescribeTasks call per poll for up to 100
//! tasks, and stopping them at the timeout.
//!
//! No waiter is used: ECS's tasks-running waiter fails on a short task that goes from
//! PROVISIONING straight to STOPPED, which is normal for a load test that fails fast.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use tokio::time::{Instant, sleep_until};

use crate::backend::Backend;
use crate::backend::fargate::task_id;
use crate::gha::Gha;
use crate::launch::StartedTask;
use crate::outcome::{StopCause, TaskOutcome, classify};
use crate::report::task_line;

const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// After StopTask at the timeout, how long to wait for the tasks to report STOPPED.
const STOP_GRACE: Duration = Duration::from_secs(120);
/// ECS is eventually consistent: a task just started may be missing from DescribeTasks for a
/// moment. Only a task missing this many polls in a row counts as gone.
const MISSING_POLLS: u32 = 5;

/// How one task ended.
#[derive(Debug, Clone)]
pub struct FinishedTask {
    pub index: usize,
    pub id: String,
    pub outcome: TaskOutcome,
    pub run_seconds: Option<i64>,
}

struct Watched {
    task: StartedTask,
    status: String,
    missing_polls: u32,
    finished: Option<FinishedTask>,
}

impl Watched {
    fn finish(
        &mut self,
        outcome: TaskOutcome,
        run_seconds: Option<i64>,
        on_finished: &mut dyn FnMut(&FinishedTask),
    ) {
        let finished = FinishedTask {
            index: self.task.index,
            id: self.task.id.clone(),
            outcome,
            run_seconds,
        };
        on_finished(&finished);
        self.finished = Some(finished);
    }
}

/// What the watcher needs to know beside the tasks.
#[derive(Debug, Clone, Copy)]
pub struct WatchSettings<'a> {
    pub task_count: usize,
    /// The container whose exit code counts first.
    pub main_container: &'a str,
    /// When the tasks still running are stopped and end as timed out.
    pub deadline: Instant,
    /// The StopTask reason given at the deadline.
    pub timeout_reason: &'a str,
}

/// Polls until every task has stopped. At the deadline the tasks still running are stopped and
/// end as timed out. `on_finished` hears of each task as it ends. Returns one `FinishedTask` per
/// task, ordered by index.
pub async fn watch<B: Backend>(
    backend: &B,
    tasks: Vec<StartedTask>,
    settings: &WatchSettings<'_>,
    gha: &Gha,
    on_finished: &mut dyn FnMut(&FinishedTask),
) -> Result<Vec<FinishedTask>> {
    let WatchSettings {
        task_count,
        main_container,
        deadline,
        timeout_reason,
    } = *settings;
    let mut watched: BTreeMap<String, Watched> = tasks
        .into_iter()
        .map(|task| {
            let watched = Watched {
                task: task.clone(),
                status: String::new(),
                missing_polls: 0,
                finished: None,
            };
            (task.id, watched)
        })
        .collect();
    let mut stop_cause: Option<StopCause> = None;
    let mut grace_end: Option<Instant> = None;

    loop {
        let open: Vec<String> = watched
            .values()
            .filter(|entry| entry.finished.is_none())
            .map(|entry| entry.task.id.clone())
            .collect();
        if open.is_empty() {
            break;
        }
        let mut snapshots = backend.describe(&open).await?;
        snapshots.sort_by_key(|snapshot| watched.get(&snapshot.id).map(|entry| entry.task.index));
        let mut seen = Vec::with_capacity(snapshots.len());
        for snapshot in snapshots {
            let Some(entry) = watched.get_mut(&snapshot.id) else {
                continue;
            };
            seen.push(snapshot.id.clone());
            entry.missing_polls = 0;
            if entry.finished.is_some() {
                continue;
            }
            let label = format!(
                "Task {}/{task_count} · {}",
                entry.task.index + 1,
                task_id(&entry.task.id)
            );
            if snapshot.status != entry.status {
                gha.line(&format!("{label} · {}", snapshot.status));
                entry.status = snapshot.status.clone();
            }
            if let Some(stopped) = &snapshot.stopped {
                let outcome = classify(stopped, main_container, stop_cause);
                entry.finish(outcome, snapshot.run_seconds, &mut |finished| {
                    gha.line(&task_line(
                        finished,
                        task_count,
                        backend.task_url(&finished.id).as_deref(),
                    ));
                    on_finished(finished);
                });
            }
        }
        for id in open.iter().filter(|id| !seen.contains(id)) {
            if let Some(entry) = watched.get_mut(id) {
                entry.missing_polls += 1;
                if entry.missing_polls >= MISSING_POLLS {
                    entry.finish(TaskOutcome::missing(), None, on_finished);
                }
            }
        }

        let now = Instant::now();
        if stop_cause.is_none() && now >= deadline {
            stop_cause = Some(StopCause::Timeout);
            grace_end = Some(now + STOP_GRACE);
            let running: Vec<String> = watched
                .values()
                .filter(|entry| entry.finished.is_none())
                .map(|entry| entry.task.id.clone())
                .collect();
            gha.error(&format!(
                "{timeout_reason}: stopping {} running task(s)",
                running.len()
            ));
            crate::stop::stop_tasks(backend, &running, timeout_reason, gha).await;
        }
        if let Some(grace_end) = grace_end
            && now >= grace_end
        {
            for entry in watched
                .values_mut()
                .filter(|entry| entry.finished.is_none())
            {
                let outcome = classify(
                    &Default::default(),
                    main_container,
                    Some(StopCause::Timeout),
                );
                entry.finish(outcome, None, on_finished);
            }
            continue;
        }
        // Poll again soon, and exactly at the deadline if it comes first.
        let next_poll = Instant::now() + POLL_INTERVAL;
        let wake = if stop_cause.is_none() {
            next_poll.min(deadline)
        } else {
            next_poll
        };
        sleep_until(wake).await;
    }

    let mut finished: Vec<FinishedTask> = watched
        .into_values()
        .filter_map(|entry| entry.finished)
        .collect();
    finished.sort_by_key(|task| task.index);
    Ok(finished)
}
