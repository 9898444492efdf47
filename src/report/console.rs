//! The compact text table printed at the end of the run.

use super::{
    LATENCY_NAMES, Report, as_is, backticks, checks_text, comparison_cells, comparison_heading,
    dropped_text, error_lines, latency_cells, name_cells, region_cells, threshold_result,
    total_cells,
};
use crate::cost::{Cost, usd_text};
use crate::plan::duration_text;
use crate::plan::format_latency_us;
use crate::results::delivery::Delivery;

pub fn lines(report: &Report) -> Vec<String> {
    let verdict = report.verdict;
    let merged = report.merged;
    let mut lines = Vec::new();
    let mut head = if verdict.passed {
        "Verdict: PASSED".to_string()
    } else {
        format!("Verdict: FAILED (exit status {})", verdict.exit_status)
    };
    if let Some(coverage) = &verdict.coverage {
        head.push_str(&format!(" · {coverage}"));
    }
    lines.push(head);
    for reason in &verdict.reasons {
        lines.push(format!("  - {reason}"));
    }
    if merged.tasks_reporting > 0 {
        let [requests, errors, rate, rps, duration] = total_cells(merged);
        lines.push(format!(
            "Totals: {requests} requests · {errors} errors ({rate}) · {rps} · {duration}"
        ));
    }
    for line in error_lines(merged, as_is) {
        lines.push(format!("Errors: {line}"));
    }
    if let Some(dropped) = merged.dropped.filter(|dropped| *dropped > 0) {
        lines.push(format!("Dropped: {}", dropped_text(dropped)));
    }
    if let Some(latency) = &merged.latency {
        let figures: Vec<String> = LATENCY_NAMES
            .iter()
            .zip(latency_cells(latency))
            .map(|(name, value)| format!("{name} {value}"))
            .collect();
        lines.push(format!(
            "Latency: {}{}",
            figures.join(" · "),
            match (latency.approximate, merged.latency_whole_ms) {
                (true, _) =>
                    " (approximate: some tasks sent only percentiles; worst task's figures)",
                (false, true) => " (whole milliseconds, as the tester measures them)",
                (false, false) => "",
            }
        ));
    }
    if let Some(checks) = merged.checks {
        lines.push(format!("Checks: {}", checks_text(checks)));
    }
    if !merged.names.is_empty() {
        lines.push(format!(
            "  {:<40}  {:>10}  {:>8}  {:>9}  {:>9}  {:>9}",
            "request name", "requests", "errors", "p50", "p95", "p99"
        ));
        for row in &merged.names {
            let [name, requests, errors, p50, p95, p99] = name_cells(row, as_is);
            lines.push(format!(
                "  {name:<40}  {requests:>10}  {errors:>8}  {p50:>9}  {p95:>9}  {p99:>9}"
            ));
        }
    }
    if !merged.regions.is_empty() {
        lines.push(format!(
            "  {:<16}  {:>15}  {:>10}  {:>8}  {:>8}  {:>13}  {:>9}  {:>9}  {:>9}",
            "region", "tasks", "requests", "errors", "rate", "throughput", "p50", "p95", "p99"
        ));
        for region in &merged.regions {
            let [name, tasks, requests, errors, rate, rps, p50, p95, p99] = region_cells(region);
            lines.push(format!(
                "  {name:<16}  {tasks:>15}  {requests:>10}  {errors:>8}  {rate:>8}  {rps:>13}  {p50:>9}  {p95:>9}  {p99:>9}"
            ));
        }
    }
    if let Some(delivery) = report.delivery {
        delivery_lines(&mut lines, delivery);
    }
    if let Some(cost) = report.cost {
        lines.push(cost_line(cost));
    }
    if !verdict.thresholds.is_empty() {
        lines.push("Thresholds:".to_string());
        for check in &verdict.thresholds {
            lines.push(format!(
                "  {:<6} {} · measured {}",
                match threshold_result(check) {
                    "failed" => "FAILED",
                    other => other,
                },
                check.rule,
                check.measured
            ));
        }
    }
    match report.comparison {
        Some(Ok(comparison)) => {
            lines.push(format!(
                "Compared with {}:",
                comparison_heading(comparison, backticks)
            ));
            for figure in &comparison.figures {
                let [name, median, range, current, change, judgement] = comparison_cells(figure);
                lines.push(format!(
                    "  {name:<10} {current:>10} vs {median:>10} ({change}; range {range}) · {judgement}"
                ));
            }
        }
        Some(Err(why)) => lines.push(format!("No comparison: {why}")),
        None => {}
    }
    lines.push(format!(
        "  {:>4}  {:<36}  {:<16}  {:>4}  {:>10}  {:>8}  {:>9}",
        "#", "task", "outcome", "exit", "requests", "errors", "p95"
    ));
    for row in &report.tasks {
        let number =
            |value: Option<u64>| value.map_or("–".to_string(), |value| value.to_string());
        // With several regions the task's region follows its id.
        let task = match &row.region {
            Some(region) => format!("{} {region}", row.task_id),
            None => row.task_id.clone(),
        };
        lines.push(format!(
            "  {:>4}  {:<36}  {:<16}  {:>4}  {:>10}  {:>8}  {:>9}",
            row.index + 1,
            task,
            row.outcome,
            row.exit_code
                .map_or("–".to_string(), |code| code.to_string()),
            number(row.requests),
            number(row.errors),
            row.p95_us.map_or("–".to_string(), format_latency_us),
        ));
    }
    lines
}

/// The load asked for against the load delivered, and stage by stage.
fn delivery_lines(lines: &mut Vec<String>, delivery: &Delivery) {
    let rate =
        |rate: Option<f64>| rate.map_or("–".to_string(), |rate| format!("{rate:.1} req/s"));
    let mut line = format!(
        "Asked: {} · delivered: {}",
        delivery.asked,
        rate(delivery.delivered_rate)
    );
    if let Some(asked) = delivery.asked_requests {
        line.push_str(&format!(
            " ({} of {asked} requests)",
            delivery.delivered_requests
        ));
    }
    if let Some(shortfall) = delivery.shortfall.filter(|shortfall| *shortfall > 0.0) {
        line.push_str(&format!(", {:.1} % under", shortfall * 100.0));
    }
    lines.push(line);
    for stage in &delivery.stages {
        lines.push(format!(
            "  stage {} ({}, {} → {}): asked {} · delivered {}",
            stage.number,
            duration_text(stage.seconds.round() as i64),
            stage.from,
            stage.to,
            rate(stage.asked_rate),
            rate(stage.delivered_rate)
        ));
    }
}

/// What the run cost, on demand and Spot apart, and where the prices come from.
fn cost_line(cost: &Cost) -> String {
    let mut line = format!(
        "Cost (estimate): {} · on demand {:.0} vCPU-s, {:.0} GB-s",
        usd_text(cost.usd),
        cost.on_demand.vcpu_seconds,
        cost.on_demand.gb_seconds
    );
    if cost.spot.tasks > 0 {
        line.push_str(&format!(
            " · Spot {:.0} vCPU-s, {:.0} GB-s{}",
            cost.spot.vcpu_seconds,
            cost.spot.gb_seconds,
            if cost.spot_at_on_demand {
                " (at on-demand rates: an upper bound)"
            } else {
                ""
            }
        ));
    }
    line.push_str(&format!(" · from {}", cost.source));
    line
}
