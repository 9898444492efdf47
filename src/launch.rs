//! Starting every task of the plan, and remembering each one the moment it starts.

use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use rand::Rng;
use tokio::task::JoinSet;

use crate::backend::{Backend, Start};
use crate::gha::Gha;
use crate::plan::Plan;

/// Requests in flight at once; RunTask's API rate is limited per account and region, and the
/// adaptive retry of the client slows down further when ECS throttles.
const CONCURRENT_STARTS: usize = 10;

/// A task this run started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedTask {
    pub index: usize,
    pub id: String,
}

/// Every task started so far, shared with whatever has to stop them (signals, errors).
#[derive(Debug, Clone, Default)]
pub struct StartedTasks(Arc<Mutex<Vec<StartedTask>>>);

impl StartedTasks {
    fn add(&self, task: StartedTask) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(task);
    }

    /// The started tasks, ordered by index.
    pub fn snapshot(&self) -> Vec<StartedTask> {
        let mut tasks = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        tasks.sort_by_key(|task| task.index);
        tasks
    }
}

/// Starts all tasks of `plan`. When any task cannot be started, the ones not yet requested are not
/// requested, every refusal is reported, and an error is returned; the caller stops what started.
pub async fn launch<B: Backend>(
    backend: &B,
    plan: &Plan,
    started: &StartedTasks,
    gha: &Gha,
) -> Result<()> {
    let task_count = plan.task_count();
    gha.line(&format!(
        "Starting {task_count} task{} in cluster `{}`",
        if task_count == 1 { "" } else { "s" },
        plan.cluster
    ));
    // One nonce per launch: a retried RunTask reuses its token and cannot start a second task,
    // while two runs (or two steps of one job) never share tokens.
    let nonce = format!("{:016x}", rand::rng().random::<u64>());
    let mut problems = Vec::new();
    for batch in plan.tasks.chunks(CONCURRENT_STARTS) {
        let mut requests = JoinSet::new();
        for spec in batch {
            let backend = backend.clone();
            let spec = spec.clone();
            let token = format!("ecs-loadtest-{nonce}-{}", spec.index);
            requests.spawn(async move {
                let answer = backend.start(&spec, &token).await;
                (spec.index, answer)
            });
        }
        while let Some(joined) = requests.join_next().await {
            let (index, answer) = joined?;
            let label = format!("task {}/{task_count}", index + 1);
            match answer {
                Ok(Start::Started { id }) => started.add(StartedTask { index, id }),
                Ok(Start::Refused {
                    arn,
                    reason,
                    detail,
                }) => problems.push(format!(
                    "RunTask refused {label}: {}reason {reason}{}",
                    arn.map(|arn| format!("{arn}: ")).unwrap_or_default(),
                    detail
                        .map(|detail| format!(", detail {detail}"))
                        .unwrap_or_default()
                )),
                Err(error) => problems.push(format!("{label}: {error:#}")),
            }
        }
        if !problems.is_empty() {
            break;
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            gha.error(problem);
        }
        let started_count = started.snapshot().len();
        bail!(
            "{} of {task_count} tasks could not be started ({started_count} started and will be stopped)",
            task_count - started_count
        );
    }
    Ok(())
}
