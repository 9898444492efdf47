//! Merging the tasks' results into one.
//!
//! Latency histograms are added, so merged percentiles are exactly those of all samples together.
//! Averaging percentiles across tasks, as the best-known tool in this field does, is wrong: the
//! p95 of the whole is not the mean of the parts' p95s. When a task sent only percentiles, the
//! merged latency is marked approximate and each figure is the worst task's, never lower.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::protocol::{
    Checks, ErrorExample, Latency, MAX_SERIES_POINTS, OTHER_NAMES, Series, TaskResult, add_example,
};
use crate::plan::Metric;

/// The latency figures reports show and thresholds check, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyFigures {
    /// True when some task sent only percentiles: the figures are the worst task's.
    pub approximate: bool,
    pub p50_us: Option<f64>,
    pub p90_us: Option<f64>,
    pub p95_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub p999_us: Option<f64>,
    pub max_us: Option<f64>,
    pub avg_us: Option<f64>,
}

/// All tasks' results together.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Merged {
    pub task_count: usize,
    /// Tasks whose result line was read.
    pub tasks_reporting: usize,
    pub requests: u64,
    pub errors: u64,
    /// errors / requests; `None` without requests.
    pub error_rate: Option<f64>,
    /// Total requests over the longest task duration.
    pub rps: Option<f64>,
    pub duration_ms: u64,
    pub status: BTreeMap<String, u64>,
    pub latency: Option<LatencyFigures>,
    /// Spread of the tasks' load start times, when they sent `started_ms`.
    pub start_skew_ms: Option<u64>,
    /// Requests the tasks' schedules called for that could not start, when they say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_classes: BTreeMap<String, u64>,
    /// The worst task's 99th percentile of lateness against its schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_lag_p99_us: Option<u64>,
    /// `(task index, how late)`: tasks whose load began more than `LATE_MS` after `START_AT`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late_tasks: Vec<(usize, u64)>,
    /// Every task's series added, interval by interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<MergedSeries>,
    /// Every sample of every task, when every task that reported latency sent a histogram.
    #[serde(skip)]
    pub histogram: Option<Histogram<u64>>,
    /// Checks passed and failed across the tasks that count them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// What the errors said: the first messages of each class across the tasks (at most
    /// `EXAMPLES_PER_CLASS` a class), with how many errors said each, most first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_examples: Vec<ErrorExample>,
    /// Some task's tester measures latency in whole milliseconds (JMeter), so the figures are.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub latency_whole_ms: bool,
    /// The request names with the most requests (`NAMES_SHOWN`), then the others as one row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<NameFigures>,
    /// Every request name's totals, for the rules on one name.
    #[serde(skip)]
    pub name_totals: BTreeMap<String, NameTotals>,
    /// With several regions: each region's tasks merged apart, exactly as the whole is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionMerged>,
}

/// One region's tasks merged: its figures, and the whole merge its rules are checked against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionMerged {
    pub region: String,
    pub tasks: usize,
    pub tasks_reporting: usize,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    /// Requests a second delivered: the region's requests over its longest task.
    pub rps: Option<f64>,
    pub p50_us: Option<f64>,
    pub p95_us: Option<f64>,
    pub p99_us: Option<f64>,
    #[serde(skip)]
    pub merged: Box<Merged>,
}

impl RegionMerged {
    /// Region `region`'s tasks: `results[first..first + tasks]`.
    pub fn of(region: &str, results: &[Option<TaskResult>]) -> RegionMerged {
        let merged = merge(results);
        let latency = merged.latency.clone().unwrap_or_default();
        RegionMerged {
            region: region.to_string(),
            tasks: merged.task_count,
            tasks_reporting: merged.tasks_reporting,
            requests: merged.requests,
            errors: merged.errors,
            error_rate: merged.error_rate,
            rps: merged.rps,
            p50_us: latency.p50_us,
            p95_us: latency.p95_us,
            p99_us: latency.p99_us,
            merged: Box::new(merged),
        }
    }
}

/// The request names a report lists; the others are summed in one row.
pub const NAMES_SHOWN: usize = 20;

/// One request name's figures, merged across the tasks exactly: counts added, histograms added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameFigures {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub p50_us: Option<f64>,
    pub p95_us: Option<f64>,
    pub p99_us: Option<f64>,
}

/// One name's counts and samples, added across tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameTotals {
    requests: u64,
    errors: u64,
    latency: Option<Histogram<u64>>,
}

impl NameTotals {
    fn add(&mut self, requests: u64, errors: u64, latency: Option<&Histogram<u64>>) {
        self.requests = self.requests.saturating_add(requests);
        self.errors = self.errors.saturating_add(errors);
        add_histogram(&mut self.latency, latency);
    }

    fn figures(&self, name: String) -> NameFigures {
        let at = |quantile: f64| {
            self.latency
                .as_ref()
                .filter(|latency| !latency.is_empty())
                .map(|latency| latency.value_at_quantile(quantile) as f64)
        };
        NameFigures {
            name,
            requests: self.requests,
            errors: self.errors,
            p50_us: at(0.5),
            p95_us: at(0.95),
            p99_us: at(0.99),
        }
    }
}

/// Every task's names added.
fn name_totals(reported: &[&TaskResult]) -> BTreeMap<String, NameTotals> {
    let mut all: BTreeMap<String, NameTotals> = BTreeMap::new();
    for result in reported {
        for (name, figures) in &result.names {
            all.entry(name.clone()).or_default().add(
                figures.requests,
                figures.errors,
                figures.latency.as_ref(),
            );
        }
    }
    all
}

/// The names ordered by requests (then name); past `NAMES_SHOWN`, one row `N other names` holds
/// the rest.
fn merge_names(all: &BTreeMap<String, NameTotals>) -> Vec<NameFigures> {
    let mut named: Vec<(&str, &NameTotals)> = all
        .iter()
        .map(|(name, totals)| (name.as_str(), totals))
        .collect();
    named.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(b.0)));
    let mut rows: Vec<NameFigures> = named
        .iter()
        .take(NAMES_SHOWN)
        .map(|(name, totals)| totals.figures(name.to_string()))
        .collect();
    if named.len() > NAMES_SHOWN {
        let mut rest = NameTotals::default();
        for (_, totals) in &named[NAMES_SHOWN..] {
            rest.add(totals.requests, totals.errors, totals.latency.as_ref());
        }
        rows.push(rest.figures(format!("{} other names", named.len() - NAMES_SHOWN)));
    }
    rows
}

/// Adds `more` into `into`; histograms that cannot be added leave `into` as it was.
fn add_histogram(into: &mut Option<Histogram<u64>>, more: Option<&Histogram<u64>>) {
    let Some(more) = more else {
        return;
    };
    match into {
        Some(histogram) => {
            let _ = histogram.add(more);
        }
        None => *into = Some(more.clone()),
    }
}

impl Merged {
    /// The measured figure: latency in microseconds, error rate as a fraction. `None` when no
    /// task reported it.
    /// The measured figure of the requests named `name` (latency in microseconds, the error rate
    /// as a fraction, requests a second as that name's share of the run's), or why there is none.
    pub fn measure_name(&self, name: &str, metric: Metric) -> Result<f64, String> {
        if self.name_totals.contains_key(OTHER_NAMES) {
            return Err(format!(
                "not judged: a task counted its request names past its limit together, so `{name}` may be short there"
            ));
        }
        let Some(totals) = self.name_totals.get(name) else {
            return Err(format!("no request named `{name}` was reported"));
        };
        let latency = totals
            .latency
            .as_ref()
            .map(histogram_figures)
            .unwrap_or_default();
        let measured = match metric {
            Metric::P50 => latency.p50_us,
            Metric::P90 => latency.p90_us,
            Metric::P95 => latency.p95_us,
            Metric::P99 => latency.p99_us,
            Metric::P999 => latency.p999_us,
            Metric::Max => latency.max_us,
            Metric::Avg => latency.avg_us,
            Metric::ErrorRate => {
                (totals.requests > 0).then(|| totals.errors as f64 / totals.requests as f64)
            }
            Metric::Rps => self
                .rps
                .filter(|_| self.requests > 0)
                .map(|rps| rps * totals.requests as f64 / self.requests as f64),
            Metric::Requests => Some(totals.requests as f64),
            Metric::Errors => Some(totals.errors as f64),
            Metric::Checks => None,
        };
        measured.ok_or_else(|| format!("`{name}` has no {}", metric.name()))
    }

    pub fn measure(&self, metric: Metric) -> Option<f64> {
        let reported = self.tasks_reporting > 0;
        let latency = self.latency.as_ref();
        match metric {
            Metric::P50 => latency?.p50_us,
            Metric::P90 => latency?.p90_us,
            Metric::P95 => latency?.p95_us,
            Metric::P99 => latency?.p99_us,
            Metric::P999 => latency?.p999_us,
            Metric::Max => latency?.max_us,
            Metric::Avg => latency?.avg_us,
            Metric::ErrorRate => self.error_rate,
            Metric::Rps => self.rps,
            Metric::Requests => reported.then_some(self.requests as f64),
            Metric::Errors => reported.then_some(self.errors as f64),
            Metric::Checks => self.checks.and_then(|checks| {
                let all = checks.passed.saturating_add(checks.failed);
                (all > 0).then(|| checks.passed as f64 / all as f64)
            }),
        }
    }
}

/// A task whose load began this long after `START_AT` is named as late. A tester that waits for
/// `START_AT` begins within milliseconds of it.
pub const LATE_MS: u64 = 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MergedSeries {
    pub start_ms: u64,
    pub interval_ms: u64,
    pub points: Vec<MergedPoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MergedPoint {
    pub requests: u64,
    pub errors: u64,
    pub p50_us: Option<u64>,
    pub p95_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// One task's latency figures (for per-task rows), in microseconds.
pub fn task_figures(latency: &Latency) -> LatencyFigures {
    match latency {
        Latency::Exact(histogram) => histogram_figures(histogram),
        Latency::Percentiles(percentiles) => {
            let us = |ms: Option<f64>| ms.map(|value| value * 1000.0);
            LatencyFigures {
                approximate: true,
                p50_us: us(percentiles.p50),
                p90_us: us(percentiles.p90),
                p95_us: us(percentiles.p95),
                p99_us: us(percentiles.p99),
                p999_us: None,
                max_us: us(percentiles.max),
                avg_us: None,
            }
        }
    }
}

fn histogram_figures(histogram: &Histogram<u64>) -> LatencyFigures {
    if histogram.is_empty() {
        return LatencyFigures::default();
    }
    let at = |quantile: f64| Some(histogram.value_at_quantile(quantile) as f64);
    LatencyFigures {
        approximate: false,
        p50_us: at(0.50),
        p90_us: at(0.90),
        p95_us: at(0.95),
        p99_us: at(0.99),
        p999_us: at(0.999),
        max_us: Some(histogram.max() as f64),
        avg_us: Some(histogram.mean()),
    }
}

/// Merges what each task reported (`None`: no valid result line). `results[i]` is task i's.
pub fn merge(results: &[Option<TaskResult>]) -> Merged {
    let reported: Vec<&TaskResult> = results.iter().flatten().collect();
    // Counts come from testers: added with saturation, so a broken or hostile one cannot wrap
    // the totals (or panic the run).
    let sum = |count: fn(&TaskResult) -> u64| {
        reported
            .iter()
            .fold(0u64, |sum, result| sum.saturating_add(count(result)))
    };
    let requests = sum(|result| result.requests);
    let errors = sum(|result| result.errors);
    let names = name_totals(&reported);
    let duration_ms = reported
        .iter()
        .map(|result| result.duration_ms)
        .max()
        .unwrap_or_default();
    let mut status = BTreeMap::new();
    for result in &reported {
        for (code, count) in &result.status {
            let total = status.entry(code.clone()).or_insert(0u64);
            *total = total.saturating_add(*count);
        }
    }
    let starts: Vec<u64> = reported
        .iter()
        .filter_map(|result| result.started_ms)
        .collect();
    let (latency, histogram) = merge_latency(&reported);
    let start_skew_ms = match (starts.iter().min(), starts.iter().max()) {
        (Some(first), Some(last)) if starts.len() > 1 => Some(last - first),
        _ => None,
    };
    Merged {
        task_count: results.len(),
        tasks_reporting: reported.len(),
        requests,
        errors,
        error_rate: (requests > 0).then(|| errors as f64 / requests as f64),
        rps: (duration_ms > 0 && !reported.is_empty())
            .then(|| requests as f64 * 1000.0 / duration_ms as f64),
        duration_ms,
        status,
        latency,
        start_skew_ms,
        dropped: reported
            .iter()
            .filter_map(|result| result.dropped)
            .reduce(u64::saturating_add),
        error_classes: reported
            .iter()
            .flat_map(|result| &result.error_classes)
            .fold(BTreeMap::new(), |mut classes, (class, count)| {
                let total = classes.entry(class.clone()).or_insert(0u64);
                *total = total.saturating_add(*count);
                classes
            }),
        schedule_lag_p99_us: reported
            .iter()
            .filter_map(|result| result.schedule_lag_p99_us)
            .max(),
        late_tasks: results
            .iter()
            .enumerate()
            .filter_map(|(index, result)| {
                let result = result.as_ref()?;
                let late = result.started_ms?.checked_sub(result.start_at_ms?)?;
                (late > LATE_MS).then_some((index, late))
            })
            .collect(),
        series: merge_series(&reported),
        histogram,
        error_examples: merge_examples(&reported),
        latency_whole_ms: reported
            .iter()
            .any(|result| result.latency_resolution_us.is_some_and(|us| us >= 1000)),
        checks: reported
            .iter()
            .filter_map(|result| result.checks)
            .reduce(|a, b| Checks {
                passed: a.passed.saturating_add(b.passed),
                failed: a.failed.saturating_add(b.failed),
            }),
        names: merge_names(&names),
        name_totals: names,
        regions: Vec::new(),
    }
}

/// The most points a merged series may hold: a tester sends at most `MAX_SERIES_POINTS`, and
/// tasks that began late add a few more at the end.
const MAX_MERGED_POINTS: u64 = 2 * MAX_SERIES_POINTS as u64;

/// Adds the tasks' series by absolute time. Series of different intervals cannot be added
/// exactly: then there is none.
fn merge_series(reported: &[&TaskResult]) -> Option<MergedSeries> {
    let series: Vec<&Series> = reported
        .iter()
        .filter_map(|result| result.series.as_ref())
        .collect();
    let interval_ms = series.first()?.interval_ms;
    if interval_ms == 0 || series.iter().any(|one| one.interval_ms != interval_ms) {
        return None;
    }
    let start_ms = series.iter().map(|one| one.start_ms).min()?;
    // Every task's series is aligned to the one START_AT, so they overlap; series that lie
    // further apart than a merged series may span were not measured together (or were made up),
    // and the merge, sized by their offsets, is not made: the figures stand without the charts.
    let span = series
        .iter()
        .map(|one| {
            ((one.start_ms - start_ms) / interval_ms).saturating_add(one.points.len() as u64)
        })
        .max()?;
    if span > MAX_MERGED_POINTS {
        return None;
    }
    let mut points: Vec<(u64, u64, Option<Histogram<u64>>)> = Vec::new();
    for one in &series {
        let offset = ((one.start_ms - start_ms) / interval_ms) as usize;
        for (index, point) in one.points.iter().enumerate() {
            let at = offset + index;
            if points.len() <= at {
                points.resize_with(at + 1, || (0, 0, None));
            }
            let merged = &mut points[at];
            merged.0 = merged.0.saturating_add(point.requests);
            merged.1 = merged.1.saturating_add(point.errors);
            if let Some(latency) = &point.latency {
                match merged.2.as_mut() {
                    None => merged.2 = Some(latency.clone()),
                    Some(total) => {
                        let _ = total.add(latency);
                    }
                }
            }
        }
    }
    Some(MergedSeries {
        start_ms,
        interval_ms,
        points: points
            .into_iter()
            .map(|(requests, errors, latency)| {
                let at = |quantile: f64| {
                    latency
                        .as_ref()
                        .filter(|histogram| !histogram.is_empty())
                        .map(|histogram| histogram.value_at_quantile(quantile))
                };
                MergedPoint {
                    requests,
                    errors,
                    p50_us: at(0.50),
                    p95_us: at(0.95),
                    p99_us: at(0.99),
                }
            })
            .collect(),
    })
}

/// The merged figures, and the merged histogram when it holds every sample.
/// The tasks' error messages, the same words added up; per class the most said first, at most
/// `EXAMPLES_PER_CLASS`.
fn merge_examples(reported: &[&TaskResult]) -> Vec<ErrorExample> {
    // Every task's messages first (a task keeps at most a few a class), then the most said.
    let mut all: Vec<ErrorExample> = Vec::new();
    for example in reported.iter().flat_map(|result| &result.error_examples) {
        match all
            .iter_mut()
            .find(|kept| kept.class == example.class && kept.message == example.message)
        {
            Some(kept) => kept.count = kept.count.saturating_add(example.count),
            None => all.push(example.clone()),
        }
    }
    all.sort_by(|a, b| a.class.cmp(&b.class).then(b.count.cmp(&a.count)));
    let mut kept = Vec::new();
    for example in all {
        add_example(&mut kept, &example.class, &example.message, example.count);
    }
    kept
}

fn merge_latency(reported: &[&TaskResult]) -> (Option<LatencyFigures>, Option<Histogram<u64>>) {
    let latencies: Vec<&Latency> = reported
        .iter()
        .filter_map(|result| result.latency.as_ref())
        .collect();
    if latencies.is_empty() {
        return (None, None);
    }
    let mut combined: Option<Histogram<u64>> = None;
    let mut approximate: Vec<LatencyFigures> = Vec::new();
    for latency in &latencies {
        match latency {
            Latency::Exact(histogram) => match combined.as_mut() {
                None => combined = Some(histogram.clone()),
                // Auto-resizing histograms take any range, so adding cannot fail on range;
                // should it fail anyway, the figures become approximate rather than wrong.
                Some(total) => {
                    if total.add(histogram).is_err() {
                        approximate.push(histogram_figures(histogram));
                    }
                }
            },
            Latency::Percentiles(_) => approximate.push(task_figures(latency)),
        }
    }
    let exact = combined.as_ref().map(histogram_figures);
    if approximate.is_empty() {
        return (exact, combined);
    }
    // Conservative: each figure is the worst over the exact merge and every approximate task.
    let parts: Vec<&LatencyFigures> = exact.iter().chain(approximate.iter()).collect();
    let worst = |pick: fn(&LatencyFigures) -> Option<f64>| {
        parts.iter().filter_map(|part| pick(part)).reduce(f64::max)
    };
    let figures = LatencyFigures {
        approximate: true,
        p50_us: worst(|figures| figures.p50_us),
        p90_us: worst(|figures| figures.p90_us),
        p95_us: worst(|figures| figures.p95_us),
        p99_us: worst(|figures| figures.p99_us),
        // Only tasks with histograms know p99.9 and the mean: without every task, not known.
        p999_us: None,
        max_us: worst(|figures| figures.max_us),
        avg_us: None,
    };
    (Some(figures), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::protocol::Percentiles;

    #[test]
    fn request_names_and_checks_add_up_exactly_and_the_many_are_summed() {
        use crate::results::protocol::{Checks, NameResult};
        let named = |names: &[(&str, u64, Vec<u64>)], passed: u64| {
            Some(TaskResult {
                requests: names.iter().map(|(_, requests, _)| requests).sum(),
                duration_ms: 1000,
                checks: Some(Checks { passed, failed: 1 }),
                names: names
                    .iter()
                    .map(|(name, requests, samples)| {
                        (
                            name.to_string(),
                            NameResult {
                                requests: *requests,
                                errors: 1,
                                latency: Some(histogram(samples.clone())),
                            },
                        )
                    })
                    .collect(),
                ..Default::default()
            })
        };
        let merged = merge(&[
            named(
                &[
                    ("home", 3, vec![1_000, 2_000, 3_000]),
                    ("cart", 1, vec![50_000]),
                ],
                4,
            ),
            named(&[("home", 2, vec![4_000, 100_000])], 2),
        ]);
        let rows: Vec<(&str, u64, u64)> = merged
            .names
            .iter()
            .map(|row| (row.name.as_str(), row.requests, row.errors))
            .collect();
        assert_eq!(rows, [("home", 5, 2), ("cart", 1, 1)]);
        // The p95 of the five home samples together, not an average of the tasks' p95s.
        assert_eq!(
            merged.names[0].p95_us.map(|us| (us / 1000.0).round()),
            Some(100.0)
        );
        assert_eq!(
            merged.checks,
            Some(Checks {
                passed: 6,
                failed: 2
            })
        );
        assert_eq!(merged.measure(Metric::Checks), Some(0.75));
        // A rule on one name reads that name's samples of every task together.
        let p95 = merged.measure_name("home", Metric::P95).unwrap();
        assert_eq!((p95 / 1000.0).round(), 100.0);
        assert_eq!(merged.measure_name("home", Metric::ErrorRate), Ok(0.4));
        assert_eq!(merged.measure_name("cart", Metric::Requests), Ok(1.0));
        let missing = merged.measure_name("login", Metric::P95).unwrap_err();
        assert!(missing.contains("no request named `login`"), "{missing}");
        // A task that counted names past its limit together: no name is judged.
        let folded = merge(&[named(
            &[("home", 3, vec![1_000]), (OTHER_NAMES, 9, vec![1_000])],
            0,
        )]);
        let why = folded.measure_name("home", Metric::Requests).unwrap_err();
        assert!(why.contains("past its limit"), "{why}");

        let many: Vec<(String, u64, Vec<u64>)> = (0..NAMES_SHOWN as u64 + 5)
            .map(|index| (format!("/item/{index:02}"), 100 - index, vec![1_000]))
            .collect();
        let many: Vec<(&str, u64, Vec<u64>)> = many
            .iter()
            .map(|(name, requests, samples)| (name.as_str(), *requests, samples.clone()))
            .collect();
        let merged = merge(&[named(&many, 0)]);
        // A name past the rows shown is still there for a rule on it.
        assert_eq!(merged.measure_name("/item/24", Metric::Requests), Ok(76.0));
        assert_eq!(merged.names.len(), NAMES_SHOWN + 1);
        let rest = merged.names.last().unwrap();
        assert_eq!(rest.name, "5 other names");
        assert_eq!(rest.requests, (100 - 24..=100 - 20).sum::<u64>());
    }

    fn histogram(samples_us: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        histogram.auto(true);
        for sample in samples_us {
            histogram.record(sample).unwrap();
        }
        histogram
    }

    fn exact(
        requests: u64,
        errors: u64,
        duration_ms: u64,
        samples: Vec<u64>,
    ) -> Option<TaskResult> {
        Some(TaskResult {
            requests,
            errors,
            duration_ms,
            status: BTreeMap::from([
                ("200".to_string(), requests - errors),
                ("503".to_string(), errors),
            ]),
            latency: Some(Latency::Exact(histogram(samples))),
            started_ms: None,
            ..Default::default()
        })
    }

    fn hostile(
        requests: u64,
        start_ms: u64,
        interval_ms: u64,
        points: usize,
        status: u64,
    ) -> Option<TaskResult> {
        Some(TaskResult {
            requests,
            errors: requests,
            duration_ms: start_ms % 1000,
            status: BTreeMap::from([("200".to_string(), status)]),
            dropped: Some(requests),
            error_classes: BTreeMap::from([("status".to_string(), status)]),
            started_ms: Some(start_ms),
            start_at_ms: Some(requests),
            series: Some(Series {
                start_ms,
                interval_ms,
                points: (0..points)
                    .map(|_| crate::results::protocol::SeriesPoint {
                        requests,
                        errors: requests,
                        latency: None,
                    })
                    .collect(),
            }),
            ..Default::default()
        })
    }

    proptest::proptest! {
        /// What testers report is merged without a panic or a wrap, and within a memory bound
        /// whatever their counts and however far apart they say their series began (the merge
        /// was sized by those offsets: two series 2^60 ms apart asked for 2^50 points).
        #[test]
        fn hostile_results_merge_within_bounds(
            tasks in proptest::collection::vec(
                (proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>(), 1u64..=u64::MAX, 0usize..=MAX_SERIES_POINTS, proptest::prelude::any::<u64>()),
                1..6,
            )
        ) {
            let results: Vec<Option<TaskResult>> = tasks
                .iter()
                .map(|(requests, start, interval, points, status)| hostile(*requests, *start, *interval, *points, *status))
                .collect();
            let merged = merge(&results);
            let most = tasks.iter().map(|task| task.0).max().unwrap_or_default();
            proptest::prop_assert!(merged.requests >= most);
            if let Some(series) = &merged.series {
                proptest::prop_assert!(series.points.len() as u64 <= MAX_MERGED_POINTS);
            }
        }
    }

    #[test]
    fn counts_saturate_and_far_apart_series_are_not_merged() {
        let results = [
            hostile(u64::MAX - 1, 0, 1000, 120, u64::MAX),
            hostile(5, 1 << 60, 1000, 120, 7),
        ];
        let merged = merge(&results);
        assert_eq!(merged.requests, u64::MAX);
        assert_eq!(merged.status["200"], u64::MAX);
        assert_eq!(merged.dropped, Some(u64::MAX));
        assert!(merged.series.is_none());
        // Series that overlap, as every task's does under one START_AT, still merge.
        let merged = merge(&[
            hostile(5, 10_000, 1000, 120, 1),
            hostile(5, 12_000, 1000, 120, 1),
        ]);
        assert_eq!(merged.series.unwrap().points.len(), 122);
    }

    #[test]
    fn merged_histograms_equal_the_histogram_of_all_samples() {
        // Three tasks with very different latency: a fast one, a middle one and a slow tail.
        let fast: Vec<u64> = (1..=9000).map(|i| 1_000 + i % 500).collect();
        let middle: Vec<u64> = (1..=900).map(|i| 20_000 + i * 7).collect();
        let slow: Vec<u64> = (1..=100).map(|i| 400_000 + i * 1_000).collect();
        let merged = merge(&[
            exact(9000, 0, 60_000, fast.clone()),
            exact(900, 9, 61_000, middle.clone()),
            exact(100, 50, 59_000, slow.clone()),
        ]);
        let all = histogram(fast.iter().chain(&middle).chain(&slow).copied());
        let latency = merged.latency.unwrap();
        assert!(!latency.approximate);
        for (quantile, figure) in [
            (0.50, latency.p50_us),
            (0.90, latency.p90_us),
            (0.95, latency.p95_us),
            (0.99, latency.p99_us),
            (0.999, latency.p999_us),
        ] {
            assert_eq!(
                figure,
                Some(all.value_at_quantile(quantile) as f64),
                "p{quantile}"
            );
        }
        assert_eq!(latency.max_us, Some(all.max() as f64));
        assert_eq!(latency.avg_us, Some(all.mean()));
        // Averaging the tasks' p99s gives a different, wrong figure.
        let averaged_p99 = [&fast, &middle, &slow]
            .iter()
            .map(|samples| histogram(samples.iter().copied()).value_at_quantile(0.99) as f64)
            .sum::<f64>()
            / 3.0;
        assert_ne!(latency.p99_us, Some(averaged_p99));

        assert_eq!((merged.requests, merged.errors), (10_000, 59));
        assert_eq!(merged.status["503"], 59);
        assert_eq!(merged.duration_ms, 61_000);
        assert_eq!(merged.rps, Some(10_000.0 * 1000.0 / 61_000.0));
        assert_eq!(merged.error_rate, Some(0.0059));
        assert_eq!((merged.task_count, merged.tasks_reporting), (3, 3));
    }

    #[test]
    fn percentiles_only_are_approximate_and_never_lower_than_the_worst_task() {
        let percentiles = Some(TaskResult {
            requests: 100,
            errors: 0,
            duration_ms: 10_000,
            status: BTreeMap::new(),
            latency: Some(Latency::Percentiles(Percentiles {
                p50: Some(10.0),
                p90: Some(20.0),
                p95: Some(30.0),
                p99: None,
                max: Some(50.0),
            })),
            started_ms: Some(1_000),
            ..Default::default()
        });
        let mut slow = exact(100, 0, 10_000, (0..100).map(|i| 40_000 + i * 10).collect()).unwrap();
        slow.started_ms = Some(1_250);
        let merged = merge(&[percentiles, Some(slow), None]);
        let latency = merged.latency.unwrap();
        assert!(latency.approximate);
        // p95: the histogram task's (about 40.9 ms) is worse than 30 ms.
        assert!(latency.p95_us.unwrap() > 40_000.0);
        // p50 of the histogram task (about 40.5 ms) is worse than 10 ms too.
        assert!(latency.p50_us.unwrap() > 40_000.0);
        // max: the percentile task's 50 ms is worse than the histogram task's 41 ms.
        assert_eq!(latency.max_us, Some(50_000.0));
        assert_eq!(latency.avg_us, None);
        assert_eq!(latency.p999_us, None);
        assert_eq!((merged.task_count, merged.tasks_reporting), (3, 2));
        assert_eq!(merged.start_skew_ms, Some(250));
    }

    #[test]
    fn nothing_reported() {
        let merged = merge(&[None, None]);
        assert_eq!(merged.tasks_reporting, 0);
        assert_eq!(merged.rps, None);
        assert_eq!(merged.error_rate, None);
        assert_eq!(merged.latency, None);
    }
}
