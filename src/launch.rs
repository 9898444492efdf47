//! Starting every task of the plan, and remembering each one the moment it starts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use rand::Rng;
use tokio_util::task::TaskTracker;

use crate::backend::{Backend, Start};
use crate::event::{Event, Events};
use crate::plan::{EnvVar, Plan};
use crate::task::{TaskNumber, TaskRef};

/// Requests in flight at once; the backends' APIs limit their rate per account and region, and
/// their clients' retry slows down further when throttled.
const CONCURRENT_STARTS: usize = 10;

/// Every task started so far, shared with whatever has to stop them (signals, errors), and the
/// start requests still in flight. A start request outlives the launch when a signal ends it:
/// the service may already have applied it, so its answer is still awaited and what it started
/// is recorded here, to be stopped.
#[derive(Debug, Clone, Default)]
pub struct StartedTasks {
    tasks: Arc<Mutex<Vec<TaskRef>>>,
    starts: TaskTracker,
}

impl StartedTasks {
    fn add(&self, task: TaskRef) {
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(task);
    }

    /// Whether start requests are still in flight.
    pub fn starting(&self) -> bool {
        !self.starts.is_empty()
    }

    /// Waits, at most `limit`, for the start requests in flight to be answered; false if some
    /// were not.
    pub async fn settle(&self, limit: Duration) -> bool {
        self.starts.close();
        tokio::time::timeout(limit, self.starts.wait())
            .await
            .is_ok()
    }

    /// The started tasks, ordered by index.
    pub fn snapshot(&self) -> Vec<TaskRef> {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        tasks.sort_by_key(TaskRef::index);
        tasks
    }
}

/// Starts all tasks of `plan`. When any task cannot be started, the ones not yet requested are not
/// requested, every refusal is reported, and an error is returned; the caller stops what started.
pub async fn launch<B: Backend>(
    backend: &B,
    plan: &Plan,
    started: &StartedTasks,
    events: &Events,
) -> Result<()> {
    let task_count = plan.task_count();
    // A tester that takes long to start (a JVM, Node.js loading Artillery) gets at least that
    // long, so that a busy machine's tasks are not late.
    let default = match &plan.image {
        crate::plan::ImageSource::Script(script) => {
            B::DEFAULT_START_DELAY.max(script.tool.start_time())
        }
        _ => B::DEFAULT_START_DELAY,
    };
    let start_delay = plan
        .load
        .start_delay_seconds
        .map_or(default, Duration::from_secs);
    // Every task gets the same START_AT, so that their load begins together however far apart
    // they start.
    let start_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(start_delay)
        .as_millis() as u64;
    events.send(Event::Launching {
        task_count,
        place: backend.place(),
        start_delay,
    });
    // One nonce per launch: a retried start reuses its token and cannot start a second task,
    // while two runs (or two steps of one job) never share tokens.
    let nonce = format!("{:016x}", rand::rng().random::<u64>());
    let mut failed = 0;
    let order = plan.launch_order();
    for batch in order.chunks(CONCURRENT_STARTS) {
        let mut requests = Vec::with_capacity(batch.len());
        for spec in batch {
            let backend = backend.clone();
            let record = started.clone();
            let mut spec = (*spec).clone();
            spec.environment
                .push(EnvVar::new("START_AT", start_at_ms.to_string()));
            let token = format!("ecs-loadtest-{nonce}-{}", spec.index);
            // Tracked, not owned by this future: a signal that drops the launch leaves the
            // request to finish and record its task.
            requests.push(started.starts.spawn(async move {
                let answer = backend.start(&spec, &token).await;
                if let Ok(Start::Started { id }) = &answer {
                    record.add(TaskRef {
                        number: TaskNumber {
                            index: spec.index,
                            count: task_count,
                        },
                        short_id: backend.short_id(id).to_string(),
                        region: spec.region.clone(),
                        id: id.clone(),
                    });
                }
                (spec.index, answer)
            }));
        }
        for request in requests {
            let (index, answer) = request.await?;
            let number = TaskNumber {
                index,
                count: task_count,
            };
            let (refused_by, reason) = match answer {
                Ok(Start::Started { .. }) => continue,
                Ok(Start::Refused { by, reason }) => (by, reason),
                Err(error) => (String::new(), format!("{error:#}")),
            };
            failed += 1;
            events.send(Event::StartFailed {
                task: number,
                refused_by,
                reason,
            });
        }
        if failed > 0 {
            break;
        }
    }
    if failed > 0 {
        let started_count = started.snapshot().len();
        bail!(
            "{} of {task_count} tasks could not be started ({started_count} started and will be stopped)",
            task_count - started_count
        );
    }
    Ok(())
}
