//! What the run shows people: the console, the job summary and the PR comment.

pub mod console;
pub mod markdown;
pub mod task_line;

use serde::Serialize;

use crate::results::merge::Merged;
use crate::results::verdict::Verdict;

pub use task_line::{duration_text, task_line};

/// One task's row in the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    pub index: usize,
    pub task_id: String,
    pub outcome: String,
    pub succeeded: bool,
    pub exit_code: Option<i32>,
    pub requests: Option<u64>,
    pub errors: Option<u64>,
    pub p95_us: Option<f64>,
    pub console_url: Option<String>,
    pub log_url: Option<String>,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub verdict: &'a Verdict,
    pub merged: &'a Merged,
    pub tasks: Vec<TaskRow>,
    pub image: &'a str,
    pub task_definition_arn: &'a str,
    pub run_url: Option<String>,
}
