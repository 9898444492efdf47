//! Where tasks run, behind one trait for the whole life of a run. A backend is a folder here, and
//! `dispatch.rs` is the one place that names each one; the trait and `configure` know none.

pub mod dispatch;
mod fargate;
mod local;

use std::future::Future;

use serde::Serialize;

use crate::cost::{Prices, Usage};
use crate::event::Events;
use crate::gha::Gha;
use crate::input_error::{Ignored, InvalidInputs, Problems};
use crate::inputs::Inputs;
use crate::logs::LogSource;
use crate::outcome::{StopCause, TaskOutcome};
use crate::plan::{self, ImageSource, Plan, ScriptPlan, TaskSpec};
use crate::task::TaskLinks;
use crate::workflow::WorkflowEnv;
use crate::wrap::ScriptThreshold;

/// The answer to starting one task.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Started {
        id: String,
    },
    /// `by` (the call that was refused, such as RunTask) started no task, for `reason`.
    Refused {
        by: String,
        reason: String,
    },
}

/// One task as the backend sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: String,
    /// The backend's own word: PROVISIONING, PENDING, RUNNING, STOPPED, ….
    pub status: String,
    /// Set once the task has ended.
    pub outcome: Option<TaskOutcome>,
    /// How long the task ran, when known.
    pub run_seconds: Option<i64>,
    /// What the backend bills for the task, once it has ended (none on backends that do not bill).
    pub usage: Option<Usage>,
}

/// What one poll saw: the tasks' snapshots, and the tasks it could not ask about because their
/// region's service did not answer (after its own retries), with why. Those are asked about again
/// at the next poll, not counted as gone.
#[derive(Debug, Default)]
pub struct Polled {
    pub snapshots: Vec<Snapshot>,
    pub unanswered: Vec<Unanswered>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unanswered {
    /// Where the tasks are (a region): said once while it does not answer.
    pub place: String,
    pub ids: Vec<String>,
    /// The error, naming the region and the call.
    pub error: String,
}

/// Tasks a listing found, and the places that could not be listed (each error names its place):
/// one place that does not answer must not keep the others' tasks from being stopped.
#[derive(Debug, Default)]
pub struct Listed {
    pub ids: Vec<String>,
    pub failures: Vec<String>,
}

/// Something the backend prepared for the run: named in the report, set as a step output.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub output: &'static str,
    pub label: &'static str,
    pub value: String,
}

pub trait Backend: Clone + Send + Sync + Sized + 'static {
    /// The inputs only this backend reads, validated.
    type Settings: Serialize + Send + Sync + 'static;
    type Logs: LogSource;
    /// Who reports on the tasks, in messages (`ECS`).
    const SERVICE: &'static str;
    /// `START_AT` is the launch time plus this unless `start-delay` says otherwise: long enough
    /// for a typical task to start and pull its image, so that every task's load overlaps.
    const DEFAULT_START_DELAY: std::time::Duration;

    /// Reads the inputs only this backend reads, noting every problem, and in `ignored` the
    /// inputs it does not use because `image` is given; `None` when a problem was found.
    /// `regions` are the regions the `regions` input names, in its order (none: one region).
    fn settings(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        regions: &[String],
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Self::Settings>;

    /// Where the run's tasks go, for its first line (`cluster `load` · task definition `tester``).
    /// What the post step's cleanup needs to find and stop this run's tasks, read from the
    /// inputs with nothing else checked.
    fn cleanup_settings(
        inputs: &Inputs,
        regions: &[String],
        problems: &mut Problems,
    ) -> Option<Self::Settings>;

    fn describe(settings: &Self::Settings) -> String;
    /// Everything before the first task starts: credentials, the image, whatever the backend
    /// registers. `gha` shows the image build live and masks registry credentials.
    fn prepare(
        settings: Self::Settings,
        plan: &Plan,
        gha: &Gha,
        events: &Events,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;
    /// A backend that only looks after the tasks of a run already started (cleanup).
    fn attach(
        settings: Self::Settings,
        plan: &Plan,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;
    /// Where tasks are started, in a sentence (`in cluster `load``).
    fn place(&self) -> String;
    /// What `prepare` made: the image the tasks run, and the like.
    fn resources(&self) -> Vec<Resource>;
    /// Starts one task with its own environment. `token` makes a retried request idempotent.
    fn start(
        &self,
        spec: &TaskSpec,
        token: &str,
    ) -> impl Future<Output = anyhow::Result<Start>> + Send;
    /// The current state of these tasks; tasks the backend no longer knows are left out. An error
    /// when nothing could be asked; the tasks of a place that did not answer are `unanswered`.
    fn poll(&self, ids: &[String]) -> impl Future<Output = anyhow::Result<Polled>> + Send;
    /// Stops one task; once it has ended it ends as `cause` says, whatever it reported.
    fn stop(
        &self,
        id: &str,
        cause: StopCause,
        reason: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Tasks of this run still running by the backend's own records, found by the run's mark,
    /// including any whose start this process never saw answered.
    fn leftovers(&self) -> impl Future<Output = anyhow::Result<Listed>> + Send;
    /// Tasks still running that carry `mark`, another run attempt's: whoever started them,
    /// nobody is left to stop them. A backend removes what such a task leaves once it is stopped.
    fn marked(&self, mark: &str) -> impl Future<Output = anyhow::Result<Listed>> + Send;
    /// Removes what the run leaves behind once its tasks have ended and their logs were read
    /// (containers, for one), saying so in `events`; never fails the run.
    fn release(&self, events: &Events) -> impl Future<Output = ()> + Send;
    /// A k6 script's thresholds, as `k6 inspect` reads them where the tasks run k6 (on this
    /// machine, or in the image `prepare` made); an error with k6's words when it refuses the
    /// script.
    fn script_thresholds(
        &self,
        k6: &ScriptPlan,
    ) -> impl Future<Output = anyhow::Result<Vec<ScriptThreshold>>> + Send;
    /// Where the tasks' logs are read, or why they cannot be.
    fn log_source(&self) -> Result<Self::Logs, String>;
    fn links(&self, id: &str) -> TaskLinks;
    /// Prices for the cost estimate, one set a place (`Usage::place`); `None` on a backend that
    /// does not bill.
    fn prices(&self) -> impl Future<Output = Option<Vec<Prices>>> + Send;
    /// The part of a task's id that people read.
    fn short_id<'a>(&self, id: &'a str) -> &'a str;
}

/// Every input, validated: the plan every backend shares and the backend's own settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Configured<S> {
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(flatten)]
    pub settings: S,
}

/// Validates every input for backend `B` and reports every problem at once.
pub fn configure<B: Backend>(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
) -> Result<Configured<B::Settings>, InvalidInputs> {
    let mut problems = Problems::default();
    let mut ignored = Ignored::default();
    let mut plan = plan::plan(inputs, workflow, &mut problems, &mut ignored);
    let image = plan.as_ref().map(|plan| &plan.image);
    // Without a plan (a problem was noted) the names are read again, their problems already said.
    let regions: Vec<String> = match &plan {
        Some(plan) => plan
            .regions
            .iter()
            .map(|region| region.name.clone())
            .collect(),
        None => plan::region_names(inputs, &mut Problems::default()),
    };
    let settings = B::settings(inputs, image, &regions, &mut problems, &mut ignored);
    if let Some(plan) = plan.as_mut() {
        plan.notices.extend(ignored.notices());
    }
    let configured = plan
        .zip(settings)
        .map(|(plan, settings)| Configured { plan, settings });
    problems.finish(configured)
}

/// What runs once the backend is chosen: the `run`, `plan` and `cleanup` commands.
/// Like `configure`, for the post step: only what cleanup needs is read and validated (the
/// backend's place, the region, `wait`, the run's identity).
pub fn configure_cleanup<B: Backend>(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
) -> Result<Configured<B::Settings>, InvalidInputs> {
    let mut problems = Problems::default();
    let plan = plan::cleanup_plan(inputs, workflow, &mut problems);
    let regions: Vec<String> = plan
        .regions
        .iter()
        .map(|region| region.name.clone())
        .collect();
    let settings = B::cleanup_settings(inputs, &regions, &mut problems);
    problems.finish(settings.map(|settings| Configured { plan, settings }))
}

pub trait Pipeline {
    type Output;
    fn with<B: Backend>(self) -> impl Future<Output = Self::Output>;
}

#[cfg(test)]
mod tests;
