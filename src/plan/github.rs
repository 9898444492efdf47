//! Whether and where to post the PR comment.

use serde::Serialize;

use super::parse::parse_bool;
use crate::input_error::Problems;
use crate::inputs::{Inputs, given};
use crate::workflow::{CommentTrigger, WorkflowEnv};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    /// The pull request comment that started the run, when one did.
    pub trigger: Option<CommentTrigger>,
}

pub fn comment_plan(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    problems: &mut Problems,
) -> CommentPlan {
    let enabled = problems
        .parse("comment", &inputs.comment, "`true` or `false`", parse_bool)
        .unwrap_or(true);
    let tag = match given(&inputs.comment_tag) {
        Some(tag) if tag.contains("--") || tag.contains('>') || tag.contains('\n') => {
            problems.add(
                "comment-tag",
                tag,
                "a tag without `--`, `>` or line breaks (it goes in an HTML comment)",
            );
            String::new()
        }
        Some(tag) => tag.to_string(),
        None => workflow
            .job
            .clone()
            .unwrap_or_else(|| "ecs-loadtest".to_string()),
    };
    CommentPlan {
        enabled,
        tag,
        token: given(&inputs.github_token).map(str::to_string),
        repository: workflow.repository.clone(),
        api_url: workflow.api_url.clone(),
        event_name: workflow.event_name.clone(),
        event_path: workflow.event_path.clone(),
        sha: workflow.sha.clone(),
        trigger: workflow.trigger.clone(),
    }
}
