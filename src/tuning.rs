//! Waits that model the pace of the services a run depends on, as settings: how long a stopped
//! task's log stream must stay unchanged before it counts as complete, how often tasks are polled,
//! how long an AWS call is repeated through transient errors, how long the PR comment may take.
//! Each defaults to what suits AWS and GitHub and can be changed with an environment variable
//! (`docs/reliability-and-security.md`), for a log router that flushes less often than awslogs,
//! a slower network, or an emulator that answers at once. Read once, at start; a bad value stops
//! the run before anything starts, naming the variable.

use std::sync::OnceLock;
use std::time::Duration;

use crate::input_error::{InputError, InvalidInputs};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// A stopped task's log stream is complete once reads found nothing new for this long. The
    /// awslogs driver sends buffered lines every 5 seconds, so less could miss the last batch.
    pub log_quiet: Duration,
    /// How often the open tasks are polled.
    pub poll_interval: Duration,
    /// How long a call the run depends on is repeated through transient AWS errors.
    pub aws_persistence: Duration,
    /// How long posting or updating the PR comment may take in all.
    pub comment_deadline: Duration,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            log_quiet: Duration::from_secs(6),
            poll_interval: Duration::from_secs(2),
            aws_persistence: Duration::from_secs(60),
            comment_deadline: Duration::from_secs(60),
        }
    }
}

/// Each setting: its variable, its bounds, and where it goes.
type Setting = (
    &'static str,
    Duration,
    Duration,
    fn(&mut Tuning) -> &mut Duration,
);

const SETTINGS: [Setting; 4] = [
    (
        "ECS_LOADTEST_LOG_QUIET",
        Duration::from_millis(100),
        Duration::from_secs(600),
        |tuning| &mut tuning.log_quiet,
    ),
    (
        "ECS_LOADTEST_POLL_INTERVAL",
        Duration::from_millis(100),
        Duration::from_secs(60),
        |tuning| &mut tuning.poll_interval,
    ),
    (
        "ECS_LOADTEST_AWS_PERSISTENCE",
        Duration::from_secs(1),
        Duration::from_secs(3600),
        |tuning| &mut tuning.aws_persistence,
    ),
    (
        "ECS_LOADTEST_COMMENT_DEADLINE",
        Duration::from_secs(1),
        Duration::from_secs(600),
        |tuning| &mut tuning.comment_deadline,
    ),
];

static TUNING: OnceLock<Tuning> = OnceLock::new();

/// The settings in force: those `load` read, else the defaults.
pub fn get() -> Tuning {
    TUNING.get().copied().unwrap_or_default()
}

/// Reads every setting from the environment, once; every bad value is reported at once.
pub fn load() -> Result<Tuning, InvalidInputs> {
    let tuning = from(|name| std::env::var(name).ok())?;
    Ok(*TUNING.get_or_init(|| tuning))
}

fn from(var: impl Fn(&str) -> Option<String>) -> Result<Tuning, InvalidInputs> {
    let mut tuning = Tuning::default();
    let mut problems = Vec::new();
    for (name, least, most, field) in SETTINGS {
        let Some(text) = var(name).filter(|text| !text.trim().is_empty()) else {
            continue;
        };
        match parse_length(&text).filter(|length| (least..=most).contains(length)) {
            Some(length) => *field(&mut tuning) = length,
            None => problems.push(InputError {
                input: name,
                given: text,
                accepted: format!(
                    "a length from {} to {}, such as `6s`, `500ms` or `2m`",
                    length_text(least),
                    length_text(most)
                ),
            }),
        }
    }
    if problems.is_empty() {
        Ok(tuning)
    } else {
        Err(InvalidInputs(problems))
    }
}

/// `500ms`, `6s`, `1.5s`, `2m`.
fn parse_length(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        return None;
    };
    let number: f64 = number.trim().parse().ok()?;
    (number.is_finite() && number >= 0.0).then(|| Duration::from_secs_f64(number * scale))
}

fn length_text(length: Duration) -> String {
    if length < Duration::from_secs(1) {
        format!("{}ms", length.as_millis())
    } else {
        format!("{}s", length.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_from_their_variables_and_default_to_aws_pace() {
        assert_eq!(from(|_| None).unwrap(), Tuning::default());
        let tuning = from(|name| match name {
            "ECS_LOADTEST_LOG_QUIET" => Some("1.5s".into()),
            "ECS_LOADTEST_POLL_INTERVAL" => Some("250ms".into()),
            "ECS_LOADTEST_AWS_PERSISTENCE" => Some("2m".into()),
            _ => Some(" ".into()),
        })
        .unwrap();
        assert_eq!(tuning.log_quiet, Duration::from_millis(1500));
        assert_eq!(tuning.poll_interval, Duration::from_millis(250));
        assert_eq!(tuning.aws_persistence, Duration::from_secs(120));
        assert_eq!(tuning.comment_deadline, Duration::from_secs(60));
    }

    #[test]
    fn bad_values_are_all_named_with_what_is_accepted() {
        let invalid = from(|name| match name {
            "ECS_LOADTEST_LOG_QUIET" => Some("6".into()),
            "ECS_LOADTEST_POLL_INTERVAL" => Some("0ms".into()),
            "ECS_LOADTEST_AWS_PERSISTENCE" => Some("-5s".into()),
            _ => Some("2h".into()),
        })
        .unwrap_err();
        let named: Vec<&str> = invalid.0.iter().map(|problem| problem.input).collect();
        assert_eq!(
            named,
            [
                "ECS_LOADTEST_LOG_QUIET",
                "ECS_LOADTEST_POLL_INTERVAL",
                "ECS_LOADTEST_AWS_PERSISTENCE",
                "ECS_LOADTEST_COMMENT_DEADLINE"
            ]
        );
        let text = invalid.0[0].to_string();
        assert!(
            text.contains("`6`") && text.contains("from 100ms to 600s"),
            "{text}"
        );
    }
}
