//! `ecs-loadtest history`: a test's recent runs from the results table, newest first, as a table
//! or as JSON.

use anyhow::{Context, Result};
use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};

use super::Table;
use super::record::StoredRun;
use crate::gha::Gha;
use crate::input_error::Problems;
use crate::plan::Metric;
use crate::plan::is_table;

pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The test whose runs to show (the action's `test-id`)
    #[arg(long, value_name = "NAME")]
    pub test_id: String,
    /// DynamoDB table (name or ARN) the runs are stored in (the action's `results-table`)
    #[arg(long, value_name = "TABLE", env = "ECS_LOADTEST_RESULTS_TABLE")]
    pub results_table: String,
    /// Only this branch's runs
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// How many runs, 1 to 1000
    #[arg(long, value_name = "N", default_value = "20")]
    pub limit: String,
    /// Print the runs as a JSON array (every stored attribute)
    #[arg(long)]
    pub json: bool,
    /// Region of the table [default: AWS_REGION, then AWS_DEFAULT_REGION]
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
}

pub async fn history(args: HistoryArgs, gha: &Gha) -> Result<()> {
    let mut problems = Problems::default();
    let table_name = Some(args.results_table.clone());
    let table_name = problems.parse(
        "results-table",
        &table_name,
        "a DynamoDB table name (3 to 255 letters, digits, `_`, `-` and `.`) or a table ARN",
        |text| is_table(text).then(|| text.to_string()),
    );
    let limit = problems.parse(
        "limit",
        &Some(args.limit.clone()),
        &format!("a whole number from 1 to {MAX_LIMIT}"),
        |text| {
            text.parse::<usize>()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        },
    );
    if args.test_id.trim().is_empty() {
        problems.add(
            "test-id",
            "",
            "the name of a test, as the action's `test-id`",
        );
    }
    let (table_name, limit) = problems.finish(table_name.zip(limit))?;
    let table = Table::connect(&table_name, args.aws_region.as_deref()).await?;
    let runs = table
        .recent(&args.test_id, args.branch.as_deref(), limit)
        .await?;
    if args.json {
        gha.line(&serde_json::to_string_pretty(&runs).context("printing the runs")?);
        return Ok(());
    }
    let whose = match &args.branch {
        Some(branch) => format!("test `{}` on `{branch}`", args.test_id),
        None => format!("test `{}`", args.test_id),
    };
    if runs.is_empty() {
        gha.line(&format!("No run of {whose} in {}", table.describe()));
        return Ok(());
    }
    gha.line(&format!(
        "The newest {} run(s) of {whose} in {}:",
        runs.len(),
        table.describe()
    ));
    for line in lines(&runs) {
        gha.line(&line);
    }
    Ok(())
}

const HEADINGS: [&str; 13] = [
    "ended (UTC)",
    "branch",
    "commit",
    "PR",
    "verdict",
    "tasks",
    "requests",
    "rps",
    "p50",
    "p95",
    "p99",
    "error rate",
    "load",
];

/// The runs as aligned columns under a heading line.
fn lines(runs: &[StoredRun]) -> Vec<String> {
    let rows: Vec<Vec<String>> = runs.iter().map(row).collect();
    let widths: Vec<usize> = (0..HEADINGS.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([HEADINGS[column].len()])
                .max()
                .unwrap_or_default()
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    std::iter::once(line(HEADINGS.map(str::to_string).to_vec()))
        .chain(rows.into_iter().map(line))
        .collect()
}

fn row(run: &StoredRun) -> Vec<String> {
    let figure = |metric: Metric| {
        run.figures
            .get(metric.name())
            .map_or("–".to_string(), |value| metric.format(*value))
    };
    vec![
        DateTime::from_millis(run.timestamp_ms as i64)
            .fmt(DateTimeFormat::DateTime)
            .unwrap_or_else(|_| run.timestamp_ms.to_string()),
        run.branch.clone().unwrap_or_else(|| "–".to_string()),
        run.commit
            .as_deref()
            .map_or("–".to_string(), |commit| commit.chars().take(7).collect()),
        run.pull_number
            .map_or("–".to_string(), |number| format!("#{number}")),
        if run.passed {
            "passed".to_string()
        } else {
            format!("failed ({})", run.exit_status)
        },
        format!("{}/{}", run.tasks_reporting, run.task_count),
        figure(Metric::Requests),
        figure(Metric::Rps),
        figure(Metric::P50),
        figure(Metric::P95),
        figure(Metric::P99),
        figure(Metric::ErrorRate),
        run.shape.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn runs_as_aligned_columns() {
        let run = StoredRun {
            test_id: "checkout".into(),
            timestamp_ms: 1_790_000_000_000,
            passed: false,
            exit_status: 99,
            tasks_reporting: 2,
            task_count: 2,
            figures: BTreeMap::from([
                ("requests".into(), 24_000.0),
                ("rps".into(), 400.0),
                ("p95".into(), 412_300.0),
                ("error_rate".into(), 0.002),
            ]),
            commit: Some("0123456789abcdef".into()),
            branch: Some("feature/x".into()),
            pull_number: Some(7),
            shape: "2 tasks, 400 req/s, 60 s".into(),
            ..Default::default()
        };
        let lines = lines(&[run]);
        assert_eq!(
            lines,
            [
                "ended (UTC)           branch     commit   PR  verdict      tasks  requests  rps  p50  p95      p99  error rate  load",
                "2026-09-21T14:13:20Z  feature/x  0123456  #7  failed (99)  2/2    24000     400  –    412.3ms  –    0.2%        2 tasks, 400 req/s, 60 s",
            ]
        );
    }
}
