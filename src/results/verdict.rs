//! Pass or fail, and why: every task's outcome and every threshold.

use serde::Serialize;

use super::baseline::Baseline;
use super::merge::Merged;
use super::threshold::{Checked, Threshold};
use crate::exit::{self, THRESHOLD_FAILED};
use crate::outcome::TaskOutcome;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub exit_status: u8,
    /// One line per failed task or threshold.
    pub reasons: Vec<String>,
    /// Said next to the verdict when not every task reported results.
    pub coverage: Option<String>,
    pub thresholds: Vec<Checked>,
    /// A skipped relative threshold fails the run.
    #[serde(skip)]
    pub require_baseline: bool,
}

/// Passes only when every task succeeded and every threshold held. A failed task decides the
/// exit status before a failed threshold: its exit code says more. Relative thresholds compare
/// with `baseline` (or why there is none); one that is skipped fails only when
/// `require_baseline`.
pub fn decide(
    outcomes: &[&TaskOutcome],
    merged: &Merged,
    thresholds: &[Threshold],
    baseline: Result<&Baseline, &str>,
    require_baseline: bool,
) -> Verdict {
    let checked: Vec<Checked> = thresholds
        .iter()
        .map(|threshold| threshold.check(merged, baseline))
        .collect();
    let failed_tasks = outcomes
        .iter()
        .filter(|outcome| !outcome.succeeded())
        .count();
    let failed_thresholds: Vec<&Checked> = checked
        .iter()
        .filter(|check| check.fails(require_baseline))
        .collect();
    let mut reasons = Vec::new();
    if failed_tasks > 0 {
        reasons.push(format!("{failed_tasks} of {} tasks failed", outcomes.len()));
    }
    for check in &failed_thresholds {
        reasons.push(check.sentence(require_baseline));
    }
    let exit = if failed_tasks > 0 || outcomes.is_empty() {
        exit::of_outcomes(outcomes.iter().copied())
    } else if !failed_thresholds.is_empty() {
        THRESHOLD_FAILED
    } else {
        0
    };
    let coverage = match (merged.tasks_reporting, merged.task_count) {
        (_, 0) => None,
        (reporting, count) if reporting == count => None,
        (0, count) => Some(format!("none of {count} tasks reported results")),
        (reporting, count) => Some(format!(
            "{reporting} of {count} tasks reported results; figures are from {reporting}"
        )),
    };
    Verdict {
        passed: exit == 0,
        exit_status: exit,
        reasons,
        coverage,
        thresholds: checked,
        require_baseline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeKind;

    const NONE: Result<&Baseline, &str> = Err("no base branch");

    fn outcome(kind: OutcomeKind, exit_code: Option<i32>) -> TaskOutcome {
        TaskOutcome {
            kind,
            exit_code,
            reason: String::new(),
        }
    }

    fn merged(tasks_reporting: usize, task_count: usize, errors: u64) -> Merged {
        Merged {
            task_count,
            tasks_reporting,
            requests: 100,
            errors,
            error_rate: Some(errors as f64 / 100.0),
            rps: Some(10.0),
            ..Default::default()
        }
    }

    #[test]
    fn verdicts() {
        let ok = outcome(OutcomeKind::Succeeded, Some(0));
        let failed = outcome(OutcomeKind::ContainerFailed, Some(3));
        let rule = |text: &str| Threshold::parse(text).unwrap();

        let verdict = decide(
            &[&ok, &ok],
            &merged(2, 2, 0),
            &[rule("errors == 0")],
            NONE,
            false,
        );
        assert!(verdict.passed);
        assert_eq!((verdict.exit_status, verdict.coverage.clone()), (0, None));

        let verdict = decide(
            &[&ok, &ok],
            &merged(2, 2, 5),
            &[rule("error_rate < 1%")],
            NONE,
            false,
        );
        assert_eq!(verdict.exit_status, 99);
        assert_eq!(
            verdict.reasons,
            ["threshold `error_rate < 1%` failed: measured 5%"]
        );

        let verdict = decide(
            &[&ok, &failed],
            &merged(1, 2, 5),
            &[rule("error_rate < 1%")],
            NONE,
            false,
        );
        assert_eq!(verdict.exit_status, 3);
        assert_eq!(verdict.reasons.len(), 2);
        assert_eq!(
            verdict.coverage.as_deref(),
            Some("1 of 2 tasks reported results; figures are from 1")
        );

        let verdict = decide(
            &[&ok],
            &Merged {
                task_count: 1,
                ..Default::default()
            },
            &[rule("requests > 0")],
            NONE,
            false,
        );
        assert_eq!(verdict.exit_status, 99);
        assert_eq!(
            verdict.coverage.as_deref(),
            Some("none of 1 tasks reported results")
        );

        assert_eq!(
            decide(&[], &Merged::default(), &[], NONE, false).exit_status,
            1
        );

        // A relative rule without a baseline is skipped: it fails only when a baseline is
        // required.
        let relative = [rule("rps > -5%")];
        let verdict = decide(&[&ok], &merged(1, 1, 0), &relative, NONE, false);
        assert!(verdict.passed && verdict.thresholds[0].skipped);
        assert!(!verdict.thresholds[0].held);
        let verdict = decide(&[&ok], &merged(1, 1, 0), &relative, NONE, true);
        assert_eq!(verdict.exit_status, 99);
        assert_eq!(
            verdict.reasons,
            [
                "threshold `rps > -5%` could not be checked and `require-baseline` is true: measured 10 (no baseline: no base branch)"
            ]
        );
    }
}
