//! The Markdown report: the job summary and, with its hidden marker, the PR comment. The verdict,
//! totals and thresholds are always shown; the per-task table is trimmed to fit a size budget
//! (GitHub caps a job summary at 1 MiB and a comment at 65,536 characters).

use std::fmt::Write as _;

use super::html::Slots;
use super::{
    LATENCY_NAMES, Report, TaskRow, charts, checks_text, comparison_cells, comparison_heading,
    dropped_text, error_lines, latency_cells, name_cells, region_cells, threshold_result,
    total_cells,
};
use crate::cost::{Cost, usd_text};
use crate::plan::duration_text;
use crate::plan::format_latency_us;
use crate::quote::{code, prose};
use crate::results::baseline::Comparison;
use crate::results::delivery::Delivery;
use crate::results::merge::{NameFigures, RegionMerged};
use crate::results::threshold::Checked;

/// GitHub's limit for one step's job summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;
/// GitHub's limit for a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;
/// Above this many tasks the table shows the failing tasks and the slowest few, not all.
const ALL_ROWS_UP_TO: usize = 50;
const SLOWEST_SHOWN: usize = 10;

/// Where a report goes: what it may take, and how its charts are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'a> {
    /// The job summary: Mermaid charts, 1 MiB.
    Summary,
    /// The PR comment, starting with its hidden marker: Mermaid charts, 65,536 characters.
    Comment(&'a str),
    /// The Markdown report file, with Mermaid charts. No limit.
    File,
    /// The Markdown of the HTML page: each chart is a slot the page fills with SVG. No limit.
    Html(&'a Slots),
}

impl Target<'_> {
    fn limit(self) -> usize {
        match self {
            Target::Summary => SUMMARY_LIMIT,
            Target::Comment(_) => COMMENT_LIMIT,
            Target::File | Target::Html(_) => usize::MAX,
        }
    }
}

/// Renders the report for `target`, within its size limit. What is cut to fit, first to last:
/// task rows, then the charts; the verdict, the totals and the thresholds never.
pub fn render(report: &Report, target: Target) -> String {
    let limit = target.limit();
    let mut head = String::new();
    if let Target::Comment(marker) = target {
        let _ = writeln!(head, "{marker}");
    }
    verdict_lines(&mut head, report);
    totals(&mut head, report);
    if let Some(delivery) = report.delivery {
        asked_and_delivered(&mut head, delivery);
    }
    thresholds_table(&mut head, &report.verdict.thresholds);
    if let Some(comparison) = report.comparison {
        comparison_table(&mut head, comparison);
    }
    if let Some(cost) = report.cost {
        cost_table(&mut head, cost);
    }

    let mut foot_parts: Vec<String> = report
        .details
        .iter()
        .map(|(label, value)| format!("{label} `{}`", cell(value)))
        .collect();
    if let Some(run_url) = &report.run_url {
        foot_parts.push(format!("[workflow run]({run_url})"));
    }
    let foot = format!("\n{}\n", foot_parts.join(" · "));

    let slots = match target {
        Target::Html(slots) => Some(slots),
        _ => None,
    };
    let mut charts = over_time(report, slots);
    if !charts.is_empty() && head.len() + charts.len() + foot.len() + RESERVE > limit {
        charts = "_The charts over time are left out to keep this within GitHub's size limit; the job summary has them._\n\n".to_string();
    }

    let table_head = "| # | task | outcome | exit | requests | errors | p95 | logs |\n| --- | --- | --- | --- | ---: | ---: | ---: | --- |\n";
    let rows = rows_in_order(&report.tasks);
    let budget =
        limit.saturating_sub(head.len() + charts.len() + foot.len() + table_head.len() + RESERVE);
    let (table, shown) = rows_within(&rows, budget);
    let mut body = head;
    body.push_str(&charts);
    if shown > 0 {
        body.push_str(table_head);
        body.push_str(&table);
    }
    let left_out = report.tasks.len() - shown;
    if left_out > 0 {
        let _ = writeln!(
            body,
            "\n{left_out} of {} task rows are left out; shown are the failing tasks, then the slowest by p95.",
            report.tasks.len()
        );
    }
    body.push_str(&foot);
    if body.chars().count() > limit {
        // Only a pathological head (thousands of thresholds) gets here: cut it, keep the verdict.
        body = body.chars().take(limit.saturating_sub(40)).collect();
        body.push_str("\n\n… (cut to fit GitHub's size limit)\n");
    }
    body
}

/// The verdict as a heading, who started the run, and every reason it gives.
fn verdict_lines(head: &mut String, report: &Report) {
    let verdict = report.verdict;
    if verdict.passed {
        let _ = writeln!(head, "### ✅ Load test passed");
    } else {
        let _ = writeln!(
            head,
            "### ❌ Load test failed (exit status {})",
            verdict.exit_status
        );
    }
    head.push('\n');
    if let Some(trigger) = &report.trigger {
        let overrides = if trigger.overrides.is_empty() {
            "no overrides".to_string()
        } else {
            code(&trigger.overrides)
        };
        let _ = writeln!(
            head,
            "Started by @{} in [this comment]({}) with {overrides}; tested commit `{}`, the pull request's head.\n",
            trigger.author, trigger.comment_url, trigger.head_sha
        );
    }
    if let Some(coverage) = &verdict.coverage {
        let _ = writeln!(head, "**{coverage}.**\n");
    }
    if let (Some(shortfall), false) = (&verdict.shortfall, verdict.shortfall_fails) {
        let _ = writeln!(head, "⚠️ **{shortfall}**\n");
    }
    for reason in &verdict.reasons {
        let _ = writeln!(head, "- {reason}");
    }
    if !verdict.reasons.is_empty() {
        head.push('\n');
    }
}

/// The threshold rules, each with its measured figure and whether it held.
fn thresholds_table(head: &mut String, thresholds: &[Checked]) {
    if thresholds.is_empty() {
        return;
    }
    let _ = writeln!(
        head,
        "| threshold | measured | result |\n| --- | --- | --- |"
    );
    for check in thresholds {
        let _ = writeln!(
            head,
            "| {} | {} | {} |",
            code(&check.rule),
            cell(&check.measured),
            match threshold_result(check) {
                "held" => "✅ held",
                "skipped" => "⏭️ skipped",
                _ => "❌ failed",
            }
        );
    }
    head.push('\n');
}

/// This run against the base branch's runs, or why there is no comparison.
fn comparison_table(head: &mut String, comparison: Result<&Comparison, &str>) {
    match comparison {
        Ok(comparison) => {
            let _ = writeln!(
                head,
                "**Compared with {}**: {}.\n\n| figure | baseline (median) | baseline range | this run | change | judgement |\n| --- | ---: | ---: | ---: | ---: | --- |",
                code(&comparison.branch),
                comparison_heading(comparison, code)
            );
            for figure in &comparison.figures {
                let _ = writeln!(
                    head,
                    "| {} |",
                    comparison_cells(figure).map(|text| cell(&text)).join(" | ")
                );
            }
            head.push('\n');
        }
        Err(why) => {
            let _ = writeln!(head, "_No comparison with earlier runs: {}._\n", why);
        }
    }
}

/// As many task rows, in order, as fit in `budget` bytes, and how many that is.
fn rows_within(rows: &[&TaskRow], budget: usize) -> (String, usize) {
    let mut table = String::new();
    let mut shown = 0;
    for row in rows {
        let line = row_line(row);
        if table.len() + line.len() > budget {
            break;
        }
        table.push_str(&line);
        shown += 1;
    }
    (table, shown)
}

/// Room kept for the lines that say what was left out.
const RESERVE: usize = 200;

/// The charts over time with their legends: Mermaid blocks, or the HTML page's slots.
fn over_time(report: &Report, slots: Option<&Slots>) -> String {
    let charts = charts::charts(report.merged.series.as_ref());
    if charts.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "**Over time**, all {} reporting tasks added up:\n\n",
        report.merged.tasks_reporting
    );
    for (index, chart) in charts.iter().enumerate() {
        let _ = writeln!(out, "_{}._\n", chart.legend());
        match slots {
            Some(slots) => {
                let _ = writeln!(out, "{}\n", slots.slot(index));
            }
            None => {
                let _ = writeln!(out, "{}", charts::mermaid(chart));
            }
        }
    }
    out
}

fn asked_and_delivered(out: &mut String, delivery: &Delivery) {
    let number = |value: Option<f64>, unit: &str| {
        value.map_or("–".to_string(), |value| format!("{value:.1} {unit}"))
    };
    let _ = writeln!(
        out,
        "**Asked and delivered**\n\n| | asked | delivered |\n| --- | ---: | ---: |"
    );
    let _ = writeln!(
        out,
        "| load | {} | {}{} |",
        cell(&delivery.asked),
        number(delivery.delivered_rate, "req/s"),
        delivery
            .shortfall
            .filter(|shortfall| *shortfall > 0.0)
            .map_or(String::new(), |shortfall| format!(
                " ({:.1} % under)",
                shortfall * 100.0
            ))
    );
    if delivery.asked_requests.is_some() || delivery.asked_rate.is_some() {
        let _ = writeln!(
            out,
            "| requests | {} | {} |",
            delivery
                .asked_requests
                .map_or("–".to_string(), |asked| asked.to_string()),
            delivery.delivered_requests
        );
    }
    for stage in &delivery.stages {
        let unit = if stage.asked_rate.is_some() {
            "req/s"
        } else {
            "VUs"
        };
        let _ = writeln!(
            out,
            "| stage {} ({}, {} → {} {unit}) | {} | {} |",
            stage.number,
            duration_text(stage.seconds.round() as i64),
            stage.from,
            stage.to,
            number(stage.asked_rate, "req/s"),
            number(stage.delivered_rate, "req/s"),
        );
    }
    if let Some(dropped) = delivery.dropped {
        let _ = writeln!(out, "| requests dropped | 0 | {dropped} |");
    }
    let _ = writeln!(
        out,
        "| tasks reporting | {} | {} |",
        delivery.task_count, delivery.tasks_reporting
    );
    if delivery.start_skew_ms.is_some() || !delivery.late_tasks.is_empty() {
        let late = match delivery.late_tasks.len() {
            0 => String::new(),
            count => format!("; {count} began after START_AT"),
        };
        let _ = writeln!(
            out,
            "| start skew | together at START_AT | {}{late} |",
            delivery
                .start_skew_ms
                .map_or("–".to_string(), |skew| format!("{skew} ms")),
        );
    }
    out.push('\n');
    if let Some(dropped) = delivery.dropped.filter(|dropped| *dropped > 0) {
        let _ = writeln!(out, "**Dropped:** {}.\n", dropped_text(dropped));
    }
}

fn cost_table(out: &mut String, cost: &Cost) {
    let _ = writeln!(
        out,
        "**Cost (estimate): {}**\n\n| capacity | tasks | vCPU-seconds | GB-seconds | estimate |\n| --- | ---: | ---: | ---: | ---: |",
        usd_text(cost.usd)
    );
    for (name, totals) in [("on demand", &cost.on_demand), ("Spot", &cost.spot)] {
        if totals.tasks > 0 || name == "on demand" {
            let _ = writeln!(
                out,
                "| {name} | {} | {:.0} | {:.0} | {} |",
                totals.tasks,
                totals.vcpu_seconds,
                totals.gb_seconds,
                usd_text(totals.usd)
            );
        }
    }
    let mut notes = vec![format!("An estimate from {}", cell(&cost.source))];
    if cost.spot_at_on_demand {
        notes.push(
            "Spot is priced at the on-demand rate, an upper bound (Spot costs up to 70 % less; set `fargate-prices` for its rates)"
                .to_string(),
        );
    }
    if cost.unknown_tasks > 0 {
        notes.push(format!(
            "{} task(s) without a known run time are not counted",
            cost.unknown_tasks
        ));
    }
    let _ = writeln!(out, "\n_{}._\n", notes.join(". "));
}

fn totals(out: &mut String, report: &Report) {
    let merged = report.merged;
    if merged.tasks_reporting == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "| requests | errors | error rate | throughput | duration |\n| ---: | ---: | ---: | ---: | ---: |\n| {} |\n",
        total_cells(merged).join(" | ")
    );
    let errors = error_lines(merged, code);
    if !errors.is_empty() {
        let _ = writeln!(out, "**Errors:**\n");
        for line in errors {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    if report.delivery.is_none()
        && let Some(dropped) = merged.dropped.filter(|dropped| *dropped > 0)
    {
        let _ = writeln!(out, "**Dropped:** {}.\n", dropped_text(dropped));
    }
    if let Some(latency) = &merged.latency {
        let _ = writeln!(
            out,
            "| {} |\n|{}\n| {} |\n",
            LATENCY_NAMES.join(" | "),
            " ---: |".repeat(LATENCY_NAMES.len()),
            latency_cells(latency).join(" | ")
        );
        if latency.approximate {
            let _ = writeln!(
                out,
                "_Latency is approximate: some tasks sent only percentiles, so each figure is the worst task's._\n"
            );
        }
        if merged.latency_whole_ms {
            let _ = writeln!(
                out,
                "_The tester measures latency in whole milliseconds (JMeter's `elapsed`), so each figure is a whole millisecond._\n"
            );
        }
    }
    if report.delivery.is_none()
        && let Some(skew) = merged.start_skew_ms
    {
        let _ = writeln!(
            out,
            "Tasks started their load within {skew} ms of each other.\n"
        );
    }
    if let Some(checks) = merged.checks {
        let _ = writeln!(out, "**Checks:** {}.\n", checks_text(checks));
    }
    names_table(out, &merged.names);
    regions_table(out, &merged.regions);
}

/// Each region's tasks merged apart: the latency where its users are.
fn regions_table(out: &mut String, regions: &[RegionMerged]) {
    if regions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| region | tasks | requests | errors | error rate | throughput | p50 | p95 | p99 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for region in regions {
        let _ = writeln!(
            out,
            "| {} |",
            region_cells(region).map(|text| cell(&text)).join(" | ")
        );
    }
    out.push('\n');
}

/// Each request name's figures, merged across the tasks.
fn names_table(out: &mut String, names: &[NameFigures]) {
    if names.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| request name | requests | errors | p50 | p95 | p99 |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in names {
        let _ = writeln!(out, "| {} |", name_cells(row, code).join(" | "));
    }
    out.push('\n');
}

/// Every row in index order when there are few tasks; else the failing tasks, then the slowest.
fn rows_in_order(tasks: &[TaskRow]) -> Vec<&TaskRow> {
    let mut rows: Vec<&TaskRow> = tasks.iter().collect();
    if tasks.len() <= ALL_ROWS_UP_TO {
        return rows;
    }
    rows.sort_by(|a, b| {
        a.succeeded
            .cmp(&b.succeeded)
            .then(
                b.p95_us
                    .unwrap_or(-1.0)
                    .total_cmp(&a.p95_us.unwrap_or(-1.0)),
            )
            .then(a.index.cmp(&b.index))
    });
    let failing = rows.iter().filter(|row| !row.succeeded).count();
    rows.truncate(failing + SLOWEST_SHOWN);
    rows
}

fn row_line(row: &TaskRow) -> String {
    let mut task = match &row.console_url {
        Some(url) => format!("[{}]({url})", short_id(&row.task_id)),
        None => format!("`{}`", short_id(&row.task_id)),
    };
    if let Some(region) = &row.region {
        task.push_str(&format!(" · {}", cell(region)));
    }
    let logs = row
        .log_url
        .as_ref()
        .map_or("–".to_string(), |url| format!("[stream]({url})"));
    let number = |value: Option<u64>| value.map_or("–".to_string(), |value| value.to_string());
    format!(
        "| {} | {task} | {}{} | {} | {} | {} | {} | {logs} |\n",
        row.index + 1,
        if row.succeeded { "" } else { "❌ " },
        prose(&row.outcome),
        row.exit_code
            .map_or("–".to_string(), |code| code.to_string()),
        number(row.requests),
        number(row.errors),
        row.p95_us.map_or("–".to_string(), format_latency_us),
    )
}

/// The first 8 characters of an ID in hex (an ECS task's, a container's); other IDs whole.
fn short_id(task_id: &str) -> &str {
    if task_id.chars().all(|c| c.is_ascii_hexdigit()) {
        task_id.get(..8).unwrap_or(task_id)
    } else {
        task_id
    }
}

/// Text inside a table cell: a `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::marker;
    use crate::results::merge::{LatencyFigures, Merged};
    use crate::results::threshold::Checked;
    use crate::results::verdict::Verdict;

    fn verdict(passed: bool) -> Verdict {
        Verdict {
            passed,
            exit_status: if passed { 0 } else { 99 },
            reasons: if passed {
                vec![]
            } else {
                vec!["threshold `p95 < 300ms` failed: measured 412.3ms".into()]
            },
            coverage: None,
            require_baseline: false,
            shortfall: None,
            shortfall_fails: false,
            thresholds: vec![
                Checked {
                    rule: "p95 < 300ms".into(),
                    held: passed,
                    skipped: false,
                    measured: "412.3ms".into(),
                },
                Checked {
                    rule: "error_rate < 1%".into(),
                    held: true,
                    skipped: false,
                    measured: "0.2%".into(),
                },
            ],
        }
    }

    fn merged() -> Merged {
        Merged {
            task_count: 2,
            tasks_reporting: 2,
            requests: 24_000,
            errors: 48,
            error_rate: Some(0.002),
            rps: Some(400.0),
            duration_ms: 60_000,
            latency: Some(LatencyFigures {
                approximate: false,
                p50_us: Some(48_000.0),
                p90_us: Some(210_000.0),
                p95_us: Some(412_300.0),
                p99_us: Some(890_000.0),
                p999_us: Some(1_400_000.0),
                max_us: Some(2_100_000.0),
                avg_us: Some(81_200.0),
            }),
            start_skew_ms: Some(180),
            ..Default::default()
        }
    }

    fn row(index: usize, succeeded: bool, p95_us: f64) -> TaskRow {
        TaskRow {
            region: None,
            index,
            task_id: format!("{index:08x}aaaabbbbccccdddd"),
            outcome: if succeeded {
                "succeeded".into()
            } else {
                "failed".into()
            },
            succeeded,
            exit_code: Some(if succeeded { 0 } else { 3 }),
            requests: Some(12_000),
            errors: Some(24),
            p95_us: Some(p95_us),
            console_url: Some(format!("https://console.example/{index}")),
            log_url: Some(format!("https://logs.example/{index}")),
        }
    }

    fn report<'a>(verdict: &'a Verdict, merged: &'a Merged, tasks: Vec<TaskRow>) -> Report<'a> {
        Report {
            verdict,
            merged,
            tasks,
            details: vec![
                (
                    "Image",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/tester@sha256:abc".into(),
                ),
                (
                    "task definition",
                    "arn:aws:ecs:us-east-1:123456789012:task-definition/tester:7".into(),
                ),
            ],
            run_url: Some("https://github.com/acme/shop/actions/runs/1".into()),
            trigger: None,
            comparison: None,
            delivery: None,
            cost: None,
        }
    }

    #[test]
    fn renders_a_failed_run() {
        let verdict = verdict(false);
        let merged = merged();
        let text = render(
            &report(
                &verdict,
                &merged,
                vec![row(0, true, 400_000.0), row(1, true, 420_000.0)],
            ),
            Target::Comment(&marker("load")),
        );
        let expected = "<!-- ecs-loadtest:load -->
### ❌ Load test failed (exit status 99)

- threshold `p95 < 300ms` failed: measured 412.3ms

| requests | errors | error rate | throughput | duration |
| ---: | ---: | ---: | ---: | ---: |
| 24000 | 48 | 0.20% | 400.0 req/s | 1m00s |

| p50 | p90 | p95 | p99 | p99.9 | max | avg |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 48ms | 210ms | 412.3ms | 890ms | 1.4s | 2.1s | 81.2ms |

Tasks started their load within 180 ms of each other.

| threshold | measured | result |
| --- | --- | --- |
| `p95 < 300ms` | 412.3ms | ❌ failed |
| `error_rate < 1%` | 0.2% | ✅ held |

| # | task | outcome | exit | requests | errors | p95 | logs |
| --- | --- | --- | --- | ---: | ---: | ---: | --- |
| 1 | [00000000](https://console.example/0) | succeeded | 0 | 12000 | 24 | 400ms | [stream](https://logs.example/0) |
| 2 | [00000001](https://console.example/1) | succeeded | 0 | 12000 | 24 | 420ms | [stream](https://logs.example/1) |

Image `123456789012.dkr.ecr.us-east-1.amazonaws.com/tester@sha256:abc` · task definition `arn:aws:ecs:us-east-1:123456789012:task-definition/tester:7` · [workflow run](https://github.com/acme/shop/actions/runs/1)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn hundreds_of_tasks_show_the_failing_and_the_slowest() {
        let verdict = verdict(true);
        let merged = merged();
        let mut tasks: Vec<TaskRow> = (0..300)
            .map(|index| row(index, true, 1000.0 + index as f64))
            .collect();
        for index in [7, 123] {
            tasks[index].succeeded = false;
            tasks[index].outcome = "failed".into();
        }
        let text = render(&report(&verdict, &merged, tasks), Target::Summary);
        let rows: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("| ") && line.contains("console.example"))
            .collect();
        assert_eq!(rows.len(), 12);
        // The failing tasks first (slowest first), then the slowest of the rest.
        assert!(
            rows[0].starts_with("| 124 |") && rows[1].starts_with("| 8 |"),
            "{rows:?}"
        );
        assert!(rows[2].starts_with("| 300 |"), "{rows:?}");
        assert!(text.contains("288 of 300 task rows are left out"));
    }

    #[test]
    fn the_comment_limit_trims_rows_never_the_verdict() {
        let verdict = verdict(false);
        let merged = merged();
        let mut tasks: Vec<TaskRow> = (0..40).map(|index| row(index, false, 1000.0)).collect();
        for task in &mut tasks {
            task.outcome = "failed: ".to_string() + &"x".repeat(3000);
        }
        let text = render(
            &report(&verdict, &merged, tasks),
            Target::Comment(&marker("t")),
        );
        assert!(text.chars().count() <= COMMENT_LIMIT, "{}", text.len());
        assert!(text.starts_with("<!-- ecs-loadtest:t -->\n### ❌ Load test failed"));
        assert!(text.contains("| `p95 < 300ms` | 412.3ms | ❌ failed |"));
        assert!(text.contains("task rows are left out"));
        assert!(
            text.trim_end()
                .ends_with("[workflow run](https://github.com/acme/shop/actions/runs/1)")
        );
    }

    // Fixtures: every state of the report, rendered, compared with `tests/fixtures/report/`.
    // `UPDATE_FIXTURES=1 cargo test --lib fixture` writes them anew after a deliberate change.
    // The Mermaid blocks in them are rendered by Mermaid itself in CI (`scripts/check-charts.sh`).

    use crate::cost::{Cost, Totals};
    use crate::results::delivery::{Delivery, StageDelivery};
    use crate::results::merge::{MergedPoint, MergedSeries};

    fn fixture(name: &str, text: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/report")
            .join(format!("{name}.md"));
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert_eq!(text, expected, "{name} differs from {}", path.display());
    }

    /// A 2-minute ramp to 400 req/s and back, 10 s a point, p95 climbing with the rate.
    fn series(points: usize) -> MergedSeries {
        MergedSeries {
            start_ms: 1_795_000_000_000,
            interval_ms: 10_000,
            points: (0..points)
                .map(|index| {
                    let load = (index.min(points - 1 - index) + 1) as u64;
                    MergedPoint {
                        requests: 400 * load,
                        errors: if index == points / 2 { 35 } else { load / 3 },
                        p50_us: Some(20_000 + 2_000 * load),
                        p95_us: Some(60_000 + 9_000 * load),
                        p99_us: Some(90_000 + 15_000 * load),
                    }
                })
                .collect(),
        }
    }

    fn delivery(delivered: u64, dropped: u64, shortfall_sentence: Option<String>) -> Delivery {
        Delivery {
            asked: "stages `60s:400,60s:0` (req/s, 2m00s in all) across 2 tasks".into(),
            task_count: 2,
            tasks_reporting: 2,
            asked_requests: Some(24_000),
            delivered_requests: delivered,
            asked_rate: Some(200.0),
            delivered_rate: Some(delivered as f64 / 120.0),
            shortfall: Some(1.0 - delivered as f64 / 24_000.0),
            stages: vec![
                StageDelivery {
                    number: 1,
                    seconds: 60.0,
                    from: 0.0,
                    to: 400.0,
                    asked_rate: Some(200.0),
                    delivered_rate: Some(delivered as f64 / 120.0),
                },
                StageDelivery {
                    number: 2,
                    seconds: 60.0,
                    from: 400.0,
                    to: 0.0,
                    asked_rate: Some(200.0),
                    delivered_rate: Some(delivered as f64 / 120.0),
                },
            ],
            dropped: Some(dropped),
            start_skew_ms: Some(180),
            late_tasks: vec![],
            shortfall_sentence,
        }
    }

    fn cost() -> Cost {
        Cost {
            on_demand: Totals {
                tasks: 1,
                vcpu_seconds: 126.0,
                gb_seconds: 252.0,
                usd: 0.0017,
            },
            spot: Totals {
                tasks: 1,
                vcpu_seconds: 126.0,
                gb_seconds: 252.0,
                usd: 0.0017,
            },
            unknown_tasks: 0,
            usd: 0.0034,
            spot_at_on_demand: true,
            source:
                "us-east-1's on-demand list prices: $0.04048/vCPU-hour and $0.004445/GB-hour on x86"
                    .into(),
        }
    }

    #[test]
    fn fixture_with_series() {
        let verdict = verdict(true);
        let mut merged = merged();
        merged.series = Some(series(12));
        let delivery = delivery(23_900, 0, None);
        let cost = cost();
        let mut report = report(
            &verdict,
            &merged,
            vec![row(0, true, 400_000.0), row(1, true, 420_000.0)],
        );
        report.delivery = Some(&delivery);
        report.cost = Some(&cost);
        let text = render(&report, Target::Summary);
        assert_eq!(text.matches("```mermaid\n").count(), 2);
        fixture("with-series", &text);
    }

    #[test]
    fn fixture_without_series() {
        let verdict = verdict(true);
        let merged = merged();
        let text = render(
            &report(&verdict, &merged, vec![row(0, true, 400_000.0)]),
            Target::Summary,
        );
        assert!(!text.contains("mermaid") && !text.contains("Over time"));
        fixture("without-series", &text);
    }

    #[test]
    fn fixture_failed_thresholds() {
        let verdict = verdict(false);
        let mut merged = merged();
        merged.series = Some(series(12));
        let text = render(
            &report(
                &verdict,
                &merged,
                vec![row(0, true, 400_000.0), row(1, false, 420_000.0)],
            ),
            Target::Comment(&marker("checkout")),
        );
        assert!(text.contains("| `p95 < 300ms` | 412.3ms | ❌ failed |"));
        fixture("failed-thresholds", &text);
    }

    #[test]
    fn fixture_under_delivered() {
        let mut verdict = verdict(true);
        verdict.shortfall = Some("The test did not deliver its load: it sent 19200 of the 24000 requests asked (20.0 % under); 4800 requests could not start because every virtual user was busy (the generator's VUs or CPU: raise `vus`, or `cpu`).".into());
        let mut merged = merged();
        merged.series = Some(series(12));
        merged.dropped = Some(4800);
        let delivery = delivery(19_200, 4_800, verdict.shortfall.clone());
        let mut report = report(
            &verdict,
            &merged,
            vec![row(0, true, 400_000.0), row(1, true, 420_000.0)],
        );
        report.delivery = Some(&delivery);
        let text = render(&report, Target::Summary);
        assert!(
            text.contains("⚠️ **The test did not deliver its load: it sent 19200 of the 24000")
        );
        assert!(text.contains("| load | stages `60s:400,60s:0` (req/s, 2m00s in all) across 2 tasks | 160.0 req/s (20.0 % under) |"));
        fixture("under-delivered", &text);
    }

    #[test]
    fn fixture_hundreds_of_tasks_near_the_comment_limit() {
        let verdict = verdict(false);
        let mut merged = merged();
        merged.series = Some(series(120));
        let tasks: Vec<TaskRow> = (0..400)
            .map(|index| {
                let mut row = row(index, false, 1000.0 + index as f64);
                row.outcome = format!("failed: {}", "the container exited with 3 ".repeat(6));
                row
            })
            .collect();
        let text = render(
            &report(&verdict, &merged, tasks),
            Target::Comment(&marker("t")),
        );
        let length = text.chars().count();
        assert!(
            length <= COMMENT_LIMIT && length > COMMENT_LIMIT - 1000,
            "{length}"
        );
        // The charts stay; task rows are what is cut.
        assert_eq!(text.matches("```mermaid\n").count(), 2);
        assert!(text.contains("task rows are left out"));
        fixture("hundreds-of-tasks-comment", &text);
    }

    #[test]
    fn charts_go_before_the_thresholds_are_ever_cut() {
        let mut verdict = verdict(false);
        verdict.thresholds = (0..1500)
            .map(|index| Checked {
                rule: format!("p95 < {index}ms"),
                held: false,
                skipped: false,
                measured: "412.3ms".into(),
            })
            .collect();
        let mut merged = merged();
        merged.series = Some(series(120));
        let text = render(
            &report(&verdict, &merged, vec![row(0, false, 1.0)]),
            Target::Comment(&marker("t")),
        );
        assert!(text.chars().count() <= COMMENT_LIMIT);
        assert!(!text.contains("```mermaid"));
        assert!(text.contains("The charts over time are left out"));
        assert!(text.contains("| `p95 < 1499ms` | 412.3ms | ❌ failed |"));
        // The job summary has room for both.
        let summary = render(&report(&verdict, &merged, vec![]), Target::Summary);
        assert_eq!(summary.matches("```mermaid\n").count(), 2);
    }
}
