//! The load shape: how many tasks, where the load goes and how much, and the environment every
//! task gets.

use serde::Serialize;

use super::env_var::EnvVar;
use super::parse::{
    is_url, parse_command, parse_duration_seconds, parse_key_values, parse_positive,
};
use crate::input_error::Problems;
use crate::inputs::{Inputs, given};

pub const MAX_TASK_COUNT: u64 = 1000;
/// Variables every task gets from the action; the `environment` input may not set them.
const ALWAYS_SET: [&str; 2] = ["TASK_INDEX", "TASK_COUNT"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Load {
    pub task_count: usize,
    pub target_url: Option<String>,
    /// Totals, split across tasks.
    pub vus: Option<u64>,
    pub rate: Option<u64>,
    pub duration_seconds: Option<u64>,
    /// The `environment` input: added to every task's environment.
    pub environment: Vec<EnvVar>,
    /// The container command, when the tester's own is not to be used.
    pub command: Option<Vec<String>>,
}

pub fn load(inputs: &Inputs, problems: &mut Problems) -> Load {
    let task_count = problems
        .parse(
            "task-count",
            &inputs.task_count,
            &format!("a whole number from 1 to {MAX_TASK_COUNT}"),
            |text| {
                text.parse::<u64>()
                    .ok()
                    .filter(|count| (1..=MAX_TASK_COUNT).contains(count))
            },
        )
        .unwrap_or(1) as usize;

    let command = problems.parse(
        "command",
        &inputs.command,
        "a JSON array of strings such as `[\"k6\", \"run\", \"test.js\"]`, or words split like a shell",
        parse_command,
    );
    let environment = given(&inputs.environment)
        .map(|text| parse_key_values(problems, "environment", text))
        .unwrap_or_default();

    let target_url = problems.parse(
        "target-url",
        &inputs.target_url,
        "an absolute URL such as `https://staging.example.com/`",
        |text| is_url(text).then(|| text.to_string()),
    );
    let positive_total = |what: &str| {
        format!("a whole number of {what} from 1 up, at least `task-count` so every task gets some")
    };
    let vus = problems.parse(
        "vus",
        &inputs.vus,
        &positive_total("virtual users"),
        parse_positive,
    );
    let rate = problems.parse(
        "rate",
        &inputs.rate,
        &positive_total("requests per second"),
        parse_positive,
    );
    for (input, total, value) in [("vus", vus, &inputs.vus), ("rate", rate, &inputs.rate)] {
        if let Some(total) = total
            && total < task_count as u64
        {
            problems.add(
                input,
                given(value).unwrap_or_default(),
                format!("at least `task-count` ({task_count}), so that every task gets a share"),
            );
        }
    }
    let duration_seconds = problems.parse(
        "duration",
        &inputs.duration,
        "a positive length: seconds (`300`), or a number with `s`, `m` or `h` (`90s`, `5m`, `1h`)",
        parse_duration_seconds,
    );

    let load = Load {
        task_count,
        target_url,
        vus,
        rate,
        duration_seconds,
        environment,
        command,
    };
    load.check_environment(problems);
    load
}

impl Load {
    /// Variables the action sets itself cannot also come from `environment`.
    fn check_environment(&self, problems: &mut Problems) {
        let mut action_set: Vec<&str> = ALWAYS_SET.to_vec();
        for (name, set) in [
            ("TARGET_URL", self.target_url.is_some()),
            ("VUS", self.vus.is_some()),
            ("RATE", self.rate.is_some()),
            ("DURATION", self.duration_seconds.is_some()),
        ] {
            if set {
                action_set.push(name);
            }
        }
        for var in &self.environment {
            if action_set.contains(&var.name.as_str()) {
                problems.add(
                    "environment",
                    &format!("{}={}", var.name, var.value),
                    format!("no `{}`: the action sets it for every task", var.name),
                );
            }
        }
    }
}
