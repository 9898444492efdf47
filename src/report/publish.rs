//! The end of a waited-for run, shown: the console table, the errors, the job summary, the
//! `results` output and the PR comment.

use super::{Report, TaskRow, console, markdown};
use crate::gha::Gha;
use crate::plan::Plan;
use crate::results::baseline::Comparison;
use crate::results::capture::Capture;
use crate::results::merge::{Merged, task_figures};
use crate::results::threshold::format_latency_us;
use crate::results::verdict::Verdict;
use crate::task::{FinishedTask, TaskLinks};

/// A schedule lag (p99) past this says the generator could not keep up with its schedule.
const LAG_WARNING_US: u64 = 5_000;

/// Everything the end of a run is shown from.
pub struct Concluded<'a> {
    pub plan: &'a Plan,
    /// Every task's end, in index order, and its links.
    pub finished: &'a [(FinishedTask, TaskLinks)],
    pub capture: &'a Capture,
    pub merged: &'a Merged,
    pub verdict: &'a Verdict,
    /// What the backend prepared, as label and value (`Image`, …).
    pub details: Vec<(&'static str, String)>,
    /// With `results-table`: this run against the base branch's runs, or why there is none.
    pub comparison: Option<Result<&'a Comparison, &'a str>>,
}

/// Prints the console table and the errors, writes the job summary and the `results` and
/// `comment-url` outputs, and posts the PR comment. None of these can change the verdict: a
/// summary, an output or a comment that cannot be written is a warning.
pub async fn publish(concluded: Concluded<'_>, gha: &Gha) {
    let Concluded {
        plan,
        finished,
        capture,
        merged,
        verdict,
        details,
        comparison,
    } = concluded;
    for (index, why) in &capture.invalid {
        let task = finished.get(*index).map_or_else(
            || format!("task {}", index + 1),
            |(task, _)| task.task.in_sentence(),
        );
        gha.warning(&format!("{task} printed an invalid result line: {why}"));
    }
    for (index, late_ms) in &merged.late_tasks {
        let task = finished.get(*index).map_or_else(
            || format!("task {}", index + 1),
            |(task, _)| task.task.in_sentence(),
        );
        gha.warning(&format!(
            "{task} began its load {:.1} s after START_AT, so the tasks' load did not fully overlap; raise `start-delay`",
            *late_ms as f64 / 1000.0
        ));
    }
    if let Some(lag_us) = merged
        .schedule_lag_p99_us
        .filter(|lag_us| *lag_us > LAG_WARNING_US)
    {
        gha.warning(&format!(
            "requests started up to {} behind their schedule (p99): the generator, not the server, limited the load; give the tasks more CPU or more tasks",
            format_latency_us(lag_us as f64)
        ));
    }
    let rows: Vec<TaskRow> = finished
        .iter()
        .map(|(task, links)| {
            let result = capture
                .results
                .get(task.task.index())
                .and_then(Option::as_ref);
            TaskRow {
                index: task.task.index(),
                task_id: task.task.short_id.clone(),
                outcome: task.outcome.kind.label().to_string(),
                succeeded: task.outcome.succeeded(),
                exit_code: task.outcome.exit_code,
                requests: result.map(|result| result.requests),
                errors: result.map(|result| result.errors),
                p95_us: result
                    .and_then(|result| result.latency.as_ref())
                    .and_then(|latency| task_figures(latency).p95_us),
                console_url: links.console.clone(),
                log_url: links.logs.clone(),
            }
        })
        .collect();
    let report = Report {
        verdict,
        merged,
        tasks: rows,
        details,
        run_url: plan.identity.run_url.clone(),
        trigger: plan.comment.trigger.clone(),
        comparison,
    };

    gha.line("");
    for line in console::lines(&report) {
        gha.line(&line);
    }
    for (task, _) in finished
        .iter()
        .filter(|(task, _)| !task.outcome.succeeded())
    {
        gha.error(&format!(
            "{} {}: {}",
            task.task.in_sentence(),
            task.outcome.kind.label(),
            task.outcome.reason
        ));
    }
    for check in verdict.thresholds.iter().filter(|check| !check.held) {
        let sentence = check.sentence(verdict.require_baseline);
        if check.fails(verdict.require_baseline) {
            gha.error(&sentence);
        } else {
            gha.notice(&sentence);
        }
    }
    if let Some(Ok(comparison)) = comparison {
        for figure in comparison.regressions() {
            gha.warning(&format!(
                "{} regressed against `{}`: {} (median of {} run(s): {})",
                figure.metric.name(),
                comparison.branch,
                figure.change.as_deref().unwrap_or("–"),
                comparison.runs,
                figure
                    .baseline_median
                    .map_or("–".to_string(), |value| figure.metric.format(value))
            ));
        }
    }
    if let Err(error) =
        gha.append_summary(&markdown::render(&report, None, markdown::SUMMARY_LIMIT))
    {
        gha.warning(&format!("the job summary was not written: {error:#}"));
    }
    let results = serde_json::json!({
        "passed": verdict.passed,
        "exit_status": verdict.exit_status,
        "coverage": verdict.coverage,
        "merged": merged,
        "thresholds": verdict.thresholds,
        "comparison": comparison.and_then(Result::ok),
        "tasks": report.tasks,
    });
    output(gha, "results", &results.to_string());
    let comment_url = crate::github::comment_on_pull_request(
        &plan.comment,
        |marker| markdown::render(&report, Some(marker), markdown::COMMENT_LIMIT),
        gha,
    )
    .await;
    output(
        gha,
        "comment-url",
        comment_url.as_deref().unwrap_or_default(),
    );
}

/// Sets a step output, or warns that it could not: an output never changes the verdict.
pub fn output(gha: &Gha, name: &str, value: &str) {
    if let Err(error) = gha.set_output(name, value) {
        gha.warning(&format!("the output `{name}` was not written: {error:#}"));
    }
}
