//! The load shape: how many tasks, where the load goes and how much, and the environment every
//! task gets.

use serde::Serialize;

use super::env_var::EnvVar;
use super::parse::{
    is_url, parse_bool, parse_command, parse_duration_seconds, parse_key_values, parse_positive,
};
use super::request::{
    HEADERS_ACCEPTED, HTTP_VERSION_ACCEPTED, HTTP2_STREAMS_ACCEPTED, HttpVersion, METHOD_ACCEPTED,
    STATUSES_ACCEPTED, StatusSet, parse_headers, parse_http2_streams, parse_method,
};
use super::secrets::{self, SecretRef};
use super::stages::{STAGES_ACCEPTED, StageUnit, Stages};
use super::{ScriptPlan, ScriptTool};
use crate::input_error::Problems;
use crate::inputs::{Inputs, given};

pub const MAX_TASK_COUNT: u64 = 1000;
/// Variables every task gets from the action; the `environment` input may not set them.
const ALWAYS_SET: [&str; 3] = ["TASK_INDEX", "TASK_COUNT", "START_AT"];

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Load {
    pub task_count: usize,
    pub target_url: Option<String>,
    /// Totals, split across tasks.
    pub vus: Option<u64>,
    pub rate: Option<u64>,
    pub duration_seconds: Option<u64>,
    /// Split across tasks stage by stage.
    pub stages: Option<Stages>,
    /// The request of the built-in generator (METHOD, HEADERS, …): the same for every task.
    pub request: Vec<EnvVar>,
    /// `START_AT` is the launch time plus this; `None`: the backend's default.
    pub start_delay_seconds: Option<u64>,
    /// The `environment` input: added to every task's environment.
    pub environment: Vec<EnvVar>,
    /// The container command, when the tester's own is not to be used.
    pub command: Option<Vec<String>>,
    /// The `secrets` input: variables the task definition revision reads from Secrets Manager
    /// or SSM, never sent in a request of the action's.
    pub secrets: Vec<SecretRef>,
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
    let stages = stages(inputs, problems, task_count);
    let start_delay_seconds = problems.parse(
        "start-delay",
        &inputs.start_delay,
        "a length such as `90s` or `2m`, or `0` to start the load as soon as each task runs",
        |text| {
            // Any zero length (`0`, `0s`, `0m`): the positive-length parser refuses them all.
            let zero = text.trim_end_matches(['s', 'm', 'h']);
            if !zero.is_empty() && zero.len() + 1 >= text.len() && zero.bytes().all(|b| b == b'0') {
                Some(0)
            } else {
                parse_duration_seconds(text)
            }
        },
    );

    let secrets = secrets::secrets(inputs, problems);
    if let Some(headers) = given(&inputs.headers) {
        secrets::check_placeholders(headers, &secrets, problems);
    }
    let load = Load {
        task_count,
        target_url,
        vus,
        rate,
        duration_seconds,
        stages,
        request: request(inputs, problems),
        start_delay_seconds,
        environment,
        command,
        secrets,
    };
    load.check_environment(problems);
    load
}

/// `stages`: not beside `duration` or `rate` (the stages give them), nor `vus` when the stages
/// count virtual users; every task must get load in some stage.
fn stages(inputs: &Inputs, problems: &mut Problems, task_count: usize) -> Option<Stages> {
    let text = given(&inputs.stages)?;
    let stages = match Stages::parse(text) {
        Ok(stages) => stages,
        Err(why) => {
            problems.add("stages", text, format!("{STAGES_ACCEPTED} ({why})"));
            return None;
        }
    };
    let mut beside = vec![("duration", &inputs.duration), ("rate", &inputs.rate)];
    if stages.unit == StageUnit::Vus {
        beside.push(("vus", &inputs.vus));
    }
    for (input, value) in beside {
        if let Some(value) = given(value) {
            problems.add(
                input,
                value,
                format!("no `{input}` beside `stages`: the stages give it"),
            );
        }
    }
    if stages.peak() < task_count as u64 {
        problems.add(
            "stages",
            text,
            format!(
                "a peak target of at least `task-count` ({task_count}), so that every task gets a share"
            ),
        );
    }
    Some(stages)
}

/// The built-in generator's request inputs, as the variables every task gets.
fn request(inputs: &Inputs, problems: &mut Problems) -> Vec<EnvVar> {
    let method = problems.parse("method", &inputs.method, METHOD_ACCEPTED, parse_method);
    let headers = given(&inputs.headers).and_then(|text| match parse_headers(text) {
        Ok(_) => Some(text.to_string()),
        Err(line) => {
            problems.add("headers", &line, HEADERS_ACCEPTED);
            None
        }
    });
    let body = inputs.body.clone().filter(|body| !body.is_empty());
    let timeout = problems
        .parse(
            "request-timeout",
            &inputs.request_timeout,
            "a positive length such as `30s` or `2m`",
            parse_duration_seconds,
        )
        .map(|seconds| seconds.to_string());
    let http_version = problems
        .parse(
            "http-version",
            &inputs.http_version,
            HTTP_VERSION_ACCEPTED,
            HttpVersion::parse,
        )
        .and_then(|_| given(&inputs.http_version).map(str::to_string));
    let http2_streams = problems
        .parse(
            "http2-streams",
            &inputs.http2_streams,
            HTTP2_STREAMS_ACCEPTED,
            parse_http2_streams,
        )
        .map(|streams| streams.to_string());
    let insecure_tls = problems
        .parse(
            "insecure-tls",
            &inputs.insecure_tls,
            "`true` or `false`",
            parse_bool,
        )
        .filter(|insecure| *insecure)
        .map(|_| "true".to_string());
    let statuses = problems
        .parse(
            "success-statuses",
            &inputs.success_statuses,
            STATUSES_ACCEPTED,
            StatusSet::parse,
        )
        .map(|statuses| statuses.to_string());
    [
        ("METHOD", method),
        ("HEADERS", headers),
        ("BODY", body),
        ("REQUEST_TIMEOUT", timeout),
        ("HTTP_VERSION", http_version),
        ("HTTP2_STREAMS", http2_streams),
        ("SUCCESS_STATUSES", statuses),
        ("INSECURE_TLS", insecure_tls),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        let value = value?;
        Some(if matches!(name, "HEADERS" | "BODY") {
            EnvVar::secret(name, value)
        } else {
            EnvVar::new(name, value)
        })
    })
    .collect()
}

impl Load {
    /// The built-in generator is the tester: it needs a URL and a load, and runs as `generate`.
    pub fn for_generator(&mut self, inputs: &Inputs, problems: &mut Problems) {
        let why = "the built-in generator runs (no `image`, and no Dockerfile in `context`)";
        if given(&inputs.target_url).is_none() {
            problems.add(
                "target-url",
                "",
                format!("the URL to send load to, since {why}"),
            );
        }
        if given(&inputs.stages).is_none() {
            if given(&inputs.rate).is_none() && given(&inputs.vus).is_none() {
                problems.add(
                    "rate",
                    "",
                    format!("requests per second (or `vus`, or `stages`), since {why}"),
                );
            }
            if given(&inputs.duration).is_none() {
                problems.add(
                    "duration",
                    "",
                    format!("how long to send load (or `stages`), since {why}"),
                );
            }
        }
        self.command
            .get_or_insert_with(|| vec!["generate".to_string()]);
    }

    /// A script is the tester. A k6 script's own options shape the load, which `vus` and
    /// `duration` may replace (as k6's flags do); an arrival rate or stages belong in the
    /// script. A Locust file has no load of its own: `vus` (its users, split across tasks) and
    /// `duration` are required.
    pub fn for_script(&mut self, inputs: &Inputs, problems: &mut Problems, plan: &ScriptPlan) {
        let where_instead = match plan.tool {
            ScriptTool::K6 => {
                "an arrival rate or stages go in the script's `options` (a `constant-arrival-rate` or `ramping-arrival-rate` scenario), which every task runs with its exact share"
            }
            ScriptTool::Locust => {
                "Locust's users set its pace (`vus`, with the file's `wait_time`), or its `LoadTestShape`, which every task runs its share of"
            }
            ScriptTool::Artillery => {
                "an Artillery scenario's load is its `config.phases`, and every task runs its share of each phase"
            }
            ScriptTool::Jmeter => {
                "a JMeter plan reads `${__P(threads)}`, `${__P(rate)}` and `${__P(duration)}`, each task's share of `vus`, `rate` and `duration`; stages belong in the plan"
            }
        };
        let refused: &[(&str, &Option<String>)] = match plan.tool {
            ScriptTool::Artillery => &[
                ("rate", &inputs.rate),
                ("stages", &inputs.stages),
                ("vus", &inputs.vus),
                ("duration", &inputs.duration),
            ],
            ScriptTool::Jmeter => &[("stages", &inputs.stages)],
            _ => &[("rate", &inputs.rate), ("stages", &inputs.stages)],
        };
        for &(input, value) in refused {
            if let Some(value) = given(value) {
                problems.add(
                    input,
                    value,
                    format!(
                        "no `{input}` beside a {} script: {where_instead}",
                        plan.tool.name()
                    ),
                );
            }
        }
        // A locustfile that names a LoadTestShape may set its users itself (the hook checks, in
        // each task, that a shape or `vus` sets them, and not both).
        let shaped = plan.tool == ScriptTool::Locust
            && std::fs::read_to_string(&plan.script)
                .is_ok_and(|text| text.contains("LoadTestShape"));
        if plan.tool == ScriptTool::Locust && !shaped {
            for (input, value, accepted) in [
                (
                    "vus",
                    &inputs.vus,
                    "Locust's users in total, split across tasks, since the locustfile has no LoadTestShape to set them",
                ),
                (
                    "duration",
                    &inputs.duration,
                    "how long Locust's users run, since a Locust file sets no end of its own",
                ),
            ] {
                if given(value).is_none() {
                    problems.add(input, "", accepted);
                }
            }
        }
        self.command.get_or_insert_with(|| plan.command());
    }

    /// The load (and the start delay, when given) must fit in `timeout-minutes`.
    pub fn check_timeout(&self, inputs: &Inputs, problems: &mut Problems) {
        let load_seconds = self
            .stages
            .as_ref()
            .map(Stages::total_seconds)
            .or(self.duration_seconds);
        let Some(load_seconds) = load_seconds else {
            return;
        };
        let needed = load_seconds.saturating_add(self.start_delay_seconds.unwrap_or(0));
        let minutes = given(&inputs.timeout_minutes)
            .and_then(|text| text.parse::<f64>().ok())
            .unwrap_or(60.0);
        if minutes > 0.0 && needed as f64 >= minutes * 60.0 {
            problems.add(
                "timeout-minutes",
                given(&inputs.timeout_minutes).unwrap_or("60"),
                format!(
                    "more minutes than the load lasts ({needed} s with the start delay): the tasks would be stopped before they finish"
                ),
            );
        }
    }

    /// Variables the action sets itself cannot also come from `environment`.
    fn check_environment(&self, problems: &mut Problems) {
        let mut action_set: Vec<&str> = ALWAYS_SET.to_vec();
        for (name, set) in [
            ("TARGET_URL", self.target_url.is_some()),
            ("VUS", self.vus.is_some()),
            ("RATE", self.rate.is_some()),
            ("DURATION", self.duration_seconds.is_some()),
            ("STAGES", self.stages.is_some()),
        ] {
            if set {
                action_set.push(name);
            }
        }
        action_set.extend(self.request.iter().map(|var| var.name.as_str()));
        for var in &self.environment {
            // Turning certificate checks off is `insecure-tls`'s job, which the report says;
            // through `environment` it would pass unsaid.
            if var.name == "INSECURE_TLS" {
                problems.add(
                    "environment",
                    &format!("{}={}", var.name, var.value),
                    "no `INSECURE_TLS`: set the input `insecure-tls: true` to skip certificate checks, so the report says so",
                );
                continue;
            }
            if self.secrets.iter().any(|secret| secret.name == var.name) {
                problems.add(
                    "environment",
                    &format!("{}={}", var.name, var.value),
                    format!("no `{}`: `secrets` gives it", var.name),
                );
                continue;
            }
            if action_set.contains(&var.name.as_str()) {
                problems.add(
                    "environment",
                    &format!("{}={}", var.name, var.value),
                    format!("no `{}`: the action sets it for every task", var.name),
                );
            }
        }
        for secret in &self.secrets {
            if action_set.contains(&secret.name.as_str()) || secret.name == "INSECURE_TLS" {
                problems.add(
                    "secrets",
                    &format!("{}={}", secret.name, secret.value_from),
                    format!("no `{}`: the action sets it for every task", secret.name),
                );
            }
        }
    }
}
