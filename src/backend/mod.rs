//! Where tasks run. Fargate is the production backend; a backend that runs the same tasks on the
//! local Docker engine can implement the same trait.

pub mod fargate;

use std::future::Future;

use anyhow::Result;

use crate::outcome::StoppedTask;
use crate::plan::TaskSpec;

/// The answer to starting one task.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Started {
        id: String,
    },
    /// The backend refused to start the task (RunTask `failures[]`).
    Refused {
        arn: Option<String>,
        reason: String,
        detail: Option<String>,
    },
}

/// One task as the backend sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    /// The backend's own word: PROVISIONING, PENDING, RUNNING, STOPPED, ….
    pub status: String,
    /// Set once the task has stopped.
    pub stopped: Option<StoppedTask>,
    /// How long the task ran, when known.
    pub run_seconds: Option<i64>,
}

pub trait Backend: Clone + Send + Sync + 'static {
    /// Starts one task with its own overrides. `token` makes a retried request idempotent.
    fn start(&self, spec: &TaskSpec, token: &str) -> impl Future<Output = Result<Start>> + Send;
    /// The current state of these tasks; tasks the backend no longer knows are left out.
    fn describe(&self, ids: &[String]) -> impl Future<Output = Result<Vec<Snapshot>>> + Send;
    /// Asks the backend to stop one task.
    fn stop(&self, id: &str, reason: &str) -> impl Future<Output = Result<()>> + Send;
    /// Tasks this run started that are still running by the backend's own records, found by the
    /// run's mark (ECS `startedBy`), including any whose start this process never saw answered.
    fn running_tasks_of_run(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// A link a person can open to look at the task.
    fn task_url(&self, id: &str) -> Option<String>;
}
