//! The PR comment: one per PR and comment tag, found again by a hidden marker and updated in place.

mod client;
mod command;
mod comment;
mod permission;
mod pull_request;
mod trigger;

pub use trigger::{Triggered, conclude as conclude_trigger, from_comment, refuse_inputs};

use crate::gha::Gha;
use crate::plan::CommentPlan;
use comment::{CommentError, Posted};
use pull_request::EventContext;

/// Posts or updates the PR comment when there is a PR to comment on. Returns the comment's URL.
/// Nothing here fails the run: a token that may not comment, or GitHub being unreachable, slow
/// or failing, is a warning, and the job summary still holds the report. The whole (finding the
/// PR, listing its comments, posting, with the retries) is given up after the comment deadline
/// (`tuning`), so that GitHub answering slowly or not at all delays the verdict by a bounded time.
pub async fn comment_on_pull_request(
    plan: &CommentPlan,
    markdown: impl Fn(&str) -> String,
    gha: &Gha,
) -> Option<String> {
    match tokio::time::timeout(
        crate::tuning::get().comment_deadline,
        comment(plan, markdown, gha),
    )
    .await
    {
        Ok(url) => url,
        Err(_) => {
            gha.warning(&format!(
                "GitHub did not finish the pull request comment within {} s: it is skipped (the job summary holds the report)",
                crate::tuning::get().comment_deadline.as_secs()
            ));
            None
        }
    }
}

async fn comment(
    plan: &CommentPlan,
    markdown: impl Fn(&str) -> String,
    gha: &Gha,
) -> Option<String> {
    if !plan.enabled {
        return None;
    }
    let repository = plan.repository.as_deref()?;
    let Some(token) = plan.token.as_deref() else {
        gha.notice("no `github-token`: the pull request comment is skipped");
        return None;
    };
    let github = match client::build(plan.api_url.as_deref(), token) {
        Ok(github) => github,
        Err(error) => {
            gha.warning(&format!("the pull request comment is skipped: {error:#}"));
            return None;
        }
    };
    let event = EventContext {
        repository,
        event_name: plan.event_name.as_deref(),
        event_path: plan.event_path.as_deref(),
        sha: plan.sha.as_deref(),
        commented_pull: plan.trigger.as_ref().map(|trigger| trigger.pull_number),
    };
    let number = match pull_request::find(&github, &event).await {
        Ok(Some(number)) => number,
        Ok(None) => return None,
        Err(error) => {
            gha.warning(&format!(
                "could not find the pull request to comment on: {error:#}"
            ));
            return None;
        }
    };
    let marker = marker(&plan.tag);
    match comment::upsert(&github, repository, number, &marker, &markdown(&marker)).await {
        Ok(posted) => {
            let verb = match &posted {
                Posted::Created { .. } => "Posted",
                Posted::Updated { .. } => "Updated",
            };
            gha.line(&format!(
                "{verb} the pull request comment: {}",
                posted.url()
            ));
            Some(posted.url().to_string())
        }
        Err(error @ CommentError::Forbidden { .. }) => {
            gha.warning(&error.to_string());
            None
        }
        Err(error) => {
            gha.warning(&format!("could not post the pull request comment: {error}"));
            None
        }
    }
}

/// The hidden marker that finds a PR comment again.
pub fn marker(tag: &str) -> String {
    format!("<!-- ecs-loadtest:{tag} -->")
}
