//! What a task ended with, in words every backend shares: each backend maps its own reports
//! (stop codes, a container's state) onto these.

use serde::Serialize;

/// Why this run stopped a task itself, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    Timeout,
    Cancelled,
    Error,
}

impl StopCause {
    /// What a task this run stopped ended as, whatever it reported.
    pub fn outcome(self, reason: String) -> TaskOutcome {
        let kind = match self {
            StopCause::Timeout => OutcomeKind::TimedOut,
            StopCause::Cancelled => OutcomeKind::Cancelled,
            StopCause::Error => OutcomeKind::Aborted,
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

    /// The backend (`service`, its name in messages) stopped reporting the task.
    pub fn missing(service: &str) -> Self {
        TaskOutcome {
            kind: OutcomeKind::Missing,
            exit_code: None,
            reason: format!("{service} no longer reports this task"),
        }
    }
}
