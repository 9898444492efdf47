//! What the user typed: the action's inputs as raw strings, from the environment or from flags.
//!
//! The runner passes every declared input as `INPUT_<NAME UPPERCASED>` with hyphens kept
//! (`INPUT_TASK-COUNT`), and an unset one as the empty string. Nothing here is checked: see
//! `validate`.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Every input of `action.yml`. A flag of the same name (`--task-count 3`) sets the same field.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "kebab-case", default)]
pub struct Inputs {
    /// fargate: AWS Fargate tasks; local: the local Docker engine (or this process, for the built-in generator) [default: fargate]
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,
    /// Region of every AWS call [default: AWS_REGION, then AWS_DEFAULT_REGION]
    #[arg(long, value_name = "REGION")]
    pub aws_region: Option<String>,
    /// Regions the tasks run in, one `REGION: SHARE` a line: a percent of the tasks (`50%`) or a
    /// number of tasks, adding up to 100 % or to `task-count` [default: the one region of every
    /// AWS call]
    #[arg(long, value_name = "LINES")]
    pub regions: Option<String>,
    /// A JSON object keyed by region whose values set that region's cluster, task-definition,
    /// container-name, subnets, security-groups, assign-public-ip and ecr-repository (the
    /// inputs' own names); a key not set falls back to the input of the same name
    #[arg(long, value_name = "JSON")]
    pub region_settings: Option<String>,
    /// ECS cluster name or ARN
    #[arg(long, value_name = "NAME|ARN")]
    pub cluster: Option<String>,
    /// Family, family:revision or ARN of the base task definition
    #[arg(long, value_name = "FAMILY[:REV]|ARN")]
    pub task_definition: Option<String>,
    /// Container whose image is replaced and whose exit code counts [default: the single essential container]
    #[arg(long, value_name = "NAME")]
    pub container_name: Option<String>,
    /// Subnet IDs for awsvpc networking (commas, spaces or newlines)
    #[arg(long, value_name = "IDS")]
    pub subnets: Option<String>,
    /// Security group IDs
    #[arg(long, value_name = "IDS")]
    pub security_groups: Option<String>,
    /// Public IP for the task ENI [default: true]
    #[arg(long, value_name = "BOOL")]
    pub assign_public_ip: Option<String>,
    /// FARGATE or FARGATE_SPOT [default: FARGATE]
    #[arg(long, value_name = "PROVIDER")]
    pub capacity_provider: Option<String>,
    /// Fargate platform version [default: LATEST]
    #[arg(long, value_name = "VERSION")]
    pub platform_version: Option<String>,
    /// Number of tasks, 1 to 1000 [default: 1]
    #[arg(long, value_name = "N")]
    pub task_count: Option<String>,
    /// Task CPU units override (1024 a CPU); on local, the container's CPU limit
    #[arg(long, value_name = "UNITS")]
    pub cpu: Option<String>,
    /// Task memory override in MiB; on local, the container's memory limit
    #[arg(long, value_name = "MIB")]
    pub memory: Option<String>,
    /// KEY=VALUE lines added to the container's environment
    #[arg(long, value_name = "LINES")]
    pub environment: Option<String>,
    /// NAME=ARN lines: Secrets Manager secrets or SSM parameters the task definition revision references (the task gets NAME; `headers` may use ${NAME})
    #[arg(long, value_name = "LINES")]
    pub secrets: Option<String>,
    /// Container command: a JSON array, or words split like a shell
    #[arg(long, value_name = "COMMAND")]
    pub command: Option<String>,
    /// Passed to every task as TARGET_URL
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// Total virtual users, split across tasks (VUS)
    #[arg(long, value_name = "N")]
    pub vus: Option<String>,
    /// Total requests per second, split across tasks (RATE)
    #[arg(long, value_name = "N")]
    pub rate: Option<String>,
    /// Test length: 300, 90s, 5m or 1h (DURATION, in seconds)
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Load shape `30s:200, 2m:200, 30s:0` (rates) or `1m:50vus, 1m:0vus`, split per task (STAGES)
    #[arg(long, value_name = "STAGES")]
    pub stages: Option<String>,
    /// How long after the launch every task's load begins (START_AT) [default: the backend's]
    #[arg(long, value_name = "DURATION")]
    pub start_delay: Option<String>,
    /// HTTP method of the built-in generator (METHOD) [default: GET]
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Request headers of the built-in generator, one `Name: value` a line (HEADERS)
    #[arg(long, value_name = "LINES")]
    pub headers: Option<String>,
    /// Request body of the built-in generator (BODY)
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
    /// Time a request may take before it counts as a timeout (REQUEST_TIMEOUT) [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// auto, 1.1 or 2 (HTTP_VERSION) [default: auto]
    #[arg(long, value_name = "VERSION")]
    pub http_version: Option<String>,
    /// HTTP/2: virtual users of the built-in generator that share one connection, each with its
    /// own stream, 1 to 1000 (HTTP2_STREAMS) [default: 100]
    #[arg(long, value_name = "N")]
    pub http2_streams: Option<String>,
    /// Statuses that count as success, such as `2xx, 3xx` (SUCCESS_STATUSES) [default: 2xx, 3xx]
    #[arg(long, value_name = "LIST")]
    pub success_statuses: Option<String>,
    /// true: the built-in generator does not verify the target's TLS certificate, for a test
    /// target with a self-signed one, and k6 and Artillery get their own switch (INSECURE_TLS)
    /// [default: false]
    #[arg(long, value_name = "BOOL")]
    pub insecure_tls: Option<String>,
    /// Which tester the tasks run: generate, dockerfile, image, k6, locust, artillery or jmeter [default: the tool a `script`'s name says when it is given, image when `image` is, dockerfile when `dockerfile` is, generate when `target-url` is, else dockerfile when the context holds one]
    #[arg(long, value_name = "TESTER")]
    pub tester: Option<String>,
    /// A k6 script (.js, .mjs or .ts), a locustfile (.py), a JMeter plan (.jmx) or, with `tester: artillery`, an Artillery scenario, run unchanged on every task with its exact share of the load
    #[arg(long, value_name = "PATH")]
    pub script: Option<String>,
    /// The k6 image a script's tasks run on Fargate (and locally without k6 on the PATH), with this action's binary and the script's folder added (an xk6 build of your own) [default: grafana/k6:1.1.0]
    #[arg(long, value_name = "REFERENCE")]
    pub tester_image: Option<String>,
    /// The image the built-in generator runs from, and the one a k6 script's image takes this action's binary from [default: the action's own image]
    #[arg(long, value_name = "REFERENCE")]
    pub generator_image: Option<String>,
    /// Run this image as it is: no build, no push
    #[arg(long, value_name = "REFERENCE")]
    pub image: Option<String>,
    /// Path of the tester Dockerfile, relative to `context` [default: Dockerfile]
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<String>,
    /// Build context directory [default: .]
    #[arg(long, value_name = "DIR")]
    pub context: Option<String>,
    /// KEY=VALUE build arguments, one a line
    #[arg(long, value_name = "LINES")]
    pub build_args: Option<String>,
    /// Build stage
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// ECR repository name (required when building)
    #[arg(long, value_name = "NAME")]
    pub ecr_repository: Option<String>,
    /// Tag of the pushed image [default: GITHUB_SHA, whole]
    #[arg(long, value_name = "TAG")]
    pub image_tag: Option<String>,
    /// Minutes after which running tasks are stopped and the run fails [default: 60]
    #[arg(long, value_name = "MINUTES")]
    pub timeout_minutes: Option<String>,
    /// false: start the tasks, set outputs and exit 0 [default: true]
    #[arg(long, value_name = "BOOL")]
    pub wait: Option<String>,
    /// grouped: one group per task; interleaved: every line live, prefixed [i/N] [default: grouped]
    #[arg(long, value_name = "MODE")]
    pub log_mode: Option<String>,
    /// Rules, one a line: `p95 < 500ms`, `error_rate < 1%`, `rps >= 200`
    #[arg(long, value_name = "RULES")]
    pub thresholds: Option<String>,
    /// DynamoDB table (name or ARN) that keeps every run's results, for the base-branch comparison and `history`
    #[arg(long, value_name = "TABLE")]
    pub results_table: Option<String>,
    /// Which test a stored run belongs to [default: the comment tag]
    #[arg(long, value_name = "NAME")]
    pub test_id: Option<String>,
    /// Days a stored run is kept (DynamoDB TTL) [default: 90]
    #[arg(long, value_name = "DAYS")]
    pub results_ttl_days: Option<String>,
    /// Branch whose runs this one is compared with [default: the pull request's base branch]
    #[arg(long, value_name = "BRANCH")]
    pub baseline_branch: Option<String>,
    /// Fail when a relative threshold has no baseline to compare with [default: false]
    #[arg(long, value_name = "BOOL")]
    pub require_baseline: Option<String>,
    /// A k6 script's threshold that cannot be judged across tasks fails the run before any load [default: false: a warning]
    #[arg(long, value_name = "BOOL")]
    pub strict_thresholds: Option<String>,
    /// Fail the run when it did not deliver the load asked for (more than 5 % under the rate, or a task started late) [default: true; false: a warning]
    #[arg(long, value_name = "BOOL")]
    pub fail_on_under_delivery: Option<String>,
    /// Also write the report to this file: Markdown, or a self-contained HTML page when it ends in .html
    #[arg(long, visible_alias = "report", value_name = "FILE")]
    pub report_file: Option<String>,
    /// Fargate prices for the cost estimate, USD an hour: `vcpu=0.04048, gb=0.004445, spot-vcpu=…, spot-gb=…` [default: AWS's list prices the project keeps]
    #[arg(long, value_name = "PRICES")]
    pub fargate_prices: Option<String>,
    /// Token for the PR comment (in a terminal, GITHUB_TOKEN is read too)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GITHUB_TOKEN",
        hide_env_values = true
    )]
    pub github_token: Option<String>,
    /// Post or update the PR comment [default: true]
    #[arg(long, value_name = "BOOL")]
    pub comment: Option<String>,
    /// Tells apart several ecs-loadtest comments on one PR [default: the job name]
    #[arg(long, value_name = "TAG")]
    pub comment_tag: Option<String>,
    /// On issue_comment: the word that starts a run from a PR comment [default: /loadtest]
    #[arg(long, value_name = "WORD")]
    pub comment_command: Option<String>,
    /// On issue_comment: inputs a comment may set as key=value [default: rate vus duration task-count stages]
    #[arg(long, value_name = "NAMES")]
    pub comment_overrides: Option<String>,
    /// On issue_comment: the least permission on the repository that may start a run: read, triage, write, maintain or admin [default: write]
    #[arg(long, value_name = "ROLE")]
    pub comment_permission: Option<String>,
}

impl Inputs {
    /// Reads `INPUT_*` variables. envy strips the prefix and lowercases the rest, so
    /// `INPUT_TASK-COUNT` lands in `task-count`.
    pub fn from_env() -> Result<Self> {
        envy::prefixed("INPUT_")
            .from_env::<Inputs>()
            .context("reading the action inputs from INPUT_* environment variables")
    }

    /// Sets input `name` (kebab-case) to `value`; false when there is no such input.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        let Ok(serde_json::Value::Object(mut fields)) = serde_json::to_value(&*self) else {
            return false;
        };
        if !fields.contains_key(name) {
            return false;
        }
        fields.insert(name.to_string(), serde_json::Value::from(value));
        match serde_json::from_value(serde_json::Value::Object(fields)) {
            Ok(inputs) => {
                *self = inputs;
                true
            }
            Err(_) => false,
        }
    }

    /// Every field that is given in `self` (flags) wins over `fallback` (environment).
    pub fn or(self, fallback: Inputs) -> Result<Inputs> {
        let given = serde_json::to_value(self).context("merging inputs")?;
        let mut merged = serde_json::to_value(fallback).context("merging inputs")?;
        if let (Some(given), Some(merged)) = (given.as_object(), merged.as_object_mut()) {
            for (name, value) in given {
                if !value.is_null() {
                    merged.insert(name.clone(), value.clone());
                }
            }
        }
        serde_json::from_value(merged).context("merging inputs")
    }
}

/// Names that say their value is a credential: `Authorization`, `X-Api-Key`, `DB_PASSWORD`, …
const SECRET_NAME_PARTS: [&str; 11] = [
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "key",
    "cookie",
    "session",
    "credential",
    "signature",
    "private",
];

impl Inputs {
    /// The values that look like credentials, to be masked before anything is printed: header
    /// values, `environment` values and build arguments whose name says so. For a header value
    /// of several words (`Bearer abc…`), the last word is masked on its own too, as the runner
    /// masks by substring.
    pub fn secret_looking_values(&self) -> Vec<String> {
        let looks_secret = |name: &str| {
            let name = name.to_ascii_lowercase();
            SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
        };
        let mut secrets = Vec::new();
        let pairs = [
            (&self.headers, ':'),
            (&self.environment, '='),
            (&self.build_args, '='),
        ];
        for (value, separator) in pairs {
            for line in given(value).unwrap_or_default().lines() {
                let Some((name, value)) = line.split_once(separator) else {
                    continue;
                };
                let value = value.trim();
                if value.is_empty() || !looks_secret(name.trim()) {
                    continue;
                }
                secrets.push(value.to_string());
                if let Some(last) = value.split_whitespace().last()
                    && last != value
                {
                    secrets.push(last.to_string());
                }
            }
        }
        secrets
    }
}

/// An input's value with surrounding blanks removed, or `None` when it was not given
/// (unset, or the empty string the runner passes for an unset input).
pub fn given(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
impl Inputs {
    /// Every input's name, as action.yml and the flags spell it.
    pub fn names() -> Vec<String> {
        match serde_json::to_value(Inputs::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            other => panic!("inputs serialize as an object, not {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The names under `inputs:` in action.yml, read with a YAML parser as GitHub's runner reads
    /// the file (a line-based reader accepted a file the runner refused).
    fn declared(action: &str) -> BTreeSet<String> {
        let documents = yaml_rust2::YamlLoader::load_from_str(action)
            .unwrap_or_else(|error| panic!("action.yml is not valid YAML: {error}"));
        let inputs = documents[0]["inputs"]
            .as_hash()
            .expect("action.yml has an `inputs` mapping");
        inputs
            .keys()
            .map(|name| {
                name.as_str()
                    .expect("an input name is a string")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn action_yml_declares_exactly_the_inputs_the_binary_reads() {
        let declared = declared(include_str!("../action.yml"));
        let read: BTreeSet<String> = Inputs::names().into_iter().collect();
        let unread: Vec<_> = declared.difference(&read).collect();
        let undeclared: Vec<_> = read.difference(&declared).collect();
        assert!(
            unread.is_empty() && undeclared.is_empty(),
            "declared in action.yml but never read: {unread:?}; read but not declared: {undeclared:?}"
        );
        assert!(read.len() > 40, "{read:?}");
    }

    #[test]
    fn flags_win_over_the_environment() {
        let flags = Inputs {
            task_count: Some("3".into()),
            ..Default::default()
        };
        let environment = Inputs {
            task_count: Some("1".into()),
            cluster: Some("load".into()),
            ..Default::default()
        };
        let merged = flags.or(environment).unwrap();
        assert_eq!(merged.task_count.as_deref(), Some("3"));
        assert_eq!(merged.cluster.as_deref(), Some("load"));
    }

    #[test]
    fn inputs_are_set_by_name() {
        let mut inputs = Inputs::default();
        assert!(inputs.set("task-count", "3"));
        assert_eq!(inputs.task_count.as_deref(), Some("3"));
        assert!(!inputs.set("no-such-input", "1"));
    }

    #[test]
    fn credentials_are_found_by_their_names() {
        let inputs = Inputs {
            headers: Some(
                "Authorization: Bearer abc.def.ghi\nAccept: application/json\nX-Api-Key:  k3y \nbroken line".into(),
            ),
            environment: Some("DB_PASSWORD=hunter22\nREGION=eu-west-1\nSESSION_ID=\n".into()),
            build_args: Some("NPM_TOKEN=npm_abc\nVERSION=1.2".into()),
            body: Some("{\"password\": \"in the body\"}".into()),
            ..Default::default()
        };
        assert_eq!(
            inputs.secret_looking_values(),
            [
                "Bearer abc.def.ghi",
                "abc.def.ghi",
                "k3y",
                "hunter22",
                "npm_abc"
            ]
        );
    }

    #[test]
    fn empty_means_not_given() {
        assert_eq!(given(&Some("  ".into())), None);
        assert_eq!(given(&Some("".into())), None);
        assert_eq!(given(&None), None);
        assert_eq!(given(&Some(" x ".into())), Some("x"));
    }
}
