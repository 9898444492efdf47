//! Which pull request a run belongs to.

use anyhow::Result;
use octocrab::Octocrab;
use serde::Deserialize;

use super::client::describe;
use crate::workflow::event_pull_number;

/// Where the run is: `owner/repo`, and the event that started it.
pub struct EventContext<'a> {
    pub repository: &'a str,
    pub event_name: Option<&'a str>,
    pub event_path: Option<&'a str>,
    pub sha: Option<&'a str>,
    /// On `issue_comment`: the pull request the comment is on.
    pub commented_pull: Option<u64>,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    state: String,
    head: Head,
}

#[derive(Deserialize)]
struct Head {
    sha: String,
}

/// The PR number: the event's `pull_request.number` on pull_request events; on push, the open PR
/// whose head is the pushed commit; on issue_comment, the commented one; otherwise
/// (workflow_dispatch, schedule, …) none.
pub async fn find(github: &Octocrab, context: &EventContext<'_>) -> Result<Option<u64>> {
    match context.event_name {
        Some("pull_request" | "pull_request_target" | "pull_request_review") => {
            let Some(path) = context.event_path else {
                return Ok(None);
            };
            event_pull_number(path)
        }
        Some("push") => {
            let Some(sha) = context.sha else {
                return Ok(None);
            };
            let route = format!("/repos/{}/commits/{sha}/pulls", context.repository);
            let pulls: Vec<PullRequest> = github
                .get(&route, None::<&()>)
                .await
                .map_err(|error| anyhow::anyhow!("GET {route}: {}", describe(&error)))?;
            Ok(pulls
                .into_iter()
                .find(|pull| pull.state == "open" && pull.head.sha == sha)
                .map(|pull| pull.number))
        }
        Some("issue_comment") => Ok(context.commented_pull),
        _ => Ok(None),
    }
}
