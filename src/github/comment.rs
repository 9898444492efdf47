//! Creating or updating the one summary comment of a PR.
//!
//! The comment is found again by its hidden marker, across all pages of the PR's comments, and
//! only among comments written by a bot (the workflow token posts as `github-actions[bot]`): a
//! comment a person wrote is never edited, even one that quotes the marker.

use std::time::Duration;

use octocrab::{Octocrab, Page};
use serde::Deserialize;

use super::client::{describe, status_of};

const PAGE_SIZE: usize = 100;
const MAX_PAGES: usize = 1000;
const ATTEMPTS: u32 = 3;

#[derive(Deserialize)]
struct Comment {
    id: u64,
    html_url: String,
    body: Option<String>,
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "type")]
    kind: String,
}

/// What happened to the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created { url: String },
    Updated { url: String },
}

impl Posted {
    pub fn url(&self) -> &str {
        match self {
            Posted::Created { url } | Posted::Updated { url } => url,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    /// The token may not comment here (a fork's PR, or no `pull-requests: write`).
    #[error(
        "the token may not comment on pull request #{number} ({detail}); a fork's pull request gets a read-only token, and the job needs `permissions: pull-requests: write`"
    )]
    Forbidden { number: u64, detail: String },
    #[error("{0}")]
    Failed(String),
}

/// Updates this PR's comment carrying `marker`, or creates it. Transient failures (network, 5xx,
/// 429) are retried; before a create is retried the comments are listed again, so a create whose
/// answer was lost is updated rather than posted twice.
pub async fn upsert(
    github: &Octocrab,
    repository: &str,
    number: u64,
    marker: &str,
    body: &str,
) -> Result<Posted, CommentError> {
    let mut last_error = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        }
        let existing = match find(github, repository, number, marker).await {
            Ok(existing) => existing,
            Err(error) => {
                last_error = classify(error, number, "listing the comments")?;
                continue;
            }
        };
        let (route, created) = match existing {
            Some(id) => (format!("/repos/{repository}/issues/comments/{id}"), false),
            None => (
                format!("/repos/{repository}/issues/{number}/comments"),
                true,
            ),
        };
        // POST to the comment's URL updates it: GitHub takes POST where PATCH is meant, as
        // octocrab's `update_comment` does.
        match github
            .post::<_, Comment>(&route, Some(&serde_json::json!({ "body": body })))
            .await
        {
            Ok(comment) if created => {
                return Ok(Posted::Created {
                    url: comment.html_url,
                });
            }
            Ok(comment) => {
                return Ok(Posted::Updated {
                    url: comment.html_url,
                });
            }
            Err(error) => last_error = classify(error, number, &format!("POST {route}"))?,
        }
    }
    Err(CommentError::Failed(format!(
        "{last_error} (after {ATTEMPTS} attempts)"
    )))
}

/// A transient error becomes its description (to retry); a permanent one ends the upsert.
fn classify(error: octocrab::Error, number: u64, doing: &str) -> Result<String, CommentError> {
    match status_of(&error) {
        Some(401 | 403 | 404) => Err(CommentError::Forbidden {
            number,
            detail: describe(&error),
        }),
        Some(status) if status != 429 && status < 500 => Err(CommentError::Failed(format!(
            "{doing}: {}",
            describe(&error)
        ))),
        _ => Ok(format!("{doing}: {}", describe(&error))),
    }
}

/// Whether `body` is the comment of `marker`: its first line is the marker, exactly. A report
/// quotes text from testers, so a marker anywhere else in a body (another tag's report quoting
/// this tag's marker) must not make it this tag's comment.
fn carries_marker(body: &str, marker: &str) -> bool {
    body.lines()
        .next()
        .is_some_and(|first| first.trim_end_matches('\r') == marker)
}

/// The ID of the bot comment carrying `marker`, looking through every page. Pages are followed
/// by the `Link` header's `next`, as GitHub documents, whatever number of items a page holds.
async fn find(
    github: &Octocrab,
    repository: &str,
    number: u64,
    marker: &str,
) -> Result<Option<u64>, octocrab::Error> {
    let route = format!("/repos/{repository}/issues/{number}/comments");
    let mut page: Page<Comment> = github.get(&route, Some(&[("per_page", PAGE_SIZE)])).await?;
    // A bound against a server whose `next` never ends: 100,000 comments at 100 a page.
    for _ in 0..MAX_PAGES {
        let found = page.items.iter().find(|comment| {
            comment.user.as_ref().is_some_and(|user| user.kind == "Bot")
                && comment
                    .body
                    .as_deref()
                    .is_some_and(|body| carries_marker(body, marker))
        });
        if let Some(comment) = found {
            return Ok(Some(comment.id));
        }
        match github.get_page::<Comment>(&page.next).await? {
            Some(next) => page = next,
            None => break,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_is_found_by_its_first_line_only() {
        let marker = "<!-- ecs-loadtest:load -->";
        assert!(carries_marker(
            &format!("{marker}\n### ✅ Load test passed"),
            marker
        ));
        assert!(carries_marker(
            &format!("{marker}\r\nedited on the web"),
            marker
        ));
        for body in [
            format!("<!-- ecs-loadtest:other -->\n| `{marker}` | 3 |"),
            format!("<!-- ecs-loadtest:other -->\n{marker}\n"),
            format!(" {marker}\n"),
            format!("{marker} and more\n"),
            "<!-- ecs-loadtest:load2 -->\n".to_string(),
            String::new(),
        ] {
            assert!(!carries_marker(&body, marker), "{body:?}");
        }
    }
}
