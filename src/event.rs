//! What the workers (backend preparation, launcher, watcher, log sources) have to say. They send
//! events; the reporting layer decides how a person sees them.

use std::sync::Arc;

use crate::task::{FinishedTask, TaskNumber, TaskRef};

#[derive(Debug, Clone)]
pub enum Event {
    /// The run begins: `task_count` tasks on `backend` (`cluster `load` · task definition …`),
    /// for `run` (the workflow run's name).
    Begin {
        backend: String,
        task_count: usize,
        run: String,
    },
    /// A step of the run worth a line (credentials checked, an image registered, …).
    Info(String),
    Notice(String),
    Warning(String),
    /// Tasks are about to be started `place` (`in cluster `load``); their load begins
    /// `start_delay` from now.
    Launching {
        task_count: usize,
        place: String,
        start_delay: std::time::Duration,
    },
    /// A task could not be started: `refused_by` (an API call) said `reason`, or the request
    /// failed (`refused_by` empty).
    StartFailed {
        task: TaskNumber,
        refused_by: String,
        reason: String,
    },
    /// The backend's word for a task's state changed (PENDING, RUNNING, …).
    Status {
        task: TaskRef,
        status: String,
    },
    Finished {
        task: FinishedTask,
        console_url: Option<String>,
    },
    /// `timeout-minutes` passed with `running` tasks still running; they are being stopped.
    TimeoutReached {
        reason: String,
        running: usize,
    },
    /// Stopping one task failed; the others are still stopped.
    StopFailed {
        task: String,
        error: String,
    },
    /// This run stopped `stopped` of `total` tasks for `reason`.
    Stopped {
        stopped: usize,
        total: usize,
        reason: String,
    },
}

/// Where events go. Cheap to clone into spawned workers.
#[derive(Clone)]
pub struct Events(Arc<dyn Fn(Event) + Send + Sync>);

impl Events {
    pub fn new(report: impl Fn(Event) + Send + Sync + 'static) -> Self {
        Events(Arc::new(report))
    }

    pub fn send(&self, event: Event) {
        (self.0)(event)
    }

    pub fn info(&self, text: impl Into<String>) {
        self.send(Event::Info(text.into()))
    }

    pub fn warning(&self, text: impl Into<String>) {
        self.send(Event::Warning(text.into()))
    }
}
