//! Threshold rules (`plan::thresholds`) checked against the merged results, and, for a rule
//! relative to the base branch, against its baseline.

use serde::Serialize;

use super::baseline::Baseline;
use super::merge::Merged;
use super::progress::Total;
use crate::plan::{Change, Metric, Op, Threshold, percent_change};

/// An `abortOnFail` threshold that failed on every task's progress during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossed {
    pub rule: String,
    /// The figure as the rule reads it, as text.
    pub measured: String,
    /// How far into the load (the furthest task) it was found.
    pub elapsed_s: f64,
}

impl Crossed {
    /// The check it makes of its rule: failed, whatever the figures at the end say, as k6 fails
    /// a threshold that aborted the test.
    pub fn checked(&self) -> Checked {
        Checked {
            rule: self.rule.clone(),
            held: false,
            skipped: false,
            measured: format!(
                "{} at {:.0} s on every task's progress, when every task was stopped (abortOnFail)",
                self.measured, self.elapsed_s
            ),
        }
    }
}

/// A rule checked against the merged results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    pub rule: String,
    pub held: bool,
    /// A relative rule with no baseline to compare with: neither held nor failed. Whether that
    /// fails the run is the verdict's to decide (`require-baseline`).
    pub skipped: bool,
    /// The measured figure as text (for a relative rule, with the change and the baseline), or
    /// why there is none.
    pub measured: String,
}

impl Checked {
    /// Whether the check fails the run: it failed, or it was skipped while a baseline is required.
    pub fn fails(&self, require_baseline: bool) -> bool {
        !self.held && (!self.skipped || require_baseline)
    }

    /// The check that did not hold, in one sentence.
    pub fn sentence(&self, require_baseline: bool) -> String {
        let what = match (self.skipped, require_baseline) {
            (false, _) => "failed",
            (true, true) => "could not be checked and `require-baseline` is true",
            (true, false) => "skipped",
        };
        format!(
            "threshold {} {what}: measured {}",
            crate::quote::code(&self.rule),
            self.measured
        )
    }
}

impl Threshold {
    /// Whether the tasks' progress lines carry this rule's figure during the run: counts, the
    /// error rate, requests a second, checks, and p95 (bounded by the least and the worst task's).
    pub fn judged_live(&self) -> bool {
        self.name.is_none()
            && self.region.is_none()
            && self.relative.is_none()
            && matches!(
                self.metric,
                Metric::P95
                    | Metric::ErrorRate
                    | Metric::Rps
                    | Metric::Requests
                    | Metric::Errors
                    | Metric::Checks
            )
            && !(self.metric == Metric::P95 && self.op == Op::Eq)
    }

    /// An `abortOnFail` rule that certainly fails on what every task has reported so far; `None`
    /// while it holds, while some task has reported nothing, or before its `delayAbortEval`.
    /// The whole's p95 lies between the least and the worst task's p95: a `<` rule fails once
    /// the least fails it, a `>` rule once the worst does.
    pub fn crossed(&self, total: &Total) -> Option<Crossed> {
        let after = self.abort_after_s?;
        if !self.judged_live() || total.tasks_reporting < total.task_count {
            return None;
        }
        let elapsed = total.elapsed_s?;
        if elapsed < after {
            return None;
        }
        let share = |part: u64, all: u64| (all > 0).then(|| part as f64 / all as f64);
        let measured = match self.metric {
            Metric::Requests => Some(total.requests as f64),
            Metric::Errors => Some(total.errors as f64),
            Metric::ErrorRate => share(total.errors, total.requests),
            Metric::Rps => (elapsed > 0.0).then(|| total.requests as f64 / elapsed),
            Metric::Checks => total
                .checks
                .and_then(|(passed, failed)| share(passed, passed.saturating_add(failed))),
            Metric::P95 if matches!(self.op, Op::Lt | Op::Le) => total.least_p95_us,
            Metric::P95 => total.worst_p95_us,
            _ => None,
        }?;
        (!self.op.holds(measured, self.limit)).then(|| Crossed {
            rule: self.rule.clone(),
            measured: self.metric.format(measured),
            elapsed_s: elapsed,
        })
    }

    /// A threshold on a figure no task reported fails: it never passes on missing data. A relative
    /// rule compares with `baseline` (the base branch's median of the figure, or why there is
    /// none) and is skipped without one, never passed.
    pub fn check(&self, merged: &Merged, baseline: Result<&Baseline, &str>) -> Checked {
        let checked = |held: bool, skipped: bool, measured: String| Checked {
            rule: self.rule.clone(),
            held,
            skipped,
            measured,
        };
        let merged = match &self.region {
            Some(region) => match merged
                .regions
                .iter()
                .find(|merged| merged.region == *region)
            {
                Some(found) => &*found.merged,
                None => return checked(false, false, format!("no task ran in `{region}`")),
            },
            None => merged,
        };
        if let Some(name) = &self.name {
            return match merged.measure_name(name, self.metric) {
                Ok(measured) => checked(
                    self.op.holds(measured, self.limit),
                    false,
                    self.metric.format(measured),
                ),
                Err(why) => checked(false, false, why),
            };
        }
        let Some(measured) = merged.measure(self.metric) else {
            return checked(false, false, "not reported".to_string());
        };
        let Some(change) = self.relative else {
            return checked(
                self.op.holds(measured, self.limit),
                false,
                self.metric.format(measured),
            );
        };
        let base = match baseline {
            Ok(baseline) => match baseline.median(self.metric) {
                Some(base) => base,
                None => {
                    return checked(
                        false,
                        true,
                        format!(
                            "{} (no baseline: the baseline runs have no {})",
                            self.metric.format(measured),
                            self.metric.name()
                        ),
                    );
                }
            },
            Err(why) => {
                return checked(
                    false,
                    true,
                    format!("{} (no baseline: {why})", self.metric.format(measured)),
                );
            }
        };
        let (bound, change_text) = match change {
            Change::Percent => (base * (1.0 + self.limit), percent_change(measured, base)),
            Change::Points => (
                base + self.limit,
                format!("{:+.2}pp", (measured - base) * 100.0),
            ),
        };
        checked(
            self.op.holds(measured, bound),
            false,
            format!(
                "{} ({change_text} vs {})",
                self.metric.format(measured),
                self.metric.format(base)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::merge::LatencyFigures;

    fn merged() -> Merged {
        Merged {
            task_count: 2,
            tasks_reporting: 2,
            requests: 12_000,
            errors: 60,
            error_rate: Some(0.005),
            rps: Some(200.0),
            duration_ms: 60_000,
            latency: Some(LatencyFigures {
                approximate: false,
                p50_us: Some(20_000.0),
                p90_us: Some(90_000.0),
                p95_us: Some(412_300.0),
                p99_us: Some(1_200_000.0),
                p999_us: Some(2_000_000.0),
                max_us: Some(3_000_000.0),
                avg_us: Some(50_000.0),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn checks_against_merged_figures() {
        let merged = merged();
        for (rule, held, measured) in [
            ("p95 < 500ms", true, "412.3ms"),
            ("p95 < 400ms", false, "412.3ms"),
            ("p99 <= 1.2s", true, "1.2s"),
            ("error_rate < 1%", true, "0.5%"),
            ("error_rate < 0.5%", false, "0.5%"),
            ("rps >= 200", true, "200"),
            ("requests > 0", true, "12000"),
            ("errors == 0", false, "60"),
            ("avg < 800us", false, "50ms"),
        ] {
            let checked = Threshold::parse(rule)
                .unwrap()
                .check(&merged, Err("no baseline"));
            assert_eq!(
                (checked.held, checked.measured.as_str()),
                (held, measured),
                "{rule}"
            );
        }
    }

    #[test]
    fn missing_data_never_passes() {
        let mut merged = merged();
        merged.latency.as_mut().unwrap().avg_us = None;
        let checked = Threshold::parse("avg < 10s")
            .unwrap()
            .check(&merged, Err("no baseline"));
        assert_eq!(
            (checked.held, checked.measured.as_str()),
            (false, "not reported")
        );

        let nothing = Merged {
            task_count: 2,
            ..Default::default()
        };
        for rule in [
            "requests >= 0",
            "errors == 0",
            "rps > 0",
            "error_rate < 100%",
            "p50 < 10s",
        ] {
            assert!(
                !Threshold::parse(rule)
                    .unwrap()
                    .check(&nothing, Err("no baseline"))
                    .held,
                "{rule}"
            );
        }
    }

    #[test]
    fn relative_rules_check_against_the_baseline_median_or_are_skipped() {
        use crate::results::baseline::BaselineRun;
        use std::collections::BTreeMap;
        let run = |p95_us: f64, rps: f64, error_rate: f64| BaselineRun {
            timestamp_ms: 0,
            commit: None,
            run_url: None,
            figures: BTreeMap::from([
                ("p95".to_string(), p95_us),
                ("rps".to_string(), rps),
                ("error_rate".to_string(), error_rate),
            ]),
        };
        let baseline = Baseline {
            branch: "main".into(),
            runs: vec![
                run(380_000.0, 210.0, 0.001),
                run(375_000.0, 205.0, 0.002),
                run(390_000.0, 190.0, 0.004),
            ],
        };
        // This run: p95 412.3ms, 200 rps, error rate 0.5%.
        let merged = merged();
        for (rule, held, measured) in [
            ("p95 < +10%", true, "412.3ms (+8.5% vs 380ms)"),
            ("p95 < +5%", false, "412.3ms (+8.5% vs 380ms)"),
            ("rps > -5%", true, "200 (-2.4% vs 205)"),
            ("error_rate < +0.5pp", true, "0.5% (+0.30pp vs 0.2%)"),
            ("error_rate < +0.2pp", false, "0.5% (+0.30pp vs 0.2%)"),
        ] {
            let checked = Threshold::parse(rule)
                .unwrap()
                .check(&merged, Ok(&baseline));
            assert_eq!(
                (checked.held, checked.skipped, checked.measured.as_str()),
                (held, false, measured),
                "{rule}"
            );
        }
        let skipped = Threshold::parse("p95 < +10%")
            .unwrap()
            .check(&merged, Err("no base branch"));
        assert_eq!(
            (skipped.held, skipped.skipped, skipped.measured.as_str()),
            (false, true, "412.3ms (no baseline: no base branch)")
        );
        // Absolute rules ignore the baseline.
        let absolute = Threshold::parse("p95 < 500ms")
            .unwrap()
            .check(&merged, Err("no base branch"));
        assert!(absolute.held && !absolute.skipped);
    }

    #[test]
    fn an_abort_rule_fails_live_only_on_what_every_task_reported() {
        let total = |p95s: &[Option<f64>], requests, errors| Total {
            task_count: p95s.len(),
            tasks_reporting: p95s.iter().filter(|p95| p95.is_some()).count(),
            elapsed_s: Some(20.0),
            requests,
            errors,
            worst_p95_us: p95s.iter().flatten().copied().reduce(f64::max),
            least_p95_us: p95s.iter().flatten().copied().reduce(f64::min),
            ..Total::default()
        };
        let abort = |rule: &str, after: f64| {
            let mut rule = Threshold::parse(rule).unwrap();
            rule.abort_after_s = Some(after);
            rule
        };
        // The whole's p95 is at least the least task's: only then is a `<` rule surely failed.
        let p95 = abort("p95 < 100ms", 0.0);
        let slow = total(&[Some(150_000.0), Some(120_000.0)], 100, 0);
        assert_eq!(p95.crossed(&slow).unwrap().measured, "120ms");
        let mixed = total(&[Some(150_000.0), Some(20_000.0)], 100, 0);
        assert_eq!(p95.crossed(&mixed), None);
        // A task that has reported nothing may hold every fast sample.
        let partial = total(&[Some(150_000.0), None], 100, 0);
        assert_eq!(p95.crossed(&partial), None);
        // Counts and rates are exact; delayAbortEval waits.
        let failing = total(&[Some(1.0), Some(1.0)], 100, 5);
        assert!(abort("error_rate < 1%", 0.0).crossed(&failing).is_some());
        assert_eq!(abort("error_rate < 1%", 30.0).crossed(&failing), None);
        assert_eq!(abort("error_rate < 10%", 0.0).crossed(&failing), None);
        // Not an abort rule, or a figure the progress does not carry: never during the run.
        assert_eq!(
            Threshold::parse("errors == 0").unwrap().crossed(&failing),
            None
        );
        assert_eq!(abort("p99 < 1ms", 0.0).crossed(&slow), None);
    }
}
