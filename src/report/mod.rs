//! What the run shows people: the console, the job summary and the PR comment.

mod console;
mod markdown;
mod progress;
mod publish;
mod task_line;

use serde::Serialize;

use crate::results::merge::{LatencyFigures, Merged};
use crate::results::threshold::format_latency_us;
use crate::results::verdict::Verdict;
use crate::workflow::CommentTrigger;

pub use progress::console_events;
pub use publish::{Concluded, output, publish};
use task_line::duration_text;

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
    /// What the backend prepared (`Image`, …), as label and value.
    pub details: Vec<(&'static str, String)>,
    /// Who started the run from a pull request comment, with what, and the commit tested.
    pub trigger: Option<CommentTrigger>,
    pub run_url: Option<String>,
}

/// Requests, errors, error rate, throughput and duration, as both reports show them.
pub fn total_cells(merged: &Merged) -> [String; 5] {
    [
        merged.requests.to_string(),
        merged.errors.to_string(),
        merged
            .error_rate
            .map_or("–".to_string(), |rate| format!("{:.2}%", rate * 100.0)),
        merged
            .rps
            .map_or("–".to_string(), |rps| format!("{rps:.1} req/s")),
        duration_text((merged.duration_ms / 1000) as i64),
    ]
}

/// Dropped requests, as both reports say them.
pub fn dropped_text(dropped: u64) -> String {
    format!(
        "{dropped} requests the schedule called for could not start, because every virtual user was busy; raise `vus`"
    )
}

/// p50, p90, p95, p99, p99.9, max and avg, as both reports show them.
pub const LATENCY_NAMES: [&str; 7] = ["p50", "p90", "p95", "p99", "p99.9", "max", "avg"];

pub fn latency_cells(latency: &LatencyFigures) -> [String; 7] {
    [
        latency.p50_us,
        latency.p90_us,
        latency.p95_us,
        latency.p99_us,
        latency.p999_us,
        latency.max_us,
        latency.avg_us,
    ]
    .map(|value| value.map_or("–".to_string(), format_latency_us))
}
