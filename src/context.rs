//! Facts about the run that come from the environment rather than from inputs: the workflow run
//! that started us (GitHub's default variables) and the region fallbacks.

use rand::Rng;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunContext {
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: Option<String>,
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `GITHUB_WORKFLOW`.
    pub workflow: Option<String>,
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
    /// Random, one per invocation: tells apart runs started from a terminal.
    pub invocation_id: String,
}

impl RunContext {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let invocation_id = format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff);
        RunContext {
            repository: var("GITHUB_REPOSITORY"),
            run_id: var("GITHUB_RUN_ID"),
            run_attempt: var("GITHUB_RUN_ATTEMPT"),
            sha: var("GITHUB_SHA"),
            workflow: var("GITHUB_WORKFLOW"),
            server_url: var("GITHUB_SERVER_URL"),
            job: var("GITHUB_JOB"),
            api_url: var("GITHUB_API_URL"),
            event_name: var("GITHUB_EVENT_NAME"),
            event_path: var("GITHUB_EVENT_PATH"),
            aws_region: var("AWS_REGION"),
            aws_default_region: var("AWS_DEFAULT_REGION"),
            invocation_id,
        }
    }

    /// Link to the workflow run, when running in GitHub Actions.
    pub fn run_url(&self) -> Option<String> {
        let server = self.server_url.as_deref().unwrap_or("https://github.com");
        Some(format!(
            "{server}/{}/actions/runs/{}",
            self.repository.as_deref()?,
            self.run_id.as_deref()?
        ))
    }

    /// How the run is named in `startedBy`, stop reasons and messages.
    pub fn describe(&self) -> String {
        match (&self.repository, &self.run_id) {
            (Some(repository), Some(run_id)) => format!(
                "{repository} run {run_id} attempt {}",
                self.run_attempt.as_deref().unwrap_or("1")
            ),
            _ => format!("ecs-loadtest invocation {}", self.invocation_id),
        }
    }
}
