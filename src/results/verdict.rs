//! Pass or fail, and why: every task's outcome and every threshold.

use super::baseline::Baseline;
use super::delivery::Delivery;
use super::merge::Merged;
use super::threshold::{Checked, Crossed};
use crate::exit::{self, THRESHOLD_FAILED};
use crate::outcome::TaskOutcome;
use crate::plan::Threshold;

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    pub exit_status: u8,
    /// One line per failed task or threshold.
    pub reasons: Vec<String>,
    /// Said next to the verdict when not every task reported results.
    pub coverage: Option<String>,
    pub thresholds: Vec<Checked>,
    /// A skipped relative threshold fails the run.
    pub require_baseline: bool,
    /// The sentence that says the test did not deliver its load, when it did not.
    pub shortfall: Option<String>,
    /// The shortfall failed the run (`fail-on-under-delivery`); else it is a warning.
    pub shortfall_fails: bool,
}

/// What a run is held to besides its tasks' outcomes.
pub struct Rules<'a> {
    pub thresholds: &'a [Threshold],
    /// Relative thresholds compare with this (or why there is none).
    pub baseline: Result<&'a Baseline, &'a str>,
    /// A skipped relative threshold fails the run.
    pub require_baseline: bool,
    /// The load asked against the load delivered.
    pub delivery: Option<&'a Delivery>,
    /// A test that did not deliver its load fails the run (else it is a warning).
    pub fail_on_under_delivery: bool,
    /// The `abortOnFail` threshold that stopped every task during the run.
    pub crossed: Option<&'a Crossed>,
}

/// Passes only when every task succeeded, every threshold held and (when the rules say so) the
/// load was delivered. A failed task decides the exit status before a failed threshold: its exit
/// code says more.
pub fn decide(outcomes: &[&TaskOutcome], merged: &Merged, rules: &Rules) -> Verdict {
    let Rules {
        thresholds,
        baseline,
        require_baseline,
        delivery,
        fail_on_under_delivery,
        crossed,
    } = *rules;
    let checked: Vec<Checked> = thresholds
        .iter()
        .map(|threshold| match crossed {
            Some(crossed) if crossed.rule == threshold.rule => crossed.checked(),
            _ => threshold.check(merged, baseline),
        })
        .collect();
    let failed_tasks = outcomes.iter().filter(|outcome| outcome.fails()).count();
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
    let shortfall = delivery.and_then(|delivery| delivery.shortfall_sentence.clone());
    let delivery_fails = fail_on_under_delivery && shortfall.is_some();
    if let (true, Some(sentence)) = (delivery_fails, &shortfall) {
        reasons.push(sentence.clone());
    }
    let exit = if failed_tasks > 0 || outcomes.is_empty() {
        exit::of_outcomes(outcomes.iter().copied())
    } else if !failed_thresholds.is_empty() || delivery_fails {
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
        shortfall,
        shortfall_fails: delivery_fails,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeKind;

    const NONE: Result<&Baseline, &str> = Err("no base branch");

    fn rules(thresholds: &[Threshold], require_baseline: bool) -> Rules<'_> {
        Rules {
            thresholds,
            baseline: NONE,
            require_baseline,
            delivery: None,
            fail_on_under_delivery: false,
            crossed: None,
        }
    }

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
            &rules(&[rule("errors == 0")], false),
        );
        assert!(verdict.passed);
        assert_eq!((verdict.exit_status, verdict.coverage.clone()), (0, None));

        let verdict = decide(
            &[&ok, &ok],
            &merged(2, 2, 5),
            &rules(&[rule("error_rate < 1%")], false),
        );
        assert_eq!(verdict.exit_status, 99);
        assert_eq!(
            verdict.reasons,
            ["threshold `error_rate < 1%` failed: measured 5%"]
        );

        let verdict = decide(
            &[&ok, &failed],
            &merged(1, 2, 5),
            &rules(&[rule("error_rate < 1%")], false),
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
            &rules(&[rule("requests > 0")], false),
        );
        assert_eq!(verdict.exit_status, 99);
        assert_eq!(
            verdict.coverage.as_deref(),
            Some("none of 1 tasks reported results")
        );

        assert_eq!(
            decide(&[], &Merged::default(), &rules(&[], false)).exit_status,
            1
        );

        // A relative rule without a baseline is skipped: it fails only when a baseline is
        // required.
        let relative = [rule("rps > -5%")];
        let verdict = decide(&[&ok], &merged(1, 1, 0), &rules(&relative, false));
        assert!(verdict.passed && verdict.thresholds[0].skipped);
        assert!(!verdict.thresholds[0].held);
        let verdict = decide(&[&ok], &merged(1, 1, 0), &rules(&relative, true));
        assert_eq!(verdict.exit_status, 99);
        assert_eq!(
            verdict.reasons,
            [
                "threshold `rps > -5%` could not be checked and `require-baseline` is true: measured 10 (no baseline: no base branch)"
            ]
        );
    }

    #[test]
    fn a_shortfall_is_a_warning_unless_the_rules_make_it_fail() {
        let ok = outcome(OutcomeKind::Succeeded, Some(0));
        let delivery = Delivery {
            asked: "200 req/s for 60 s".into(),
            task_count: 1,
            tasks_reporting: 1,
            asked_requests: Some(12_000),
            delivered_requests: 100,
            asked_rate: Some(200.0),
            delivered_rate: Some(10.0),
            shortfall: Some(0.99),
            stages: vec![],
            dropped: None,
            start_skew_ms: None,
            late_tasks: vec![],
            shortfall_sentence: Some("The test did not deliver its load: …".into()),
        };
        let mut rules = rules(&[], false);
        rules.delivery = Some(&delivery);
        let verdict = decide(&[&ok], &merged(1, 1, 0), &rules);
        assert!(verdict.passed && !verdict.shortfall_fails);
        assert_eq!(
            verdict.shortfall.as_deref(),
            Some("The test did not deliver its load: …")
        );
        assert!(verdict.reasons.is_empty());
        rules.fail_on_under_delivery = true;
        let verdict = decide(&[&ok], &merged(1, 1, 0), &rules);
        assert_eq!(verdict.exit_status, 99);
        assert!(verdict.shortfall_fails);
        assert_eq!(verdict.reasons, ["The test did not deliver its load: …"]);
    }
}
