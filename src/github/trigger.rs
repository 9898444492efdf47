//! The `issue_comment` event: a `/loadtest` comment on a pull request starts the run, with its
//! overrides, for a trusted author, against the pull request's head; reactions and replies say
//! what happened on the comment itself.

use anyhow::{Context, Result, anyhow};
use octocrab::Octocrab;
use serde::Deserialize;

use super::client::{self, describe};
use super::command::{Decision, IssueCommentEvent, Policy, decide};
use crate::gha::Gha;
use crate::inputs::{Inputs, given};
use crate::plan::split_list;
use crate::workflow::{CommentTrigger, WorkflowEnv};

pub const DEFAULT_COMMAND: &str = "/loadtest";
pub const DEFAULT_OVERRIDABLE: &str = "rate vus duration task-count stages thresholds";
pub const DEFAULT_ASSOCIATIONS: &str = "OWNER MEMBER COLLABORATOR";

/// What the event means for this step.
pub enum Triggered {
    /// Not a comment event: the run goes on as the workflow says.
    NotAComment,
    /// The step ends at once with this exit status; what happened was said (and replied).
    Done(u8),
    /// Run with these inputs (the comment's overrides applied) for this trigger.
    Run {
        inputs: Box<Inputs>,
        trigger: CommentTrigger,
    },
}

#[derive(Deserialize)]
struct PullRequest {
    head: Head,
    base: Option<Base>,
}

#[derive(Deserialize)]
struct Head {
    sha: String,
    #[serde(rename = "ref")]
    branch: Option<String>,
}

#[derive(Deserialize)]
struct Base {
    #[serde(rename = "ref")]
    branch: Option<String>,
}

/// Reads an `issue_comment` event and decides. Nothing is asked of AWS before a run is decided.
pub async fn from_comment(inputs: &Inputs, workflow: &WorkflowEnv, gha: &Gha) -> Result<Triggered> {
    if workflow.event_name.as_deref() != Some("issue_comment") {
        return Ok(Triggered::NotAComment);
    }
    let path = workflow
        .event_path
        .as_deref()
        .ok_or_else(|| anyhow!("GITHUB_EVENT_PATH is not set for an issue_comment event"))?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the event payload {path}"))?;
    let event: IssueCommentEvent = serde_json::from_str(&text)
        .with_context(|| format!("parsing the issue_comment event payload {path}"))?;
    let words = |value: &Option<String>, default: &str| split_list(given(value).unwrap_or(default));
    let command = given(&inputs.comment_command)
        .unwrap_or(DEFAULT_COMMAND)
        .to_string();
    let overridable = words(&inputs.comment_overrides, DEFAULT_OVERRIDABLE);
    let associations = words(&inputs.comment_authors, DEFAULT_ASSOCIATIONS);
    let decision = decide(
        &event,
        &Policy {
            command: &command,
            overridable: &overridable,
            associations: &associations,
        },
    );
    let overrides = match decision {
        Decision::Ignore(why) => {
            gha.notice(&why);
            return Ok(Triggered::Done(0));
        }
        Decision::RefuseAuthor(reply) => {
            gha.notice(&reply);
            reply_on(inputs, workflow, &event, &reply, gha).await;
            return Ok(Triggered::Done(0));
        }
        Decision::Invalid(problems) => {
            refuse(inputs, workflow, &event, &problems, gha).await;
            return Ok(Triggered::Done(crate::exit::INVALID_INPUTS));
        }
        Decision::Run(overrides) => overrides,
    };
    let mut changed = inputs.clone();
    let unknown: Vec<String> = overrides
        .iter()
        .filter(|(key, value)| !changed.set(key, value))
        .map(|(key, _)| format!("`{key}` is not an input of this action"))
        .collect();
    if !unknown.is_empty() {
        refuse(inputs, workflow, &event, &unknown, gha).await;
        return Ok(Triggered::Done(crate::exit::INVALID_INPUTS));
    }
    let github = github(inputs, workflow)?;
    let repository = repository(workflow)?;
    let route = format!("/repos/{repository}/pulls/{}", event.issue.number);
    let pull: PullRequest = github
        .get(&route, None::<&()>)
        .await
        .map_err(|error| anyhow!("GET {route}: {}", describe(&error)))?;
    let trigger = CommentTrigger {
        pull_number: event.issue.number,
        comment_id: event.comment.id,
        comment_url: event.comment.html_url.clone(),
        author: event.comment.user.login.clone(),
        overrides: overrides
            .iter()
            .map(|(key, value)| {
                if value.contains(char::is_whitespace) {
                    format!("{key}=\"{value}\"")
                } else {
                    format!("{key}={value}")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        head_sha: pull.head.sha,
        head_ref: pull.head.branch,
        base_ref: pull.base.and_then(|base| base.branch),
    };
    gha.line(&format!(
        "Started by @{} on pull request #{} ({}), testing its head {}",
        trigger.author,
        trigger.pull_number,
        if trigger.overrides.is_empty() {
            "no overrides".to_string()
        } else {
            trigger.overrides.clone()
        },
        trigger.head_sha
    ));
    react(&changed, workflow, trigger.comment_id, "eyes", gha).await;
    Ok(Triggered::Run {
        inputs: Box::new(changed),
        trigger,
    })
}

/// 🚀 when the run passed, 👎 when it did not.
pub async fn conclude(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    trigger: &CommentTrigger,
    status: u8,
    gha: &Gha,
) {
    let content = if status == 0 { "rocket" } else { "-1" };
    react(inputs, workflow, trigger.comment_id, content, gha).await;
}

/// Replies that nothing was started, and why.
pub async fn refuse(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    event: &IssueCommentEvent,
    problems: &[String],
    gha: &Gha,
) {
    for problem in problems {
        gha.error(problem);
    }
    let mut reply = format!(
        "@{}: this load test was not started.\n\n",
        event.comment.user.login
    );
    for problem in problems {
        reply.push_str(&format!("- {problem}\n"));
    }
    reply_on(inputs, workflow, event, &reply, gha).await;
}

/// Replies on the pull request that `trigger` came from, when its inputs were refused after the
/// overrides were applied.
pub async fn refuse_inputs(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    trigger: &CommentTrigger,
    problems: &[String],
    gha: &Gha,
) {
    let mut reply = format!(
        "@{}: this load test was not started: the inputs with your overrides (`{}`) are invalid.\n\n",
        trigger.author, trigger.overrides
    );
    for problem in problems {
        reply.push_str(&format!("- {problem}\n"));
    }
    post_reply(inputs, workflow, trigger.pull_number, &reply, gha).await;
}

async fn reply_on(
    inputs: &Inputs,
    workflow: &WorkflowEnv,
    event: &IssueCommentEvent,
    reply: &str,
    gha: &Gha,
) {
    let reply = format!("> {}\n\n{reply}", event.comment.html_url);
    post_reply(inputs, workflow, event.issue.number, &reply, gha).await;
}

async fn post_reply(inputs: &Inputs, workflow: &WorkflowEnv, number: u64, reply: &str, gha: &Gha) {
    let posted = async {
        let github = github(inputs, workflow)?;
        let route = format!("/repos/{}/issues/{number}/comments", repository(workflow)?);
        github
            .post::<_, serde_json::Value>(&route, Some(&serde_json::json!({ "body": reply })))
            .await
            .map_err(|error| anyhow!("POST {route}: {}", describe(&error)))
    }
    .await;
    if let Err(error) = posted {
        gha.warning(&format!(
            "could not reply on pull request #{number}: {error:#}"
        ));
    }
}

async fn react(inputs: &Inputs, workflow: &WorkflowEnv, comment_id: u64, content: &str, gha: &Gha) {
    let reacted = async {
        let github = github(inputs, workflow)?;
        let route = format!(
            "/repos/{}/issues/comments/{comment_id}/reactions",
            repository(workflow)?
        );
        github
            .post::<_, serde_json::Value>(&route, Some(&serde_json::json!({ "content": content })))
            .await
            .map_err(|error| anyhow!("POST {route}: {}", describe(&error)))
    }
    .await;
    if let Err(error) = reacted {
        gha.warning(&format!("could not react to the comment: {error:#}"));
    }
}

fn github(inputs: &Inputs, workflow: &WorkflowEnv) -> Result<Octocrab> {
    let token = given(&inputs.github_token).ok_or_else(|| {
        anyhow!("input `github-token` is needed to answer a pull request comment")
    })?;
    client::build(workflow.api_url.as_deref(), token)
}

fn repository(workflow: &WorkflowEnv) -> Result<&str> {
    workflow
        .repository
        .as_deref()
        .ok_or_else(|| anyhow!("GITHUB_REPOSITORY is not set"))
}
