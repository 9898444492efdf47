//! A task's identity in this run, and how it ended.

use std::fmt;

use crate::cost::Usage;
use crate::outcome::TaskOutcome;

/// A task's place in the run: `Task 2/3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskNumber {
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for TaskNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task {}/{}", self.index + 1, self.count)
    }
}

impl TaskNumber {
    /// The number inside a sentence: `task 2/3`.
    pub fn in_sentence(&self) -> String {
        format!("task {}/{}", self.index + 1, self.count)
    }
}

/// A started task: its number, the backend's id (an ARN, a container ID) and the short id that
/// people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    pub number: TaskNumber,
    pub id: String,
    pub short_id: String,
    /// The region it runs in, when the run has several.
    pub region: Option<String>,
}

impl TaskRef {
    pub fn index(&self) -> usize {
        self.number.index
    }

    /// The task inside a sentence: `task 2/3 (0123abcd)`, `task 2/3 (0123abcd in eu-west-1)`.
    pub fn in_sentence(&self) -> String {
        match &self.region {
            Some(region) => format!(
                "{} ({} in {region})",
                self.number.in_sentence(),
                self.short_id
            ),
            None => format!("{} ({})", self.number.in_sentence(), self.short_id),
        }
    }
}

/// `Task 2/3 · 0123abcd` (`Task 2/3 · 0123abcd · eu-west-1` with several regions): group
/// titles, status lines.
impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {}", self.number, self.short_id)?;
        if let Some(region) = &self.region {
            write!(f, " · {region}")?;
        }
        Ok(())
    }
}

/// How one task ended.
#[derive(Debug, Clone)]
pub struct FinishedTask {
    pub task: TaskRef,
    pub outcome: TaskOutcome,
    pub run_seconds: Option<i64>,
    /// What the backend bills for it, when it does.
    pub usage: Option<Usage>,
}

/// Links a person can open to look at one task and its log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskLinks {
    pub console: Option<String>,
    pub logs: Option<String>,
}
