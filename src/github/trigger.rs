//! The `issue_comment` event: a `/loadtest` comment on a pull request starts the run, with its
//! overrides, for an author with enough permission on the repository, on the one head commit the
//! comment approves; reactions and replies say what happened on the comment itself.

use anyhow::{Context, Result, anyhow};
use octocrab::Octocrab;
use serde::Deserialize;

use super::client::{self, describe};
use super::command::{Command, Decision, IssueCommentEvent, Policy, SHA_WORD, decide};
use super::permission::Permission;
use crate::gha::Gha;
use crate::inputs::{Inputs, given};
use crate::plan::split_list;
use crate::workflow::{CommentTrigger, WorkflowEnv};

pub const DEFAULT_COMMAND: &str = "/loadtest";
/// What a comment may set unless the workflow says otherwise: the size and length of the load,
/// never where it goes or what runs. `thresholds` may be listed by a workflow; an override then
/// adds rules to the workflow's, never replaces them.
pub const DEFAULT_OVERRIDABLE: &str = "rate vus duration task-count stages";

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
    base: Base,
}

#[derive(Deserialize)]
struct Head {
    sha: String,
    #[serde(rename = "ref")]
    branch: Option<String>,
    /// `null` when the fork it came from was deleted.
    repo: Option<Repository>,
}

#[derive(Deserialize)]
struct Base {
    #[serde(rename = "ref")]
    branch: Option<String>,
    repo: Repository,
}

#[derive(Deserialize)]
struct Repository {
    id: u64,
    full_name: String,
    /// When anything was last pushed to any branch of it (ISO 8601, UTC; set by GitHub).
    pushed_at: Option<String>,
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
    let command_word = given(&inputs.comment_command)
        .unwrap_or(DEFAULT_COMMAND)
        .to_string();
    let overridable = split_list(given(&inputs.comment_overrides).unwrap_or(DEFAULT_OVERRIDABLE));
    let parsed = match decide(
        &event,
        &Policy {
            command: &command_word,
            overridable: &overridable,
        },
    ) {
        Decision::Ignore(why) => {
            gha.notice(&why);
            return Ok(Triggered::Done(0));
        }
        Decision::Command(parsed) => parsed,
    };
    let required = match Permission::parse_input(inputs) {
        Ok(required) => required,
        Err(problem) => {
            gha.error(&problem);
            return Ok(Triggered::Done(crate::exit::INVALID_INPUTS));
        }
    };
    let github = github(inputs, workflow)?;
    let repository = repository(workflow)?;
    // Asked before anything else is answered: someone who may not start load learns only that.
    let author = &event.comment.user.login;
    if let Err(reply) = super::permission::check(&github, repository, author, required).await {
        gha.notice(&reply);
        reply_on(inputs, workflow, &event, &reply, gha).await;
        return Ok(Triggered::Done(0));
    }
    let Command { overrides, sha } = match parsed {
        Ok(command) => command,
        Err(problems) => {
            refuse(inputs, workflow, &event, &problems, gha).await;
            return Ok(Triggered::Done(crate::exit::INVALID_INPUTS));
        }
    };
    let changed = match apply_overrides(inputs, &overrides) {
        Ok(changed) => changed,
        Err(problems) => {
            refuse(inputs, workflow, &event, &problems, gha).await;
            return Ok(Triggered::Done(crate::exit::INVALID_INPUTS));
        }
    };
    let route = format!("/repos/{repository}/pulls/{}", event.issue.number);
    let pull: PullRequest = github
        .get(&route, None::<&()>)
        .await
        .map_err(|error| anyhow!("GET {route}: {}", describe(&error)))?;
    if let Err(refusal) = approved_head(&pull, &event.comment.created_at, sha.as_deref()) {
        refuse(inputs, workflow, &event, &[refusal], gha).await;
        return Ok(Triggered::Done(crate::exit::INVALID_INPUTS));
    }
    let trigger = CommentTrigger {
        pull_number: event.issue.number,
        comment_id: event.comment.id,
        comment_url: event.comment.html_url.clone(),
        author: author.clone(),
        overrides: overrides
            .iter()
            .map(|(key, value)| format!("{key}={}", shell_words::quote(value)))
            .collect::<Vec<_>>()
            .join(" "),
        head_sha: pull.head.sha,
        head_ref: pull.head.branch,
        head_repository: pull.head.repo.map(|repo| repo.full_name),
        base_ref: pull.base.branch,
    };
    // Printed only now that every override is known to be allowed and plain text; quoted.
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

/// The workflow's inputs with a comment's overrides. An override replaces the workflow's value,
/// except `thresholds`, whose rules are added to the workflow's (every rule must hold, so a
/// comment can add or tighten, never drop one). A new load shape replaces the old one whole:
/// `stages` clears the workflow's `rate` and `duration` (and `vus` for stages of virtual users),
/// and `rate` or `duration` clears its `stages`.
fn apply_overrides(inputs: &Inputs, overrides: &[(String, String)]) -> Result<Inputs, Vec<String>> {
    let mut changed = inputs.clone();
    let overridden = |name: &str| overrides.iter().any(|(key, _)| key == name);
    if overridden("stages") {
        changed.rate = None;
        changed.duration = None;
        if overrides
            .iter()
            .any(|(key, value)| key == "stages" && value.contains("vus"))
        {
            changed.vus = None;
        }
    }
    if (overridden("rate") || overridden("duration")) && !overridden("stages") {
        changed.stages = None;
    }
    let mut problems = Vec::new();
    for (key, value) in overrides {
        let value = match (key.as_str(), given(&inputs.thresholds)) {
            ("thresholds", Some(workflow)) => format!("{workflow}\n{value}"),
            _ => value.clone(),
        };
        if !changed.set(key, &value) {
            problems.push(format!("`{key}` is not an input of this action"));
        }
    }
    if problems.is_empty() {
        Ok(changed)
    } else {
        Err(problems)
    }
}

/// Whether the pull request's head is the commit the comment approves. A comment that names a
/// commit (`sha=abc1234`) approves that one, and the head must still be it. One that names none
/// approves the head as it was when it was written: refused for a fork (whose head its author
/// moves at will, so the approver must name what they read), and for a head that anything was
/// pushed to since.
fn approved_head(
    pull: &PullRequest,
    commented_at: &str,
    named: Option<&str>,
) -> Result<(), String> {
    let head = &pull.head.sha;
    let short = head.get(..7).unwrap_or(head);
    let ask_again = format!("comment `{DEFAULT_COMMAND} {SHA_WORD}={short}` once you have read it");
    if let Some(named) = named {
        return if head.to_ascii_lowercase().starts_with(named) {
            Ok(())
        } else {
            Err(format!(
                "the comment approves commit `{named}`, but the pull request's head is now `{head}`: nothing was run. To test the head, {ask_again}."
            ))
        };
    }
    let same_repository = pull
        .head
        .repo
        .as_ref()
        .is_some_and(|repo| repo.id == pull.base.repo.id);
    if !same_repository {
        let from = pull
            .head
            .repo
            .as_ref()
            .map_or("a deleted fork".to_string(), |repo| {
                format!("`{}`", repo.full_name)
            });
        return Err(format!(
            "this pull request comes from {from}, whose author can push to it at any time, so the comment must name the commit it approves: {ask_again}."
        ));
    }
    let pushed_at = pull
        .head
        .repo
        .as_ref()
        .and_then(|repo| repo.pushed_at.as_deref());
    match (pushed_at.and_then(parse_time), parse_time(commented_at)) {
        (Some(pushed), Some(commented)) if pushed < commented => Ok(()),
        (Some(_), Some(_)) => Err(format!(
            "something was pushed to the repository at {}, after the comment was written ({commented_at}), so the head `{head}` may not be the commit that was read: nothing was run. To test it, {ask_again}.",
            pushed_at.unwrap_or_default()
        )),
        _ => Err(format!(
            "GitHub did not say when the head was last pushed, so the comment cannot approve it by time: {ask_again}."
        )),
    }
}

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn pull(head_repo: Option<u64>, pushed_at: Option<&str>) -> PullRequest {
        let repo = |id: u64| Repository {
            id,
            full_name: if id == 1 { "acme/shop" } else { "someone/shop" }.into(),
            pushed_at: pushed_at.map(String::from),
        };
        PullRequest {
            head: Head {
                sha: HEAD.into(),
                branch: Some("feature".into()),
                repo: head_repo.map(repo),
            },
            base: Base {
                branch: Some("main".into()),
                repo: repo(1),
            },
        }
    }

    const COMMENTED: &str = "2026-11-20T10:00:00Z";

    #[test]
    fn a_comment_approves_the_head_it_saw() {
        // Same repository, nothing pushed since the comment.
        assert_eq!(
            approved_head(
                &pull(Some(1), Some("2026-11-20T09:59:59Z")),
                COMMENTED,
                None
            ),
            Ok(())
        );
        // Pushed after the comment (or in its second): the head may be one nobody read.
        for pushed in ["2026-11-20T10:00:01Z", "2026-11-20T10:00:00Z"] {
            let refusal = approved_head(&pull(Some(1), Some(pushed)), COMMENTED, None).unwrap_err();
            assert!(
                refusal.contains("after the comment was written")
                    && refusal.contains("/loadtest sha=fedcba9"),
                "{refusal}"
            );
        }
        // GitHub did not say when: not approved by time.
        assert!(approved_head(&pull(Some(1), None), COMMENTED, None).is_err());
        // A fork, or a deleted one, must name the commit.
        for head_repo in [Some(2), None] {
            let refusal = approved_head(
                &pull(head_repo, Some("2026-11-20T09:00:00Z")),
                COMMENTED,
                None,
            )
            .unwrap_err();
            assert!(
                refusal.contains("must name the commit") && refusal.contains("sha=fedcba9"),
                "{refusal}"
            );
        }
        // A named commit is matched against the head, whatever was pushed when.
        let late = pull(Some(2), Some("2026-11-20T11:00:00Z"));
        assert_eq!(approved_head(&late, COMMENTED, Some("fedcba9")), Ok(()));
        assert_eq!(approved_head(&late, COMMENTED, Some(HEAD)), Ok(()));
        let moved = approved_head(&late, COMMENTED, Some("abc1234")).unwrap_err();
        assert!(
            moved.contains("approves commit `abc1234`") && moved.contains(HEAD),
            "{moved}"
        );
    }

    fn overrides(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn thresholds_from_a_comment_are_added_and_a_new_shape_replaces_the_old() {
        let workflow = Inputs {
            rate: Some("200".into()),
            duration: Some("2m".into()),
            vus: Some("50".into()),
            thresholds: Some("p95 < 500ms".into()),
            ..Default::default()
        };
        let changed =
            apply_overrides(&workflow, &overrides(&[("thresholds", "p95 < 9s")])).unwrap();
        assert_eq!(changed.thresholds.as_deref(), Some("p95 < 500ms\np95 < 9s"));

        let changed =
            apply_overrides(&workflow, &overrides(&[("stages", "30s:100, 1m:100")])).unwrap();
        assert_eq!(
            (changed.rate, changed.duration, changed.vus.as_deref()),
            (None, None, Some("50"))
        );
        let changed = apply_overrides(&workflow, &overrides(&[("stages", "1m:20vus")])).unwrap();
        assert_eq!(changed.vus, None);

        let staged = Inputs {
            stages: Some("1m:100".into()),
            ..Default::default()
        };
        let changed = apply_overrides(&staged, &overrides(&[("duration", "30s")])).unwrap();
        assert_eq!(
            (changed.stages, changed.duration.as_deref()),
            (None, Some("30s"))
        );

        let unknown = apply_overrides(&workflow, &overrides(&[("no-such", "1")])).unwrap_err();
        assert!(
            unknown[0].contains("`no-such` is not an input"),
            "{unknown:?}"
        );
    }
}
