//! Where results are kept (`results-table`), under which test, for how long, and which branch's
//! runs this one is compared with.

use serde::Serialize;

use super::Threshold;
use super::load::Load;
use super::parse::{is_arn, parse_bool};
use super::regions::RegionShare;
use crate::input_error::{Ignored, Problems};
use crate::inputs::{Inputs, given};
use crate::workflow::WorkflowEnv;

pub const DEFAULT_TTL_DAYS: u64 = 90;
pub const MAX_TTL_DAYS: u64 = 3650;

/// Why the history inputs are not used.
const WITHOUT_TABLE: &str = "no `results-table`, so no result is stored or compared";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPlan {
    /// Name or ARN.
    pub table: String,
    pub test_id: String,
    pub ttl_days: u64,
    /// A relative threshold without a baseline fails the run.
    pub require_baseline: bool,
    /// The branch tested, and the repository it is a branch of (a fork's, for a fork's pull
    /// request).
    pub branch: Option<String>,
    pub repository: Option<String>,
    /// Whose runs this one is compared with: the input, else the pull request's base branch,
    /// else the run's own branch.
    pub baseline_branch: Option<String>,
    /// The repository whose branch that is: always the workflow's own, never a fork.
    pub baseline_repository: Option<String>,
    pub commit: Option<String>,
    pub run_url: Option<String>,
    pub shape: Shape,
}

/// What makes two runs comparable: the same tasks, rate, virtual users, duration and stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub task_count: usize,
    pub rate: Option<u64>,
    pub vus: Option<u64>,
    pub duration_seconds: Option<u64>,
    /// The stages in their canonical form, `30s:200,120s:200,30s:0`.
    pub stages: Option<String>,
    /// With several regions, each with its tasks: `us-east-1:4,eu-west-1:2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<String>,
}

impl Shape {
    pub fn of(load: &Load, regions: &[RegionShare]) -> Shape {
        Shape {
            regions: (!regions.is_empty()).then(|| {
                regions
                    .iter()
                    .map(|region| format!("{}:{}", region.name, region.tasks))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            task_count: load.task_count,
            rate: load.rate,
            vus: load.vus,
            duration_seconds: load
                .duration_seconds
                .or_else(|| load.stages.as_ref().map(|stages| stages.total_seconds())),
            stages: load.stages.as_ref().map(ToString::to_string),
        }
    }

    /// One string that is equal exactly when the shapes are: stored with every run, and what the
    /// baseline query filters on.
    pub fn key(&self) -> String {
        let number = |value: Option<u64>| value.map_or("-".to_string(), |value| value.to_string());
        let mut key = format!(
            "tasks={} rate={} vus={} duration={} stages={}",
            self.task_count,
            number(self.rate),
            number(self.vus),
            number(self.duration_seconds),
            self.stages.as_deref().unwrap_or("-")
        );
        // Added only with several regions: a one-region run keeps the key runs always had.
        if let Some(regions) = &self.regions {
            key.push_str(&format!(" regions={regions}"));
        }
        key
    }

    /// `2 tasks, 200 req/s, 60 s`, for people.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "{} task{}",
            self.task_count,
            if self.task_count == 1 { "" } else { "s" }
        )];
        if let Some(stages) = &self.stages {
            parts.push(format!("stages {stages}"));
        }
        if let Some(rate) = self.rate {
            parts.push(format!("{rate} req/s"));
        }
        if let Some(vus) = self.vus {
            parts.push(format!("{vus} VUs"));
        }
        if let Some(seconds) = self.duration_seconds {
            parts.push(format!("{seconds} s"));
        }
        if let Some(regions) = &self.regions {
            parts.push(format!("regions {}", regions.replace(',', ", ")));
        }
        parts.join(", ")
    }
}

/// `None` without `results-table` (the other history inputs are then noted as ignored, and a
/// relative threshold is a problem: it could never be checked).
pub fn history_plan(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    shape: Shape,
    comment_tag: &str,
    thresholds: &[Threshold],
    problems: &mut Problems,
    ignored: &mut Ignored,
) -> Option<HistoryPlan> {
    let Some(table) = given(&inputs.results_table) else {
        for (name, value) in [
            ("test-id", &inputs.test_id),
            ("baseline-branch", &inputs.baseline_branch),
        ] {
            if given(value).is_some() {
                ignored.add(WITHOUT_TABLE, name);
            }
        }
        for rule in thresholds.iter().filter(|rule| rule.relative.is_some()) {
            problems.add(
                "thresholds",
                &rule.rule,
                "a rule relative to the base branch's runs only with `results-table`, where the runs are kept; or an absolute rule such as `p95 < 500ms`",
            );
        }
        return None;
    };
    let table = problems.parse(
        "results-table",
        &inputs.results_table,
        "a DynamoDB table name (3 to 255 letters, digits, `_`, `-` and `.`) or a table ARN",
        |_| is_table(table).then(|| table.to_string()),
    );
    let test_id = match given(&inputs.test_id) {
        Some(id) if id.len() > 1024 || id.chars().any(char::is_control) => {
            problems.add(
                "test-id",
                id,
                "a name of at most 1024 bytes without control characters",
            );
            String::new()
        }
        Some(id) => id.to_string(),
        None => comment_tag.to_string(),
    };
    let ttl_days = problems
        .parse(
            "results-ttl-days",
            &inputs.results_ttl_days,
            &format!("a whole number of days from 1 to {MAX_TTL_DAYS}"),
            |text| {
                text.parse::<u64>()
                    .ok()
                    .filter(|days| (1..=MAX_TTL_DAYS).contains(days))
            },
        )
        .unwrap_or(DEFAULT_TTL_DAYS);
    let require_baseline = problems
        .parse(
            "require-baseline",
            &inputs.require_baseline,
            "`true` or `false`",
            parse_bool,
        )
        .unwrap_or(false);
    Some(HistoryPlan {
        table: table?,
        test_id,
        ttl_days,
        require_baseline,
        branch: workflow.branch(),
        repository: workflow.head_repository.clone(),
        // A pull request is compared with its base; any other run with its own branch's earlier
        // runs (a push to `main` with `main`'s), which is what a regression there means.
        baseline_branch: given(&inputs.baseline_branch)
            .map(str::to_string)
            .or_else(|| workflow.base_ref.clone())
            .or_else(|| workflow.branch()),
        baseline_repository: workflow.repository.clone(),
        commit: workflow.sha.clone(),
        run_url: workflow.run_url(),
        shape,
    })
}

/// A table name (`[A-Za-z0-9_.-]{3,255}`) or a DynamoDB table ARN.
pub fn is_table(text: &str) -> bool {
    let is_name = |name: &str| {
        (3..=255).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    if text.starts_with("arn:") {
        is_arn(text, "dynamodb", "table/")
            && text
                .split_once(":table/")
                .is_some_and(|(_, name)| is_name(name))
    } else {
        is_name(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_and_arns() {
        for good in [
            "loadtest-results",
            "a.b_c",
            "arn:aws:dynamodb:us-east-1:123456789012:table/loadtest-results",
        ] {
            assert!(is_table(good), "{good}");
        }
        for bad in [
            "ab",
            "with space",
            "arn:aws:s3:::bucket",
            "arn:aws:dynamodb:us-east-1:123456789012:table/x",
        ] {
            assert!(!is_table(bad), "{bad}");
        }
    }

    #[test]
    fn the_shape_key_tells_shapes_apart() {
        let shape = Shape {
            task_count: 2,
            rate: Some(200),
            vus: None,
            duration_seconds: Some(60),
            stages: None,
            regions: None,
        };
        assert_eq!(shape.key(), "tasks=2 rate=200 vus=- duration=60 stages=-");
        assert_eq!(shape.describe(), "2 tasks, 200 req/s, 60 s");
        let other = Shape {
            task_count: 3,
            ..shape.clone()
        };
        assert_ne!(shape.key(), other.key());
        let spread = Shape {
            regions: Some("us-east-1:1,eu-west-1:1".into()),
            ..shape.clone()
        };
        assert_eq!(
            spread.key(),
            "tasks=2 rate=200 vus=- duration=60 stages=- regions=us-east-1:1,eu-west-1:1"
        );
        assert_eq!(
            spread.describe(),
            "2 tasks, 200 req/s, 60 s, regions us-east-1:1, eu-west-1:1"
        );
    }
}
