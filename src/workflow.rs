//! The workflow run that started us, from GitHub's default variables (and the region fallbacks),
//! and the identity that marks this run's tasks so that they can be found again.

use rand::Rng;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkflowEnv {
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: Option<String>,
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `GITHUB_REF_NAME`: the branch or tag (on a pull request, `N/merge`).
    pub ref_name: Option<String>,
    /// `GITHUB_HEAD_REF` and `GITHUB_BASE_REF`: a pull request's branches (pull request events
    /// only).
    pub head_ref: Option<String>,
    pub base_ref: Option<String>,
    /// The repository the tested code comes from: on a pull request its head's (a fork's, for a
    /// fork's pull request; `None` when the fork was deleted), else `GITHUB_REPOSITORY`.
    pub head_repository: Option<String>,
    /// `GITHUB_SERVER_URL`.
    pub server_url: Option<String>,
    /// `GITHUB_JOB`: the job's ID, the default comment tag.
    pub job: Option<String>,
    /// `GITHUB_API_URL`: the REST API base (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// `GITHUB_EVENT_NAME` and `GITHUB_EVENT_PATH`.
    pub event_name: Option<String>,
    pub event_path: Option<String>,
    /// `AWS_REGION`.
    pub aws_region: Option<String>,
    /// `AWS_DEFAULT_REGION`.
    pub aws_default_region: Option<String>,
    /// `ECS_LOADTEST_IMAGE`: the action's own image, which a release build names, and which
    /// the tasks run for the built-in generator.
    pub own_image: Option<String>,
    /// Random, one per invocation: tells apart runs started from a terminal, and the jobs of one
    /// workflow run. The post step takes the main step's, from `STATE_invocation`.
    pub invocation_id: String,
    /// Whether `invocation_id` is the main step's, found in `STATE_invocation` (post step).
    pub invocation_saved: bool,
    /// Set when a pull request comment started the run.
    pub trigger: Option<CommentTrigger>,
}

/// A run started by a pull request comment (`/loadtest rate=500`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentTrigger {
    pub pull_number: u64,
    pub comment_id: u64,
    pub comment_url: String,
    /// The comment's author's login.
    pub author: String,
    /// The overrides as given, `rate=500 duration=2m`.
    pub overrides: String,
    /// The pull request's head: the commit tested (`GITHUB_SHA` is the default branch's).
    pub head_sha: String,
    /// The pull request's head and base branches, and the repository of its head (a fork's).
    pub head_ref: Option<String>,
    pub head_repository: Option<String>,
    pub base_ref: Option<String>,
}

/// How the tasks of this run are marked, so that cleanup can find them again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunIdentity {
    /// The run's mark on every task (a backend's `startedBy`, a label): at most 36 letters,
    /// digits, `-`, `_` and `/`.
    pub started_by: String,
    /// Human name of the run, used in stop reasons.
    pub description: String,
    /// Link to the workflow run, in GitHub Actions.
    pub run_url: Option<String>,
    /// Tags put on every task (the task index is added per task).
    pub tags: Vec<Tag>,
    /// The invocation that starts (or started) the tasks; also in the tags.
    pub invocation: String,
    /// Which tasks a cleanup after the step looks after.
    pub cleanup_reach: Reach,
    /// The marks of the workflow run's earlier attempts (this is a re-run), oldest first.
    pub earlier_attempts: Vec<String>,
}

/// Which of a run's tasks are looked for when looking for leftovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reach {
    /// One invocation's: the step's own. Other jobs of the same workflow run (a matrix) may be
    /// running their own tasks in the same cluster or on the same engine.
    Invocation,
    /// Every task of the run attempt: a post step whose main step was killed before it could save
    /// its invocation.
    Run,
}

/// The name under which the main step saves its invocation for the post step (`GITHUB_STATE`).
pub const INVOCATION_STATE: &str = "invocation";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl WorkflowEnv {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let saved = var(&format!("STATE_{INVOCATION_STATE}"))
            .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        let invocation_saved = saved.is_some();
        let invocation_id = saved
            .unwrap_or_else(|| format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff));
        let event_name = var("GITHUB_EVENT_NAME");
        let event_path = var("GITHUB_EVENT_PATH");
        let head_repository = match (event_name.as_deref(), event_path.as_deref()) {
            (Some(name), Some(path)) if name.starts_with("pull_request") => {
                event_head_repository(path)
            }
            _ => var("GITHUB_REPOSITORY"),
        };
        WorkflowEnv {
            head_repository,
            repository: var("GITHUB_REPOSITORY"),
            run_id: var("GITHUB_RUN_ID"),
            run_attempt: var("GITHUB_RUN_ATTEMPT"),
            sha: var("GITHUB_SHA"),
            ref_name: var("GITHUB_REF_NAME"),
            head_ref: var("GITHUB_HEAD_REF"),
            base_ref: var("GITHUB_BASE_REF"),
            server_url: var("GITHUB_SERVER_URL"),
            job: var("GITHUB_JOB"),
            api_url: var("GITHUB_API_URL"),
            event_name,
            event_path,
            aws_region: var("AWS_REGION"),
            aws_default_region: var("AWS_DEFAULT_REGION"),
            own_image: var("ECS_LOADTEST_IMAGE"),
            invocation_id,
            invocation_saved,
            trigger: None,
        }
    }

    /// Link to the workflow run, when running in GitHub Actions.
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server(),
            self.repository.as_deref()?,
            self.run_id.as_deref()?
        ))
    }

    /// The environment of a run that `trigger` started: the commit tested is the pull request's
    /// head.
    pub fn triggered_by(&self, trigger: CommentTrigger) -> WorkflowEnv {
        WorkflowEnv {
            sha: Some(trigger.head_sha.clone()),
            head_ref: trigger.head_ref.clone(),
            head_repository: trigger.head_repository.clone(),
            base_ref: trigger.base_ref.clone(),
            trigger: Some(trigger),
            ..self.clone()
        }
    }

    /// The branch tested: a pull request's head branch, else the pushed or dispatched branch.
    pub fn branch(&self) -> Option<String> {
        self.head_ref.clone().or_else(|| self.ref_name.clone())
    }

    /// `GITHUB_SERVER_URL`, else github.com.
    pub fn server(&self) -> &str {
        self.server_url.as_deref().unwrap_or("https://github.com")
    }

    /// How the run is named in stop reasons and messages.
    pub fn describe(&self) -> String {
        match (&self.repository, &self.run_id) {
            (Some(repository), Some(run_id)) => format!(
                "{repository} run {run_id} attempt {}",
                self.run_attempt.as_deref().unwrap_or("1")
            ),
            _ => format!("ecs-loadtest invocation {}", self.invocation_id),
        }
    }

    /// The mark of this workflow run attempt (or of this terminal invocation).
    pub fn identity(&self) -> RunIdentity {
        let started_by = match (&self.run_id, &self.run_attempt) {
            (Some(run_id), attempt) => run_mark(run_id, attempt.as_deref().unwrap_or("1")),
            (None, _) => mark(&format!("ecs-loadtest-cli-{}", self.invocation_id)),
        };
        // A re-run is only possible once every earlier attempt has ended: their tasks still
        // running were left by a step that was killed.
        let attempt: u32 = self
            .run_attempt
            .as_deref()
            .and_then(|attempt| attempt.parse().ok())
            .unwrap_or(1);
        let earlier_attempts = match &self.run_id {
            Some(run_id) => (1..attempt)
                .map(|earlier| run_mark(run_id, &earlier.to_string()))
                .collect(),
            None => Vec::new(),
        };
        let mut tags = Vec::new();
        for (key, value) in [
            ("repository", &self.repository),
            ("run-id", &self.run_id),
            ("run-attempt", &self.run_attempt),
            ("commit", &self.sha),
            ("invocation", &Some(self.invocation_id.clone())),
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
            description: self.describe(),
            run_url: self.run_url(),
            tags,
            invocation: self.invocation_id.clone(),
            earlier_attempts,
            cleanup_reach: if self.invocation_saved {
                Reach::Invocation
            } else {
                Reach::Run
            },
        }
    }
}

/// `pull_request.number` in the event payload at `path`.
pub fn event_pull_number(path: &str) -> anyhow::Result<Option<u64>> {
    use anyhow::Context;
    #[derive(serde::Deserialize)]
    struct Event {
        pull_request: Option<PullRequest>,
    }
    #[derive(serde::Deserialize)]
    struct PullRequest {
        number: u64,
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the event payload {path}"))?;
    let event: Event =
        serde_json::from_str(&text).with_context(|| format!("parsing the event payload {path}"))?;
    Ok(event.pull_request.map(|pull_request| pull_request.number))
}

/// A pull request event's `pull_request.head.repo.full_name`: `None` when it cannot be read or the
/// fork is gone (such a run's branch is then no branch of any known repository).
fn event_head_repository(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let event: serde_json::Value = serde_json::from_str(&text).ok()?;
    event["pull_request"]["head"]["repo"]["full_name"]
        .as_str()
        .map(str::to_string)
}

/// The mark of attempt `attempt` of workflow run `run_id`.
fn run_mark(run_id: &str, attempt: &str) -> String {
    mark(&format!("ecs-loadtest-{run_id}-{attempt}"))
}

/// `text` as a mark: at most 36 letters, digits, `-`, `_` and `/` (what `startedBy` takes).
fn mark(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
        .take(36)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_are_made_legal() {
        assert_eq!(tag_value("acme/shop#1"), "acme/shop_1");
    }
}
