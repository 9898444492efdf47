//! What a task ended with, in words every backend shares: each backend maps its own reports
//! (stop codes, a container's state) onto these.

use serde::Serialize;

/// Why this run stopped a task itself, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    Timeout,
    Cancelled,
    Error,
    /// An `abortOnFail` threshold failed on every task's progress.
    Threshold,
}

impl StopCause {
    /// What a task this run stopped ended as, whatever it reported.
    pub fn outcome(self, reason: String) -> TaskOutcome {
        let kind = match self {
            StopCause::Timeout => OutcomeKind::TimedOut,
            StopCause::Cancelled => OutcomeKind::Cancelled,
            StopCause::Error => OutcomeKind::Aborted,
            StopCause::Threshold => OutcomeKind::ThresholdStopped,
        };
        TaskOutcome {
            kind,
            exit_code: None,
            reason,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Succeeded,
    /// The tester (or another essential container) exited non-zero or without an exit code.
    ContainerFailed,
    OutOfMemory,
    FailedToStart,
    SpotInterrupted,
    /// Stopped by someone or something other than this run.
    Stopped,
    TimedOut,
    Cancelled,
    /// Stopped by this run after an error.
    Aborted,
    /// The backend no longer knows the task.
    Missing,
    /// Stopped by this run when an `abortOnFail` threshold failed: the threshold fails the run,
    /// not the task.
    ThresholdStopped,
}

impl OutcomeKind {
    pub fn label(self) -> &'static str {
        match self {
            OutcomeKind::Succeeded => "succeeded",
            OutcomeKind::ContainerFailed => "failed",
            OutcomeKind::OutOfMemory => "out of memory",
            OutcomeKind::FailedToStart => "failed to start",
            OutcomeKind::SpotInterrupted => "spot interrupted",
            OutcomeKind::Stopped => "stopped",
            OutcomeKind::TimedOut => "timed out",
            OutcomeKind::Cancelled => "cancelled",
            OutcomeKind::Aborted => "aborted",
            OutcomeKind::Missing => "missing",
            OutcomeKind::ThresholdStopped => "stopped at a threshold",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskOutcome {
    pub kind: OutcomeKind,
    /// Exit code of the essential container that decided the outcome, when it has one.
    pub exit_code: Option<i32>,
    pub reason: String,
}

impl TaskOutcome {
    pub fn succeeded(&self) -> bool {
        self.kind == OutcomeKind::Succeeded
    }

    /// Whether the task fails the run: it did not succeed, and was not stopped because a
    /// threshold failed (which fails the run as a threshold, exit 99).
    pub fn fails(&self) -> bool {
        !self.succeeded() && self.kind != OutcomeKind::ThresholdStopped
    }

    /// The backend (`service`, its name in messages) stopped reporting the task.
    pub fn missing(service: &str) -> Self {
        TaskOutcome {
            kind: OutcomeKind::Missing,
            exit_code: None,
            reason: format!("{service} no longer reports this task"),
        }
    }
}
