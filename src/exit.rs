//! Every exit status the binary can end with (DESIGN.md), decided here and nowhere else.

use crate::input_error::InvalidInputs;
use crate::outcome::TaskOutcome;

/// Every task succeeded and every threshold held.
pub const PASSED: u8 = 0;
/// A task failed to start, was stopped, timed out, or a call was refused; or no task ran.
pub const FAILED: u8 = 1;
/// The inputs are invalid and nothing was started.
pub const INVALID_INPUTS: u8 = 2;
/// Every task succeeded but a threshold failed.
pub const THRESHOLD_FAILED: u8 = 99;

/// The status of finished tasks: 0 when every task succeeded; else the exit code of the first
/// failing essential container when it is 1 to 255; else 1. No task at all is not a success.
pub fn of_outcomes<'a>(outcomes: impl IntoIterator<Item = &'a TaskOutcome>) -> u8 {
    let mut outcomes = outcomes.into_iter().peekable();
    if outcomes.peek().is_none() {
        return FAILED;
    }
    match outcomes.find(|outcome| outcome.fails()) {
        None => PASSED,
        Some(outcome) => match outcome.exit_code {
            Some(code @ 1..=255) => code as u8,
            _ => FAILED,
        },
    }
}

/// The status a run that ended in an error exits with: 2 for invalid inputs, else 1.
pub fn of_error(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<InvalidInputs>().is_some() {
        INVALID_INPUTS
    } else {
        FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeKind;

    #[test]
    fn exit_status_follows_the_first_failure() {
        let ok = TaskOutcome {
            kind: OutcomeKind::Succeeded,
            exit_code: Some(0),
            reason: String::new(),
        };
        let failed = |code| TaskOutcome {
            kind: OutcomeKind::ContainerFailed,
            exit_code: code,
            reason: String::new(),
        };
        assert_eq!(of_outcomes([&ok, &ok]), 0);
        assert_eq!(of_outcomes([&ok, &failed(Some(3)), &failed(Some(4))]), 3);
        assert_eq!(of_outcomes([&failed(None), &failed(Some(4))]), 1);
        assert_eq!(of_outcomes([&failed(Some(-1))]), 1);
        assert_eq!(of_outcomes([&failed(Some(256))]), 1);
        assert_eq!(of_outcomes([&TaskOutcome::missing("ECS")]), 1);
        assert_eq!(of_outcomes(std::iter::empty()), 1);
    }
}
