//! The validated, typed, complete description of a run. Built by `validate::plan`; no IO.

use serde::Serialize;

pub use crate::logs::screen::LogMode;
use crate::results::threshold::Threshold;

/// Where the tasks' image comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// Run this reference as it is.
    Given(String),
    /// Build from a Dockerfile and push to ECR.
    Build(BuildPlan),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildPlan {
    pub context: String,
    pub dockerfile: String,
    pub build_args: Vec<EnvVar>,
    pub target: Option<String>,
    pub repository: String,
    pub tag: String,
    /// OCI labels from the workflow (`org.opencontainers.image.source`, `.revision`).
    pub labels: Vec<EnvVar>,
}

/// Whether and how to post the PR comment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentPlan {
    pub enabled: bool,
    pub tag: String,
    /// Never printed: the plan JSON leaves it out.
    #[serde(skip)]
    pub token: Option<String>,
    /// `owner/repo`, the API base, the event and commit that identify the PR.
    pub repository: Option<String>,
    pub api_url: Option<String>,
    pub event_name: Option<String>,
    pub event_path: Option<String>,
    pub sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// `None`: the SDK's own chain (profile files) decides.
    pub region: Option<String>,
    pub cluster: String,
    pub task_definition: String,
    pub container_name: Option<String>,
    pub image: ImageSource,
    pub network: Network,
    pub capacity_provider: CapacityProvider,
    pub platform_version: String,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub command: Option<Vec<String>>,
    pub timeout_seconds: u64,
    pub wait: bool,
    pub log_mode: LogMode,
    pub thresholds: Vec<Threshold>,
    pub comment: CommentPlan,
    /// Said to the user before the run starts (inputs that were ignored, …).
    pub notices: Vec<String>,
    pub identity: RunIdentity,
    pub tasks: Vec<TaskSpec>,
}

impl Plan {
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CapacityProvider {
    #[serde(rename = "FARGATE")]
    Fargate,
    #[serde(rename = "FARGATE_SPOT")]
    FargateSpot,
}

impl CapacityProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityProvider::Fargate => "FARGATE",
            CapacityProvider::FargateSpot => "FARGATE_SPOT",
        }
    }
}

/// How the tasks of this run are marked, so that cleanup can find them again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunIdentity {
    /// ECS `startedBy`: at most 36 letters, digits, `-`, `_` and `/`.
    pub started_by: String,
    /// Human name of the run, used in stop reasons.
    pub description: String,
    /// Link to the workflow run, in GitHub Actions.
    pub run_url: Option<String>,
    /// Tags put on every task (the task index is added per task).
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// One task to start: its index and the complete environment overrides it gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSpec {
    pub index: usize,
    pub environment: Vec<EnvVar>,
}

impl TaskSpec {
    pub fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|var| var.name == name)
            .map(|var| var.value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}
