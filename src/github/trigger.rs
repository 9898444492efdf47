//! The `issue_comment` event: a `/loadtest` comment on a pull request starts the run, with its
//! overrides, for an author with enough permission on the repository, on the one head commit the
//! comment approves; reactions and replies say what happened on the comment itself.

use anyhow::{Context, Result, anyhow};
use octocrab::Octocrab;
use serde::Deserialize;

use super::client::{self, describe};
use super::command::{Command, Decision, IssueCommentEvent, Policy, SHA_WORD, decide, is_full_sha};
use super::permission::Permission;
use crate::gha::Gha;
use crate::input_error::{Ignored, Problems};
use crate::inputs::{Inputs, given};
use crate::plan::split_list;
use crate::quote::code;
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
    let changed = match apply_overrides(inputs, &overrides)
        .and_then(|changed| valid_overrides(changed, workflow, &overrides))
    {
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
    let approval = match approved_by_name(&pull, sha.as_deref()) {
        Approval::Decided(approval) => approval,
        Approval::ByTime(branch) => {
            let newest = last_activity(&github, repository, &branch).await;
            approved_by_time(&pull, &event.comment.created_at, newest)
        }
    };
    if let Err(refusal) = approval {
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

/// How a comment approves the pull request's head: decided by the commit it names (or must name),
/// or to be decided by when the head's branch was last pushed to.
#[derive(Debug, PartialEq)]
enum Approval {
    Decided(Result<(), String>),
    /// The head's branch in this repository: its pushes decide.
    ByTime(String),
}

/// What to comment to approve the head: its full SHA, to copy.
fn ask_again(head: &str) -> String {
    format!("comment `{DEFAULT_COMMAND} {SHA_WORD}={head}` once you have read it")
}

/// The inputs with the overrides, once every overridden input reads well: a commenter's text is
/// printed (the run's first line, the reports) only after it is known to be a valid value. The
/// problems of other inputs are the workflow's, reported as usual when the run is configured.
fn valid_overrides(
    changed: Inputs,
    workflow: &WorkflowEnv,
    overrides: &[(String, String)],
) -> Result<Inputs, Vec<String>> {
    let mut problems = Problems::default();
    let _ = crate::plan::plan(&changed, workflow, &mut problems, &mut Ignored::default());
    let invalid: Vec<String> = problems
        .into_errors()
        .into_iter()
        .filter(|problem| overrides.iter().any(|(key, _)| key == problem.input))
        .map(|problem| problem.to_string())
        .collect();
    if invalid.is_empty() {
        Ok(changed)
    } else {
        Err(invalid)
    }
}

/// Whether the pull request's head is the commit the comment names. A comment that names a
/// commit (`sha=…`, the full 40-digit SHA) approves that one, and the head must still be it. One
/// that names none approves the head as it was when it was written: refused for a fork (whose
/// head its author moves at will, so the approver must name what they read); for a branch of
/// this repository, its pushes decide (`approved_by_time`).
fn approved_by_name(pull: &PullRequest, named: Option<&str>) -> Approval {
    let head = &pull.head.sha;
    if let Some(named) = named {
        return Approval::Decided(if !is_full_sha(named) {
            Err(format!(
                "`{SHA_WORD}=` takes the full 40-digit SHA of the commit you approve, not {}: a shorter prefix can be matched by another commit. To test the head, {}.",
                code(named),
                ask_again(head)
            ))
        } else if head.eq_ignore_ascii_case(named) {
            Ok(())
        } else {
            Err(format!(
                "the comment approves commit `{named}`, but the pull request's head is now `{head}`: nothing was run. To test the head, {}.",
                ask_again(head)
            ))
        });
    }
    let same_repository = pull
        .head
        .repo
        .as_ref()
        .is_some_and(|repo| repo.id == pull.base.repo.id);
    match (&pull.head.branch, same_repository) {
        (Some(branch), true) => Approval::ByTime(branch.clone()),
        (None, true) => Approval::Decided(Err(format!(
            "GitHub did not name the pull request's head branch, so the comment cannot approve its head by time: {}.",
            ask_again(head)
        ))),
        (_, false) => {
            let from = pull
                .head
                .repo
                .as_ref()
                .map_or("a deleted fork".to_string(), |repo| {
                    format!("`{}`", repo.full_name)
                });
            Approval::Decided(Err(format!(
                "this pull request comes from {from}, whose author can push to it at any time, so the comment must name the commit it approves: {}.",
                ask_again(head)
            )))
        }
    }
}

/// One entry of GitHub's repository activity: a push, force-push, creation, deletion or merge
/// on one ref (`GET /repos/{owner}/{repo}/activity`).
#[derive(Debug, Clone, Deserialize)]
struct Activity {
    after: String,
    timestamp: String,
    activity_type: String,
}

/// The newest activity on the head's branch, or why it is not known.
async fn last_activity(
    github: &Octocrab,
    repository: &str,
    branch: &str,
) -> Result<Option<Activity>, String> {
    let route = format!("/repos/{repository}/activity");
    let reference = format!("refs/heads/{branch}");
    let newest: Vec<Activity> = github
        .get(
            &route,
            Some(&[
                ("ref", reference.as_str()),
                ("direction", "desc"),
                ("per_page", "1"),
            ]),
        )
        .await
        .map_err(|error| format!("GET {route}?ref={reference}: {}", describe(&error)))?;
    Ok(newest.into_iter().next())
}

/// A comment without `sha=` on a branch of this repository approves the head it saw: the newest
/// push to the head's branch came before the comment and leads to the head. A push to any other
/// branch does not matter; a later push, or no answer, refuses it with the full-SHA hint.
fn approved_by_time(
    pull: &PullRequest,
    commented_at: &str,
    newest: Result<Option<Activity>, String>,
) -> Result<(), String> {
    let head = &pull.head.sha;
    let newest = match newest {
        Ok(Some(newest)) => newest,
        Ok(None) => {
            return Err(format!(
                "GitHub lists no push to the head's branch, so the comment cannot approve its head by time: {}.",
                ask_again(head)
            ));
        }
        Err(why) => {
            return Err(format!(
                "the pushes to the head's branch could not be read ({why}), so the comment cannot approve its head by time: {}.",
                ask_again(head)
            ));
        }
    };
    match (parse_time(&newest.timestamp), parse_time(commented_at)) {
        (Some(pushed), Some(commented)) if pushed < commented => {
            if newest.after.eq_ignore_ascii_case(head) {
                Ok(())
            } else {
                Err(format!(
                    "the newest {} to the head's branch leads to `{}`, not to the head `{head}`: nothing was run. To test the head, {}.",
                    newest.activity_type.replace('_', "-"),
                    newest.after,
                    ask_again(head)
                ))
            }
        }
        (Some(_), Some(_)) => Err(format!(
            "the head's branch was pushed to at {} ({}), after the comment was written ({commented_at}), so the head `{head}` may not be the commit that was read: nothing was run. To test it, {}.",
            newest.timestamp,
            newest.activity_type.replace('_', "-"),
            ask_again(head)
        )),
        _ => Err(format!(
            "GitHub did not say when the head's branch was last pushed to, so the comment cannot approve it by time: {}.",
            ask_again(head)
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
        "@{}: this load test was not started: the inputs with your overrides ({}) are invalid.\n\n",
        trigger.author,
        code(&trigger.overrides)
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

    fn pull(head_repo: Option<u64>) -> PullRequest {
        let repo = |id: u64| Repository {
            id,
            full_name: if id == 1 { "acme/shop" } else { "someone/shop" }.into(),
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

    fn pushed(at: &str, after: &str, kind: &str) -> Result<Option<Activity>, String> {
        Ok(Some(Activity {
            after: after.into(),
            timestamp: at.into(),
            activity_type: kind.into(),
        }))
    }

    #[test]
    fn a_comment_approves_the_head_it_saw() {
        // A branch of this repository: its own pushes decide, not the repository's.
        let same = pull(Some(1));
        assert_eq!(
            approved_by_name(&same, None),
            Approval::ByTime("feature".into())
        );
        let by_time = |newest| approved_by_time(&same, COMMENTED, newest);
        assert_eq!(
            by_time(pushed("2026-11-20T09:59:59Z", HEAD, "push")),
            Ok(())
        );
        // Pushed after the comment (or in its second): the head may be one nobody read.
        for at in ["2026-11-20T10:00:01Z", "2026-11-20T10:00:00Z"] {
            let refusal = by_time(pushed(at, HEAD, "force_push")).unwrap_err();
            assert!(
                refusal.contains("after the comment was written")
                    && refusal.contains(&format!("/loadtest sha={HEAD}")),
                "{refusal}"
            );
        }
        // The newest push before the comment leads elsewhere: GitHub's head is not what it says.
        let elsewhere = by_time(pushed(
            "2026-11-20T09:00:00Z",
            &"a".repeat(40),
            "force_push",
        ));
        assert!(
            elsewhere
                .as_ref()
                .unwrap_err()
                .contains("newest force-push"),
            "{elsewhere:?}"
        );
        // No push listed, or no answer: not approved by time, and the full SHA to copy.
        for newest in [Ok(None), Err("GET …: 403 Forbidden".to_string())] {
            let refusal = by_time(newest).unwrap_err();
            assert!(refusal.contains(&format!("sha={HEAD}")), "{refusal}");
        }
        // A fork, or a deleted one, must name the commit.
        for head_repo in [Some(2), None] {
            let Approval::Decided(Err(refusal)) = approved_by_name(&pull(head_repo), None) else {
                panic!("a fork's head approved without a SHA");
            };
            assert!(
                refusal.contains("must name the commit")
                    && refusal.contains(&format!("sha={HEAD}`")),
                "{refusal}"
            );
        }
        // A named commit is matched against the head, whatever was pushed when; whole only.
        let fork = pull(Some(2));
        assert_eq!(
            approved_by_name(&fork, Some(HEAD)),
            Approval::Decided(Ok(()))
        );
        assert_eq!(
            approved_by_name(&fork, Some(&HEAD.to_ascii_uppercase())),
            Approval::Decided(Ok(()))
        );
        let Approval::Decided(Err(prefix)) = approved_by_name(&fork, Some("fedcba9")) else {
            panic!("a prefix approved the head");
        };
        assert!(
            prefix.contains("full 40-digit SHA") && prefix.contains(&format!("sha={HEAD}`")),
            "{prefix}"
        );
        let Approval::Decided(Err(moved)) = approved_by_name(&fork, Some(&"a".repeat(40))) else {
            panic!("another commit approved the head");
        };
        assert!(moved.contains(HEAD), "{moved}");
        let Approval::Decided(Err(hostile)) = approved_by_name(&fork, Some("@org/team`x")) else {
            panic!();
        };
        assert!(hostile.contains("``@org/team`x``"), "{hostile}");
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
