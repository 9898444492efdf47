//! What the run shows people: the console, the job summary and the PR comment.

mod charts;
mod console;
mod html;
mod markdown;
mod progress;
mod publish;
mod task_line;

use serde::Serialize;

use crate::cost::Cost;
use crate::plan::format_latency_us;
use crate::results::baseline::{ComparedFigure, Comparison, Judgement, MIN_RUNS_TO_JUDGE};
use crate::results::delivery::Delivery;
use crate::results::merge::{LatencyFigures, Merged, NameFigures, RegionMerged};
use crate::results::protocol::Checks;
use crate::results::threshold::Checked;
use crate::results::verdict::Verdict;
use crate::workflow::CommentTrigger;

use crate::plan::duration_text;
pub use progress::{console_events, progress_line};
pub use publish::{Concluded, output, publish};

/// One task's row in the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    pub index: usize,
    pub task_id: String,
    /// The region the task ran in, when `regions` named them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
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
    /// With `results-table`: this run against the base branch's runs, or why there is none.
    pub comparison: Option<Result<&'a Comparison, &'a str>>,
    /// The load asked for against the load delivered, when the inputs asked for one.
    pub delivery: Option<&'a Delivery>,
    /// What the run cost, when the backend bills for it.
    pub cost: Option<&'a Cost>,
}

/// A threshold's result, as both reports say it.
pub fn threshold_result(check: &Checked) -> &'static str {
    match (check.held, check.skipped) {
        (true, _) => "held",
        (false, true) => "skipped",
        (false, false) => "failed",
    }
}

/// How a report quotes text that came from outside (a request name, an error message, a branch):
/// the console as it is (the log's writer neutralises every line), Markdown as a code span.
pub type Quote = fn(&str) -> String;

/// The console's quote: the text as it is.
pub fn as_is(text: &str) -> String {
    text.to_string()
}

/// The console's quote for a name inside a sentence: in backticks.
pub fn backticks(text: &str) -> String {
    format!("`{text}`")
}

/// What the comparison compares, as both reports say it.
pub fn comparison_heading(comparison: &Comparison, quote: Quote) -> String {
    format!(
        "the median of the newest {} passing run(s) on {} with the same test and load shape; a change is a regression only outside the lowest–highest range of at least {MIN_RUNS_TO_JUDGE} baseline runs, else noise",
        comparison.runs,
        quote(&comparison.branch)
    )
}

/// Figure, baseline median, baseline range, this run, change and judgement, as both reports
/// show them.
pub fn comparison_cells(figure: &ComparedFigure) -> [String; 6] {
    let metric = figure.metric;
    let value = |value: Option<f64>| value.map_or("–".to_string(), |value| metric.format(value));
    [
        metric.name().to_string(),
        value(figure.baseline_median),
        figure
            .baseline_range
            .map_or("–".to_string(), |(low, high)| {
                format!("{} – {}", metric.format(low), metric.format(high))
            }),
        value(figure.current),
        figure.change.clone().unwrap_or_else(|| "–".to_string()),
        match figure.judgement {
            Judgement::Regression => "❌ regression".to_string(),
            Judgement::Improvement => "✅ improvement".to_string(),
            other => other.label().to_string(),
        },
    ]
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

/// Checks passed and failed, as both reports say them: `492 of 500 passed (98.40%)`.
pub fn checks_text(checks: Checks) -> String {
    let all = checks.passed.saturating_add(checks.failed);
    let share = if all == 0 {
        "–".to_string()
    } else {
        format!("{:.2}%", checks.passed as f64 * 100.0 / all as f64)
    };
    format!("{} of {all} passed ({share})", checks.passed)
}

/// A request name's row: name (quoted), requests, errors, p50, p95, p99.
pub fn name_cells(row: &NameFigures, quote: Quote) -> [String; 6] {
    let latency = |value: Option<f64>| value.map_or("–".to_string(), format_latency_us);
    [
        quote(&row.name),
        row.requests.to_string(),
        row.errors.to_string(),
        latency(row.p50_us),
        latency(row.p95_us),
        latency(row.p99_us),
    ]
}

/// One region's row, as both reports show it: region, tasks, requests, errors, error rate,
/// delivered rate, p50, p95, p99.
pub fn region_cells(region: &RegionMerged) -> [String; 9] {
    let latency = |value: Option<f64>| value.map_or("–".to_string(), format_latency_us);
    [
        region.region.clone(),
        if region.tasks_reporting == region.tasks {
            region.tasks.to_string()
        } else {
            format!("{} ({} reported)", region.tasks, region.tasks_reporting)
        },
        region.requests.to_string(),
        region.errors.to_string(),
        region
            .error_rate
            .map_or("–".to_string(), |rate| format!("{:.2}%", rate * 100.0)),
        region
            .rps
            .map_or("–".to_string(), |rps| format!("{rps:.1} req/s")),
        latency(region.p50_us),
        latency(region.p95_us),
        latency(region.p99_us),
    ]
}

/// The errors by class, most first, each with what its errors said, as both reports say them:
/// `tls: 4102 requests, none reached the server: invalid peer certificate: …`.
/// The class and what was said are quoted: both came from the tester.
pub fn error_lines(merged: &Merged, quote: Quote) -> Vec<String> {
    let mut classes: Vec<(&String, &u64)> = merged
        .error_classes
        .iter()
        .filter(|(_, count)| **count > 0)
        .collect();
    classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    classes
        .into_iter()
        .map(|(class, count)| {
            let reach = match class.as_str() {
                "connect" | "tls" => ", none reached the server",
                _ => "",
            };
            let mut said: Vec<String> = merged
                .error_examples
                .iter()
                .filter(|example| &example.class == class)
                .map(|example| {
                    if example.count == *count {
                        quote(&example.message)
                    } else {
                        format!("{} ({} of them)", quote(&example.message), example.count)
                    }
                })
                .collect();
            if class == "status" && said.is_empty() {
                said.push("an answer whose status is not a success".to_string());
            }
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(": {}", said.join("; "))
            };
            // The generator's classes are words of ours; a wrapper's may be a tester's.
            let class = if class
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                class.clone()
            } else {
                quote(class)
            };
            format!(
                "{class}: {count} request{}{reach}{said}",
                if *count == 1 { "" } else { "s" }
            )
        })
        .collect()
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
