//! The base branch's recent passing runs of the same test and load shape, and this run compared
//! with them: per figure the baseline median, this run, the change, and whether the change is
//! larger than the baseline runs' own spread.

use std::collections::BTreeMap;

use serde::Serialize;

use super::merge::Merged;
use crate::plan::{Metric, percent_change};

/// A change is judged only against at least this many baseline runs: fewer have no spread worth
/// the name.
pub const MIN_RUNS_TO_JUDGE: usize = 3;

/// The figures the comparison shows, in order.
pub const COMPARED: [Metric; 5] = [
    Metric::P50,
    Metric::P95,
    Metric::P99,
    Metric::Rps,
    Metric::ErrorRate,
];

/// One earlier run: when, which commit, and its figures by metric name (`p95`, `rps`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineRun {
    pub timestamp_ms: u64,
    pub commit: Option<String>,
    pub run_url: Option<String>,
    pub figures: BTreeMap<String, f64>,
}

/// The runs compared with, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub branch: String,
    pub runs: Vec<BaselineRun>,
}

impl Baseline {
    fn values(&self, metric: Metric) -> Vec<f64> {
        let mut values: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|run| run.figures.get(metric.name()).copied())
            .filter(|value| value.is_finite())
            .collect();
        values.sort_by(f64::total_cmp);
        values
    }

    /// The median of the runs' figure; `None` when no run has it.
    pub fn median(&self, metric: Metric) -> Option<f64> {
        let values = self.values(metric);
        let middle = values.len() / 2;
        match values.len() {
            0 => None,
            count if count % 2 == 1 => Some(values[middle]),
            _ => Some((values[middle - 1] + values[middle]) / 2.0),
        }
    }
}

/// What a change amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Worse, and outside every baseline run's figure.
    Regression,
    /// Better, and outside every baseline run's figure.
    Improvement,
    /// Within the baseline runs' range.
    Noise,
    /// Fewer than `MIN_RUNS_TO_JUDGE` baseline runs.
    TooFewRuns,
    /// This run or the baseline has no such figure.
    NotReported,
}

impl Judgement {
    pub fn label(self) -> &'static str {
        match self {
            Judgement::Regression => "regression",
            Judgement::Improvement => "improvement",
            Judgement::Noise => "noise",
            Judgement::TooFewRuns => "too few runs to judge",
            Judgement::NotReported => "not reported",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedFigure {
    pub metric: Metric,
    pub baseline_median: Option<f64>,
    /// The lowest and highest figure among the baseline runs.
    pub baseline_range: Option<(f64, f64)>,
    pub current: Option<f64>,
    /// `+8.2%`, or for the error rate `+0.30pp`.
    pub change: Option<String>,
    pub judgement: Judgement,
}

/// This run against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub branch: String,
    pub runs: usize,
    pub figures: Vec<ComparedFigure>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &ComparedFigure> {
        self.figures
            .iter()
            .filter(|figure| figure.judgement == Judgement::Regression)
    }
}

/// Compares `merged` with `baseline`, figure by figure. The rule: a change is a regression (or an
/// improvement) only when this run's figure lies outside the lowest–highest range of at least
/// `MIN_RUNS_TO_JUDGE` baseline runs; inside it, it is noise.
pub fn compare(merged: &Merged, baseline: &Baseline) -> Comparison {
    let figures = COMPARED
        .into_iter()
        .map(|metric| {
            let values = baseline.values(metric);
            let current = merged.measure(metric);
            let median = baseline.median(metric);
            let range = values.first().zip(values.last()).map(|(a, b)| (*a, *b));
            let change = current.zip(median).map(|(current, base)| {
                if metric == Metric::ErrorRate {
                    format!("{:+.2}pp", (current - base) * 100.0)
                } else {
                    percent_change(current, base)
                }
            });
            let judgement = match (current, range) {
                (Some(current), Some((low, high))) => {
                    if values.len() < MIN_RUNS_TO_JUDGE {
                        Judgement::TooFewRuns
                    } else if current >= low && current <= high {
                        Judgement::Noise
                    } else if (current > high) == higher_is_worse(metric) {
                        Judgement::Regression
                    } else {
                        Judgement::Improvement
                    }
                }
                _ => Judgement::NotReported,
            };
            ComparedFigure {
                metric,
                baseline_median: median,
                baseline_range: range,
                current,
                change,
                judgement,
            }
        })
        .collect();
    Comparison {
        branch: baseline.branch.clone(),
        runs: baseline.runs.len(),
        figures,
    }
}

/// Latency and errors are worse higher; throughput and request counts are worse lower.
fn higher_is_worse(metric: Metric) -> bool {
    !matches!(metric, Metric::Rps | Metric::Requests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::merge::LatencyFigures;

    fn run(p95_ms: f64, rps: f64, error_rate: f64) -> BaselineRun {
        BaselineRun {
            timestamp_ms: 0,
            commit: None,
            run_url: None,
            figures: BTreeMap::from([
                ("p50".to_string(), p95_ms * 500.0),
                ("p95".to_string(), p95_ms * 1000.0),
                ("p99".to_string(), p95_ms * 2000.0),
                ("rps".to_string(), rps),
                ("error_rate".to_string(), error_rate),
            ]),
        }
    }

    fn merged(p95_ms: f64, rps: f64, error_rate: f64) -> Merged {
        Merged {
            task_count: 1,
            tasks_reporting: 1,
            requests: 1000,
            rps: Some(rps),
            error_rate: Some(error_rate),
            latency: Some(LatencyFigures {
                p50_us: Some(p95_ms * 500.0),
                p95_us: Some(p95_ms * 1000.0),
                p99_us: Some(p95_ms * 2000.0),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn baseline(runs: Vec<BaselineRun>) -> Baseline {
        Baseline {
            branch: "main".into(),
            runs,
        }
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        let odd = baseline(vec![
            run(300.0, 1.0, 0.0),
            run(100.0, 1.0, 0.0),
            run(200.0, 1.0, 0.0),
        ]);
        assert_eq!(odd.median(Metric::P95), Some(200_000.0));
        let even = baseline(vec![run(100.0, 1.0, 0.0), run(400.0, 1.0, 0.0)]);
        assert_eq!(even.median(Metric::P95), Some(250_000.0));
        assert_eq!(even.median(Metric::P999), None);
    }

    #[test]
    fn a_change_outside_the_runs_spread_is_a_regression_inside_it_noise() {
        let baseline = baseline(vec![
            run(100.0, 200.0, 0.001),
            run(110.0, 190.0, 0.002),
            run(120.0, 210.0, 0.0),
        ]);
        let comparison = compare(&merged(121.0, 205.0, 0.001), &baseline);
        let judged: Vec<(&str, Judgement)> = comparison
            .figures
            .iter()
            .map(|figure| (figure.metric.name(), figure.judgement))
            .collect();
        assert_eq!(
            judged,
            [
                ("p50", Judgement::Regression),
                ("p95", Judgement::Regression),
                ("p99", Judgement::Regression),
                ("rps", Judgement::Noise),
                ("error_rate", Judgement::Noise),
            ]
        );
        let p95 = &comparison.figures[1];
        assert_eq!(p95.baseline_median, Some(110_000.0));
        assert_eq!(p95.baseline_range, Some((100_000.0, 120_000.0)));
        assert_eq!(p95.change.as_deref(), Some("+10.0%"));
        assert_eq!(comparison.regressions().count(), 3);

        // Lower throughput is worse, lower latency better.
        let comparison = compare(&merged(90.0, 180.0, 0.004), &baseline);
        let judged: Vec<Judgement> = comparison.figures.iter().map(|f| f.judgement).collect();
        assert_eq!(
            judged,
            [
                Judgement::Improvement,
                Judgement::Improvement,
                Judgement::Improvement,
                Judgement::Regression,
                Judgement::Regression,
            ]
        );
        assert_eq!(comparison.figures[4].change.as_deref(), Some("+0.30pp"));
    }

    #[test]
    fn fewer_than_three_runs_are_not_judged() {
        let baseline = baseline(vec![run(100.0, 200.0, 0.0), run(100.0, 200.0, 0.0)]);
        let comparison = compare(&merged(500.0, 10.0, 0.5), &baseline);
        assert!(
            comparison
                .figures
                .iter()
                .all(|figure| figure.judgement == Judgement::TooFewRuns)
        );
    }
}
