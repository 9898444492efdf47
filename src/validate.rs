//! Turns raw `Inputs` into a `Plan`, reporting every bad input at once. Pure: no IO, no network.

use std::fmt;

use crate::context::RunContext;
use crate::inputs::{Inputs, given};
use crate::plan::{
    BuildPlan, CapacityProvider, CommentPlan, EnvVar, ImageSource, LogMode, Network, Plan,
    RunIdentity, Tag, TaskSpec,
};
use crate::results::threshold::{GRAMMAR, parse_rules};
use crate::split::share;

pub const MAX_TASK_COUNT: u64 = 1000;
pub const MAX_TIMEOUT_MINUTES: f64 = 2880.0;
/// Task-level CPU units Fargate accepts.
const FARGATE_CPU_UNITS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];
/// awsvpc limits of RunTask's `networkConfiguration`.
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;
/// Variables every task gets from the action; the `environment` input may not set them.
const ALWAYS_SET: [&str; 2] = ["TASK_INDEX", "TASK_COUNT"];

/// One bad input: its name, what was given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: &'static str,
    pub given: String,
    pub accepted: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.given.is_empty() {
            write!(f, "input `{}` is required: {}", self.input, self.accepted)
        } else {
            write!(
                f,
                "input `{}`: got `{}`; expected {}",
                self.input, self.given, self.accepted
            )
        }
    }
}

/// Every problem found in the inputs. The run exits 2 and starts nothing.
#[derive(Debug, thiserror::Error)]
pub struct InvalidInputs(pub Vec<InputError>);

impl fmt::Display for InvalidInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "{count} invalid input{}; nothing was started",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

/// Collects errors while each input is read, so one pass reports all of them.
#[derive(Default)]
struct Problems(Vec<InputError>);

impl Problems {
    fn add(&mut self, input: &'static str, given: &str, accepted: impl Into<String>) {
        self.0.push(InputError {
            input,
            given: given.to_string(),
            accepted: accepted.into(),
        });
    }

    fn required<'a>(
        &mut self,
        input: &'static str,
        value: &'a Option<String>,
        accepted: &str,
    ) -> Option<&'a str> {
        let value = given(value);
        if value.is_none() {
            self.add(input, "", accepted);
        }
        value
    }

    /// Parses an optional input; `None` when it was not given or is bad (and then noted).
    fn parse<T>(
        &mut self,
        input: &'static str,
        value: &Option<String>,
        accepted: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let text = given(value)?;
        let parsed = parse(text);
        if parsed.is_none() {
            self.add(input, text, accepted);
        }
        parsed
    }
}

pub fn plan(inputs: &Inputs, context: &RunContext) -> Result<Plan, InvalidInputs> {
    let mut problems = Problems::default();

    let region = match given(&inputs.aws_region) {
        Some(_) => problems.parse(
            "aws-region",
            &inputs.aws_region,
            "an AWS region name such as `us-east-1`",
            |text| is_region(text).then(|| text.to_string()),
        ),
        None => context
            .aws_region
            .clone()
            .or_else(|| context.aws_default_region.clone()),
    };

    let cluster = problems
        .required("cluster", &inputs.cluster, "an ECS cluster name or ARN")
        .and_then(|text| {
            let ok = is_name(text, 255) || is_arn(text, "ecs", "cluster/");
            if !ok {
                problems.add(
                    "cluster",
                    text,
                    "an ECS cluster name (letters, digits, `-`, `_`) or a cluster ARN",
                );
            }
            ok.then(|| text.to_string())
        });

    let task_definition = problems
        .required(
            "task-definition",
            &inputs.task_definition,
            "a task definition family, `family:revision` or ARN",
        )
        .and_then(|text| {
            let ok = is_family_revision(text) || is_arn(text, "ecs", "task-definition/");
            if !ok {
                problems.add(
                    "task-definition",
                    text,
                    "a task definition family, `family:revision` (revision a whole number) or ARN",
                );
            }
            ok.then(|| text.to_string())
        });

    let container_name = problems.parse(
        "container-name",
        &inputs.container_name,
        "a container name from the task definition (letters, digits, `-`, `_`)",
        |text| is_name(text, 255).then(|| text.to_string()),
    );

    let subnets = problems
        .required(
            "subnets",
            &inputs.subnets,
            "one or more subnet IDs (`subnet-…`), separated by commas, spaces or newlines",
        )
        .map(split_list)
        .unwrap_or_default();
    check_ids(&mut problems, "subnets", &subnets, "subnet-", MAX_SUBNETS);
    let security_groups = given(&inputs.security_groups)
        .map(split_list)
        .unwrap_or_default();
    check_ids(
        &mut problems,
        "security-groups",
        &security_groups,
        "sg-",
        MAX_SECURITY_GROUPS,
    );

    let assign_public_ip = problems
        .parse(
            "assign-public-ip",
            &inputs.assign_public_ip,
            "`true` or `false`",
            parse_bool,
        )
        .unwrap_or(true);
    let capacity_provider = problems
        .parse(
            "capacity-provider",
            &inputs.capacity_provider,
            "`FARGATE` or `FARGATE_SPOT`",
            |text| match text.to_ascii_uppercase().as_str() {
                "FARGATE" => Some(CapacityProvider::Fargate),
                "FARGATE_SPOT" => Some(CapacityProvider::FargateSpot),
                _ => None,
            },
        )
        .unwrap_or(CapacityProvider::Fargate);
    let platform_version = problems
        .parse(
            "platform-version",
            &inputs.platform_version,
            "`LATEST` or a version such as `1.4.0`",
            |text| (text == "LATEST" || is_version(text)).then(|| text.to_string()),
        )
        .unwrap_or_else(|| "LATEST".to_string());

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

    let cpu = problems.parse(
        "cpu",
        &inputs.cpu,
        "task CPU units Fargate accepts: 256, 512, 1024, 2048, 4096, 8192 or 16384",
        |text| {
            text.parse::<u32>()
                .ok()
                .filter(|units| FARGATE_CPU_UNITS.contains(units))
        },
    );
    let memory = problems.parse(
        "memory",
        &inputs.memory,
        "task memory in MiB, a whole number from 512 to 122880",
        |text| {
            text.parse::<u32>()
                .ok()
                .filter(|mib| (512..=122_880).contains(mib))
        },
    );

    let command = problems.parse(
        "command",
        &inputs.command,
        "a JSON array of strings such as `[\"k6\", \"run\", \"test.js\"]`, or words split like a shell",
        parse_command,
    );

    let user_environment = given(&inputs.environment)
        .map(|text| parse_key_values(&mut problems, "environment", text))
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

    let mut notices = Vec::new();
    let image = image_source(inputs, context, &mut problems, &mut notices);

    let timeout_minutes = problems
        .parse(
            "timeout-minutes",
            &inputs.timeout_minutes,
            &format!("a number of minutes greater than 0 and at most {MAX_TIMEOUT_MINUTES} (fractions allowed)"),
            |text| text.parse::<f64>().ok().filter(|minutes| *minutes > 0.0 && *minutes <= MAX_TIMEOUT_MINUTES),
        )
        .unwrap_or(60.0);
    let wait = problems
        .parse("wait", &inputs.wait, "`true` or `false`", parse_bool)
        .unwrap_or(true);
    let thresholds = match given(&inputs.thresholds).map(parse_rules) {
        None => Vec::new(),
        Some(Ok(rules)) => rules,
        Some(Err(errors)) => {
            for (rule, error) in errors {
                problems.add(
                    "thresholds",
                    &rule,
                    format!("a valid rule ({error}); {GRAMMAR}"),
                );
            }
            Vec::new()
        }
    };
    let comment_enabled = problems
        .parse("comment", &inputs.comment, "`true` or `false`", parse_bool)
        .unwrap_or(true);
    let comment_tag = match given(&inputs.comment_tag) {
        Some(tag) if tag.contains("--") || tag.contains('>') || tag.contains('\n') => {
            problems.add(
                "comment-tag",
                tag,
                "a tag without `--`, `>` or line breaks (it goes in an HTML comment)",
            );
            String::new()
        }
        Some(tag) => tag.to_string(),
        None => context
            .job
            .clone()
            .unwrap_or_else(|| "ecs-loadtest".to_string()),
    };
    let log_mode = problems
        .parse(
            "log-mode",
            &inputs.log_mode,
            "`grouped` or `interleaved`",
            |text| match text.to_ascii_lowercase().as_str() {
                "grouped" => Some(LogMode::Grouped),
                "interleaved" => Some(LogMode::Interleaved),
                _ => None,
            },
        )
        .unwrap_or(LogMode::Grouped);

    // Variables the action sets itself cannot also come from `environment`.
    let mut action_set: Vec<&str> = ALWAYS_SET.to_vec();
    for (name, set) in [
        ("TARGET_URL", target_url.is_some()),
        ("VUS", vus.is_some()),
        ("RATE", rate.is_some()),
        ("DURATION", duration_seconds.is_some()),
    ] {
        if set {
            action_set.push(name);
        }
    }
    for var in &user_environment {
        if action_set.contains(&var.name.as_str()) {
            problems.add(
                "environment",
                &format!("{}={}", var.name, var.value),
                format!("no `{}`: the action sets it for every task", var.name),
            );
        }
    }

    if !problems.0.is_empty() {
        return Err(InvalidInputs(problems.0));
    }
    // Every required value is present once no problem was found.
    let (Some(cluster), Some(task_definition), Some(image)) = (cluster, task_definition, image)
    else {
        unreachable!("a missing required input is always reported as a problem");
    };

    let tasks = (0..task_count)
        .map(|index| {
            let mut environment = user_environment.clone();
            let mut set = |name: &str, value: String| {
                environment.push(EnvVar {
                    name: name.to_string(),
                    value,
                })
            };
            if let Some(url) = &target_url {
                set("TARGET_URL", url.clone());
            }
            if let Some(total) = vus {
                set("VUS", share(total, task_count, index).to_string());
            }
            if let Some(total) = rate {
                set("RATE", share(total, task_count, index).to_string());
            }
            if let Some(seconds) = duration_seconds {
                set("DURATION", seconds.to_string());
            }
            set("TASK_INDEX", index.to_string());
            set("TASK_COUNT", task_count.to_string());
            TaskSpec { index, environment }
        })
        .collect();

    Ok(Plan {
        region,
        cluster,
        task_definition,
        container_name,
        image,
        network: Network {
            subnets,
            security_groups,
            assign_public_ip,
        },
        capacity_provider,
        platform_version,
        cpu,
        memory,
        command,
        timeout_seconds: (timeout_minutes * 60.0).ceil() as u64,
        wait,
        log_mode,
        thresholds,
        comment: CommentPlan {
            enabled: comment_enabled,
            tag: comment_tag,
            token: given(&inputs.github_token).map(str::to_string),
            repository: context.repository.clone(),
            api_url: context.api_url.clone(),
            event_name: context.event_name.clone(),
            event_path: context.event_path.clone(),
            sha: context.sha.clone(),
        },
        notices,
        identity: identity(context),
        tasks,
    })
}

/// The `image` input, or the build inputs. Build inputs given beside `image` are ignored with a
/// notice: the image wins.
fn image_source(
    inputs: &Inputs,
    context: &RunContext,
    problems: &mut Problems,
    notices: &mut Vec<String>,
) -> Option<ImageSource> {
    let build_inputs = [
        ("dockerfile", &inputs.dockerfile),
        ("context", &inputs.context),
        ("build-args", &inputs.build_args),
        ("target", &inputs.target),
        ("ecr-repository", &inputs.ecr_repository),
        ("image-tag", &inputs.image_tag),
    ];
    if let Some(image) = given(&inputs.image) {
        if image.chars().any(char::is_whitespace) {
            problems.add("image", image, "an image reference without spaces");
            return None;
        }
        let ignored: Vec<String> = build_inputs
            .iter()
            .filter(|(_, value)| given(value).is_some())
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        if !ignored.is_empty() {
            notices.push(format!(
                "`image` is given, so nothing is built: {} ignored",
                ignored.join(", ")
            ));
        }
        return Some(ImageSource::Given(image.to_string()));
    }
    let repository = problems.required(
        "ecr-repository",
        &inputs.ecr_repository,
        "an ECR repository name, to push the built image to (or give `image` to run an image as it is)",
    );
    let repository = repository.and_then(|name| {
        let ok = is_repository_name(name);
        if !ok {
            problems.add(
                "ecr-repository",
                name,
                "an ECR repository name: lowercase letters, digits, `.`, `_`, `-` and `/`, 2 to 256 characters",
            );
        }
        ok.then(|| name.to_string())
    });
    let tag = match given(&inputs.image_tag) {
        Some(tag) if is_image_tag(tag) => Some(tag.to_string()),
        Some(tag) => {
            problems.add(
                "image-tag",
                tag,
                "a tag of letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
            );
            None
        }
        None => match context.sha.as_deref() {
            Some(sha) => Some(sha.chars().take(7).collect()),
            None => {
                problems.add(
                    "image-tag",
                    "",
                    "a tag, since GITHUB_SHA is not set to take one from",
                );
                None
            }
        },
    };
    let build_args = given(&inputs.build_args)
        .map(|text| parse_key_values(problems, "build-args", text))
        .unwrap_or_default();
    let mut labels = Vec::new();
    if let Some(repository) = &context.repository {
        let server = context
            .server_url
            .as_deref()
            .unwrap_or("https://github.com");
        labels.push(EnvVar {
            name: "org.opencontainers.image.source".into(),
            value: format!("{server}/{repository}"),
        });
    }
    if let Some(sha) = &context.sha {
        labels.push(EnvVar {
            name: "org.opencontainers.image.revision".into(),
            value: sha.clone(),
        });
    }
    Some(ImageSource::Build(BuildPlan {
        context: given(&inputs.context).unwrap_or(".").to_string(),
        dockerfile: given(&inputs.dockerfile)
            .unwrap_or("Dockerfile")
            .to_string(),
        build_args,
        target: given(&inputs.target).map(str::to_string),
        repository: repository?,
        tag: tag?,
        labels,
    }))
}

/// ECR repository names: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
fn is_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}

/// Docker tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_image_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn identity(context: &RunContext) -> RunIdentity {
    let started_by = match (&context.run_id, &context.run_attempt) {
        (Some(run_id), attempt) => format!(
            "ecs-loadtest-{run_id}-{}",
            attempt.as_deref().unwrap_or("1")
        ),
        (None, _) => format!("ecs-loadtest-cli-{}", context.invocation_id),
    };
    let started_by: String = started_by
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
        .take(36)
        .collect();
    let mut tags = Vec::new();
    for (key, value) in [
        ("repository", &context.repository),
        ("run-id", &context.run_id),
        ("run-attempt", &context.run_attempt),
        ("commit", &context.sha),
        ("invocation", &Some(context.invocation_id.clone())),
    ] {
        if let Some(value) = value {
            tags.push(Tag {
                key: format!("ecs-loadtest:{key}"),
                value: tag_value(value),
            });
        }
    }
    RunIdentity {
        started_by,
        description: context.describe(),
        run_url: context.run_url(),
        tags,
    }
}

/// Tag values may hold letters, digits, spaces and `+ - = . _ : / @`, up to 256 characters.
fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Lists accept commas, whitespace or newlines.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn check_ids(
    problems: &mut Problems,
    input: &'static str,
    ids: &[String],
    prefix: &str,
    max: usize,
) {
    for id in ids {
        let hex = id.strip_prefix(prefix).unwrap_or_default();
        if hex.len() < 8 || hex.len() > 17 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            problems.add(
                input,
                id,
                format!("IDs of the form `{prefix}0123456789abcdef0`"),
            );
        }
    }
    if ids.len() > max {
        problems.add(input, &ids.join(","), format!("at most {max} IDs"));
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_positive(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|value| *value > 0)
}

/// `300`, `90s`, `5m`, `1h`: a positive whole number of seconds, minutes or hours.
pub fn parse_duration_seconds(text: &str) -> Option<u64> {
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let multiplier = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|value| *value > 0)
        .and_then(|value| value.checked_mul(multiplier))
}

/// A JSON array of strings when it starts with `[`, else words split like a POSIX shell.
fn parse_command(text: &str) -> Option<Vec<String>> {
    let words = if text.starts_with('[') {
        serde_json::from_str::<Vec<String>>(text).ok()?
    } else {
        shell_words::split(text).ok()?
    };
    (!words.is_empty()).then_some(words)
}

/// One `KEY=VALUE` pair a line; blank lines are skipped. The value is kept as written after `=`.
fn parse_key_values(problems: &mut Problems, input: &'static str, text: &str) -> Vec<EnvVar> {
    let mut pairs: Vec<EnvVar> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if is_env_name(key.trim_end()) => {
                let name = key.trim_end().to_string();
                let value = value.trim_end_matches('\r').to_string();
                // A later line for the same key replaces the earlier one, as in a shell.
                pairs.retain(|pair| pair.name != name);
                pairs.push(EnvVar { name, value });
            }
            _ => problems.add(
                input,
                line.trim_end(),
                "one `KEY=VALUE` a line, KEY made of letters, digits and `_`, not starting with a digit",
            ),
        }
    }
    pairs
}

fn is_env_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_name(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_family_revision(text: &str) -> bool {
    match text.split_once(':') {
        Some((family, revision)) => {
            is_name(family, 255)
                && !revision.is_empty()
                && revision.chars().all(|c| c.is_ascii_digit())
        }
        None => is_name(text, 255),
    }
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE…`
fn is_arn(text: &str, service: &str, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == service
        && parts[5].starts_with(resource_prefix)
        && parts[5].len() > resource_prefix.len()
}

fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()))
}

fn is_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
}

fn is_url(text: &str) -> bool {
    match text.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !rest.starts_with('/')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Inputs {
        Inputs {
            cluster: Some("load".into()),
            task_definition: Some("tester".into()),
            subnets: Some("subnet-0123abcd".into()),
            image: Some("registry.example/tester:1".into()),
            ..Default::default()
        }
    }

    fn context() -> RunContext {
        RunContext {
            repository: Some("acme/shop".into()),
            run_id: Some("123456789".into()),
            run_attempt: Some("2".into()),
            sha: Some("0123456789abcdef".into()),
            aws_region: Some("eu-west-1".into()),
            invocation_id: "abc".into(),
            ..Default::default()
        }
    }

    fn errors(inputs: Inputs) -> Vec<InputError> {
        plan(&inputs, &context())
            .expect_err("inputs should be refused")
            .0
    }

    fn only_error(inputs: Inputs) -> InputError {
        let mut all = errors(inputs);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn defaults() {
        let plan = plan(&valid(), &context()).unwrap();
        assert_eq!(plan.region.as_deref(), Some("eu-west-1"));
        assert_eq!(plan.task_count(), 1);
        assert!(plan.network.assign_public_ip);
        assert_eq!(plan.capacity_provider, CapacityProvider::Fargate);
        assert_eq!(plan.platform_version, "LATEST");
        assert_eq!(plan.timeout_seconds, 3600);
        assert!(plan.wait);
        assert_eq!(plan.identity.started_by, "ecs-loadtest-123456789-2");
        assert_eq!(
            plan.tasks[0].environment,
            vec![
                EnvVar {
                    name: "TASK_INDEX".into(),
                    value: "0".into()
                },
                EnvVar {
                    name: "TASK_COUNT".into(),
                    value: "1".into()
                },
            ]
        );
    }

    #[test]
    fn every_missing_required_input_is_reported_at_once() {
        let all = errors(Inputs::default());
        let names: Vec<&str> = all.iter().map(|error| error.input).collect();
        // Without `image`, the image is built, and pushed to `ecr-repository`.
        assert_eq!(
            names,
            ["cluster", "task-definition", "subnets", "ecr-repository"]
        );
        assert!(all.iter().all(|error| error.given.is_empty()));
        assert!(
            all[0]
                .to_string()
                .starts_with("input `cluster` is required")
        );
    }

    #[test]
    fn bad_values_name_input_value_and_what_is_accepted() {
        type Case = (
            fn(&mut Inputs, &str),
            &'static str,
            &'static str,
            &'static str,
        );
        let table: &[Case] = &[
            (
                |i, v| i.task_count = Some(v.into()),
                "0",
                "task-count",
                "from 1 to 1000",
            ),
            (
                |i, v| i.task_count = Some(v.into()),
                "1001",
                "task-count",
                "from 1 to 1000",
            ),
            (
                |i, v| i.task_count = Some(v.into()),
                "ten",
                "task-count",
                "from 1 to 1000",
            ),
            (
                |i, v| i.duration = Some(v.into()),
                "5 minutes",
                "duration",
                "`5m`",
            ),
            (|i, v| i.duration = Some(v.into()), "-1", "duration", "`5m`"),
            (
                |i, v| i.duration = Some(v.into()),
                "0s",
                "duration",
                "positive",
            ),
            (
                |i, v| i.environment = Some(v.into()),
                "NOEQUALS",
                "environment",
                "KEY=VALUE",
            ),
            (
                |i, v| i.environment = Some(v.into()),
                "=value",
                "environment",
                "KEY=VALUE",
            ),
            (
                |i, v| i.assign_public_ip = Some(v.into()),
                "yes",
                "assign-public-ip",
                "`true` or `false`",
            ),
            (
                |i, v| i.wait = Some(v.into()),
                "1",
                "wait",
                "`true` or `false`",
            ),
            (
                |i, v| i.thresholds = Some(v.into()),
                "p95 < fast",
                "thresholds",
                "`fast` is not a number",
            ),
            (
                |i, v| i.thresholds = Some(v.into()),
                "p95 < 500ms\nlatency < 1s",
                "thresholds",
                "METRIC OP VALUE",
            ),
            (
                |i, v| i.comment = Some(v.into()),
                "maybe",
                "comment",
                "`true` or `false`",
            ),
            (
                |i, v| i.comment_tag = Some(v.into()),
                "a-->b",
                "comment-tag",
                "HTML comment",
            ),
            (
                |i, v| i.log_mode = Some(v.into()),
                "tail",
                "log-mode",
                "`grouped` or `interleaved`",
            ),
            (
                |i, v| i.capacity_provider = Some(v.into()),
                "EC2",
                "capacity-provider",
                "FARGATE_SPOT",
            ),
            (
                |i, v| i.timeout_minutes = Some(v.into()),
                "0",
                "timeout-minutes",
                "greater than 0",
            ),
            (
                |i, v| i.timeout_minutes = Some(v.into()),
                "10000",
                "timeout-minutes",
                "at most 2880",
            ),
            (
                |i, v| i.command = Some(v.into()),
                "[\"k6\", \"run\"",
                "command",
                "JSON array",
            ),
            (
                |i, v| i.command = Some(v.into()),
                "[1, 2]",
                "command",
                "JSON array",
            ),
            (
                |i, v| i.command = Some(v.into()),
                "k6 'run",
                "command",
                "shell",
            ),
            (|i, v| i.cpu = Some(v.into()), "two", "cpu", "1024"),
            (|i, v| i.cpu = Some(v.into()), "300", "cpu", "1024"),
            (|i, v| i.memory = Some(v.into()), "2GB", "memory", "MiB"),
            (
                |i, v| i.subnets = Some(v.into()),
                "subnet-1, vpc-12345678",
                "subnets",
                "subnet-",
            ),
            (
                |i, v| i.security_groups = Some(v.into()),
                "default",
                "security-groups",
                "sg-",
            ),
            (
                |i, v| i.target_url = Some(v.into()),
                "staging.example.com",
                "target-url",
                "absolute URL",
            ),
            (|i, v| i.vus = Some(v.into()), "-5", "vus", "virtual users"),
            (
                |i, v| i.rate = Some(v.into()),
                "1.5",
                "rate",
                "requests per second",
            ),
            (
                |i, v| i.aws_region = Some(v.into()),
                "Europe",
                "aws-region",
                "us-east-1",
            ),
            (
                |i, v| i.platform_version = Some(v.into()),
                "latest",
                "platform-version",
                "LATEST",
            ),
            (
                |i, v| i.task_definition = Some(v.into()),
                "tester:one",
                "task-definition",
                "revision",
            ),
            (
                |i, v| i.cluster = Some(v.into()),
                "my cluster",
                "cluster",
                "cluster name",
            ),
            (
                |i, v| i.container_name = Some(v.into()),
                "a/b",
                "container-name",
                "container name",
            ),
        ];
        for (set, value, input, accepted) in table {
            let mut inputs = valid();
            set(&mut inputs, value);
            let all = errors(inputs);
            let error = all
                .iter()
                .find(|error| error.input == *input)
                .unwrap_or_else(|| panic!("{input}={value}: no error for it in {all:?}"));
            assert!(
                !error.given.is_empty()
                    && value.contains(error.given.split(',').next().unwrap().trim()),
                "{input}={value}: given {:?}",
                error.given
            );
            assert!(
                error.accepted.contains(accepted),
                "{input}={value}: accepted {:?} does not say {accepted:?}",
                error.accepted
            );
        }
    }

    #[test]
    fn several_bad_inputs_are_all_reported() {
        let mut inputs = valid();
        inputs.task_count = Some("ten".into());
        inputs.duration = Some("5 minutes".into());
        inputs.wait = Some("maybe".into());
        let names: Vec<&str> = errors(inputs).iter().map(|error| error.input).collect();
        assert_eq!(names, ["task-count", "duration", "wait"]);
    }

    #[test]
    fn splits_load_exactly_across_tasks() {
        let mut inputs = valid();
        inputs.task_count = Some("3".into());
        inputs.vus = Some("100".into());
        inputs.rate = Some("50".into());
        inputs.duration = Some("5m".into());
        inputs.target_url = Some("https://staging.example.com/".into());
        let plan = plan(&inputs, &context()).unwrap();
        let column = |name: &str| -> Vec<&str> {
            plan.tasks
                .iter()
                .map(|task| task.env(name).unwrap())
                .collect()
        };
        assert_eq!(column("VUS"), ["34", "33", "33"]);
        assert_eq!(column("RATE"), ["17", "17", "16"]);
        assert_eq!(column("DURATION"), ["300", "300", "300"]);
        assert_eq!(column("TASK_INDEX"), ["0", "1", "2"]);
        assert_eq!(column("TASK_COUNT"), ["3", "3", "3"]);
        assert_eq!(column("TARGET_URL"), ["https://staging.example.com/"; 3]);
    }

    #[test]
    fn a_total_smaller_than_the_task_count_is_refused() {
        let mut inputs = valid();
        inputs.task_count = Some("4".into());
        inputs.vus = Some("3".into());
        let error = only_error(inputs);
        assert_eq!((error.input, error.given.as_str()), ("vus", "3"));
    }

    #[test]
    fn durations() {
        for (text, seconds) in [
            ("300", Some(300)),
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
        ] {
            assert_eq!(parse_duration_seconds(text), seconds, "{text}");
        }
        for text in [
            "",
            "m",
            "5 m",
            "5min",
            "1d",
            "-1",
            "1.5m",
            "0",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(r#"["k6", "run", "--vus", "10 20"]"#).unwrap(),
            ["k6", "run", "--vus", "10 20"]
        );
        assert_eq!(
            parse_command(r#"k6 run "my test.js" --tag 'a b'"#).unwrap(),
            ["k6", "run", "my test.js", "--tag", "a b"]
        );
        assert_eq!(parse_command("[]"), None);
    }

    #[test]
    fn environment_lines() {
        let mut inputs = valid();
        inputs.environment = Some("A=1\n\n  B = two=2\nA=3\nEMPTY=\n".into());
        let plan = plan(&inputs, &context()).unwrap();
        let task = &plan.tasks[0];
        assert_eq!(task.env("A"), Some("3"));
        assert_eq!(task.env("B"), Some(" two=2"));
        assert_eq!(task.env("EMPTY"), Some(""));
    }

    #[test]
    fn environment_may_not_set_what_the_action_sets() {
        let mut inputs = valid();
        inputs.environment = Some("TASK_INDEX=7\nVUS=3".into());
        // VUS is free while the `vus` input is not given.
        assert_eq!(only_error(inputs.clone()).given, "TASK_INDEX=7");
        inputs.environment = Some("VUS=3".into());
        inputs.vus = Some("10".into());
        assert_eq!(only_error(inputs).input, "environment");
    }

    #[test]
    fn lists_accept_commas_spaces_and_newlines() {
        assert_eq!(
            split_list("subnet-1, subnet-2\nsubnet-3  subnet-4,"),
            ["subnet-1", "subnet-2", "subnet-3", "subnet-4"]
        );
    }

    #[test]
    fn region_falls_back_to_the_environment() {
        let mut context = context();
        context.aws_region = None;
        context.aws_default_region = Some("ap-south-1".into());
        assert_eq!(
            plan(&valid(), &context).unwrap().region.as_deref(),
            Some("ap-south-1")
        );
        let mut inputs = valid();
        inputs.aws_region = Some("us-west-2".into());
        assert_eq!(
            plan(&inputs, &context).unwrap().region.as_deref(),
            Some("us-west-2")
        );
    }

    #[test]
    fn accepted_forms() {
        let mut inputs = valid();
        inputs.task_definition =
            Some("arn:aws:ecs:us-east-1:123456789012:task-definition/tester:4".into());
        inputs.cluster = Some("arn:aws:ecs:us-east-1:123456789012:cluster/load".into());
        inputs.capacity_provider = Some("fargate_spot".into());
        inputs.timeout_minutes = Some("0.5".into());
        inputs.platform_version = Some("1.4.0".into());
        inputs.security_groups = Some("sg-0123456789abcdef0".into());
        inputs.cpu = Some("1024".into());
        inputs.memory = Some("2048".into());
        let plan = plan(&inputs, &context()).unwrap();
        assert_eq!(plan.capacity_provider, CapacityProvider::FargateSpot);
        assert_eq!(plan.timeout_seconds, 30);
        assert_eq!((plan.cpu, plan.memory), (Some(1024), Some(2048)));
    }

    #[test]
    fn identity_outside_github_actions() {
        let context = RunContext {
            invocation_id: "0123456789ab".into(),
            ..Default::default()
        };
        let plan = plan(&valid(), &context).unwrap();
        assert_eq!(plan.identity.started_by, "ecs-loadtest-cli-0123456789ab");
        assert!(plan.identity.started_by.len() <= 36);
        assert_eq!(plan.region, None);
    }

    #[test]
    fn tag_values_are_made_legal() {
        assert_eq!(tag_value("acme/shop#1"), "acme/shop_1");
    }
}
