//! The compact text table printed at the end of the run.

use super::Report;
use crate::results::threshold::format_latency_us;

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
        lines.push(format!(
            "Totals: {} requests · {} errors ({}) · {} · {}",
            merged.requests,
            merged.errors,
            merged
                .error_rate
                .map_or("–".to_string(), |rate| format!("{:.2}%", rate * 100.0)),
            merged
                .rps
                .map_or("–".to_string(), |rps| format!("{rps:.1} req/s")),
            super::duration_text((merged.duration_ms / 1000) as i64),
        ));
    }
    if let Some(latency) = &merged.latency {
        let figure = |value: Option<f64>| value.map_or("–".to_string(), format_latency_us);
        lines.push(format!(
            "Latency: p50 {} · p90 {} · p95 {} · p99 {} · p99.9 {} · max {} · avg {}{}",
            figure(latency.p50_us),
            figure(latency.p90_us),
            figure(latency.p95_us),
            figure(latency.p99_us),
            figure(latency.p999_us),
            figure(latency.max_us),
            figure(latency.avg_us),
            if latency.approximate {
                " (approximate: some tasks sent only percentiles; worst task's figures)"
            } else {
                ""
            }
        ));
    }
    if !verdict.thresholds.is_empty() {
        lines.push("Thresholds:".to_string());
        for check in &verdict.thresholds {
            lines.push(format!(
                "  {} {} · measured {}",
                if check.held { "held  " } else { "FAILED" },
                check.rule,
                check.measured
            ));
        }
    }
    lines.push(format!(
        "  {:>4}  {:<36}  {:<16}  {:>4}  {:>10}  {:>8}  {:>9}",
        "#", "task", "outcome", "exit", "requests", "errors", "p95"
    ));
    for row in &report.tasks {
        let number =
            |value: Option<u64>| value.map_or("–".to_string(), |value| value.to_string());
        lines.push(format!(
            "  {:>4}  {:<36}  {:<16}  {:>4}  {:>10}  {:>8}  {:>9}",
            row.index + 1,
            row.task_id,
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
