//! The end of a waited-for run, shown: the console table, the errors, the job summary, the
//! `results` output and the PR comment.

use std::path::Path;

use anyhow::{Context, Result};

use super::html::{self, Slots};
use super::markdown::{self, Target};
use super::{Report, TaskRow, charts, console};
use crate::cost::Cost;
use crate::gha::Gha;
use crate::plan::format_latency_us;
use crate::plan::{Plan, ReportFile};
use crate::results::baseline::Comparison;
use crate::results::capture::Capture;
use crate::results::delivery::Delivery;
use crate::results::merge::{Merged, task_figures};
use crate::results::protocol::LAG_LIMIT_US;
use crate::results::verdict::Verdict;
use crate::task::{FinishedTask, TaskLinks};

/// Everything the end of a run is shown from.
pub struct Concluded<'a> {
    pub plan: &'a Plan,
    /// Every task's end, in index order, and its links.
    pub finished: &'a [(FinishedTask, TaskLinks)],
    pub capture: &'a Capture,
    pub merged: &'a Merged,
    pub verdict: &'a Verdict,
    /// The load asked for against the load delivered, when the inputs asked for one.
    pub delivery: Option<&'a Delivery>,
    /// What the run cost, when the backend bills for it.
    pub cost: Option<&'a Cost>,
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
        delivery,
        cost,
        details,
        comparison,
    } = concluded;
    warn_about_the_results(finished, capture, merged, gha);
    let mut details = details;
    if plan
        .load
        .request
        .iter()
        .any(|variable| variable.name == "INSECURE_TLS")
    {
        gha.notice("insecure-tls: the target's TLS certificate was not verified");
        details.push(("TLS", "certificate not verified (insecure-tls)".to_string()));
    }
    let report = Report {
        verdict,
        merged,
        tasks: task_rows(plan, finished, capture),
        details,
        run_url: plan.identity.run_url.clone(),
        trigger: plan.comment.trigger.clone(),
        comparison,
        delivery,
        cost,
    };

    gha.line("");
    for line in console::lines(&report) {
        gha.line(&line);
    }
    annotate_the_verdict(finished, verdict, comparison, gha);
    if let Err(error) = gha.append_summary(&markdown::render(&report, Target::Summary)) {
        gha.warning(&format!("the job summary was not written: {error:#}"));
    }
    if let Some(file) = &plan.report_file {
        match write_report(&report, file) {
            Ok(()) => gha.line(&format!("The report is in {}", file.path.display())),
            Err(error) => gha.warning(&format!("the report file was not written: {error:#}")),
        }
    }
    let results = serde_json::json!({
        "passed": verdict.passed,
        "exit_status": verdict.exit_status,
        "coverage": verdict.coverage,
        "merged": merged,
        "thresholds": verdict.thresholds,
        "comparison": comparison.and_then(Result::ok),
        "delivery": delivery,
        "cost": cost,
        "tasks": report.tasks,
    });
    output(gha, "results", &results.to_string());
    let comment_url = crate::github::comment_on_pull_request(
        &plan.comment,
        |marker| markdown::render(&report, Target::Comment(marker)),
        gha,
    )
    .await;
    output(
        gha,
        "comment-url",
        comment_url.as_deref().unwrap_or_default(),
    );
}

/// `Task 2/3 · 1a2b3c` as a sentence names it, or `task 2` when the task is not known.
fn task_in_sentence(finished: &[(FinishedTask, TaskLinks)], index: usize) -> String {
    finished.get(index).map_or_else(
        || format!("task {}", index + 1),
        |(task, _)| task.task.in_sentence(),
    )
}

/// Warnings about what the tasks reported: invalid result lines, late starts, a generator that
/// could not keep its schedule.
fn warn_about_the_results(
    finished: &[(FinishedTask, TaskLinks)],
    capture: &Capture,
    merged: &Merged,
    gha: &Gha,
) {
    for (index, why) in &capture.invalid {
        let task = task_in_sentence(finished, *index);
        gha.warning(&format!("{task} printed an invalid result line: {why}"));
    }
    for (index, more) in capture.invalid_more.iter().enumerate() {
        if *more > 0 {
            let task = task_in_sentence(finished, index);
            gha.warning(&format!(
                "{task} printed {more} more invalid result lines, not shown"
            ));
        }
    }
    for (index, late_ms) in &merged.late_tasks {
        let task = task_in_sentence(finished, *index);
        gha.warning(&format!(
            "{task} began its load {:.1} s after START_AT, so the tasks' load did not fully overlap; raise `start-delay`",
            *late_ms as f64 / 1000.0
        ));
    }
    if let Some(lag_us) = merged
        .schedule_lag_p99_us
        .filter(|lag_us| *lag_us > LAG_LIMIT_US)
    {
        gha.warning(&format!(
            "requests started up to {} behind their schedule (p99): the generator, not the server, limited the load; give the tasks more CPU or more tasks",
            format_latency_us(lag_us as f64)
        ));
    }
}

/// One row a task: how it ended and what it reported.
fn task_rows(
    plan: &Plan,
    finished: &[(FinishedTask, TaskLinks)],
    capture: &Capture,
) -> Vec<TaskRow> {
    finished
        .iter()
        .map(|(task, links)| {
            let result = capture
                .results
                .get(task.task.index())
                .and_then(Option::as_ref);
            TaskRow {
                index: task.task.index(),
                task_id: task.task.short_id.clone(),
                region: plan
                    .region_of(task.task.index())
                    .map(|region| region.name.clone()),
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
        .collect()
}

/// Every reason the verdict gives, as an annotation: failed tasks, thresholds that did not hold,
/// a shortfall of load, and regressions against the base branch.
fn annotate_the_verdict(
    finished: &[(FinishedTask, TaskLinks)],
    verdict: &Verdict,
    comparison: Option<Result<&Comparison, &str>>,
    gha: &Gha,
) {
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
    if let Some(shortfall) = &verdict.shortfall {
        if verdict.shortfall_fails {
            gha.error(shortfall);
        } else {
            gha.warning(&format!(
                "{shortfall} (a warning, since `fail-on-under-delivery` is `false`)"
            ));
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
}

/// Writes the report to `file`: the Markdown of the job summary, or a self-contained HTML page.
fn write_report(report: &Report, file: &ReportFile) -> Result<()> {
    let text = if file.html {
        let slots = Slots::new();
        let markdown = markdown::render(report, Target::Html(&slots));
        let svgs: Vec<String> = charts::charts(report.merged.series.as_ref())
            .iter()
            .map(charts::svg)
            .collect();
        html::page(&page_title(report), &markdown, &slots, &svgs)
    } else {
        markdown::render(report, Target::File)
    };
    if let Some(parent) = file
        .path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the folder {}", parent.display()))?;
    }
    write_whole(&file.path, &text)
}

/// Writes `text` beside `path` and renames it into place: a reader never sees half a report.
fn write_whole(path: &Path, text: &str) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, text)
        .with_context(|| format!("writing {}", Path::new(&partial).display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}

fn page_title(report: &Report) -> String {
    let verdict = if report.verdict.passed {
        "passed".to_string()
    } else {
        format!("failed (exit status {})", report.verdict.exit_status)
    };
    format!("Load test {verdict}")
}

/// Sets a step output, or warns that it could not: an output never changes the verdict.
pub fn output(gha: &Gha, name: &str, value: &str) {
    if let Err(error) = gha.set_output(name, value) {
        gha.warning(&format!("the output `{name}` was not written: {error:#}"));
    }
}
