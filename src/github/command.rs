//! A load test started from a pull request comment: `/loadtest rate=500 duration=2m`. Whether a
//! comment starts a run, for whom, and with which overrides: pure, from the event payload.

use serde::Deserialize;

/// The parts of an `issue_comment` event payload that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueCommentEvent {
    pub action: String,
    pub issue: Issue,
    pub comment: Comment,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    /// Present when the issue is a pull request.
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub html_url: String,
    pub user: User,
    pub author_association: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub login: String,
}

/// What a comment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a command for this step (not a PR, an edit, another comment): nothing runs, exit 0.
    Ignore(String),
    /// A command from someone who may not start load: nothing runs, a reply says who may.
    RefuseAuthor(String),
    /// A command with overrides that are refused or unreadable: nothing runs, exit 2.
    Invalid(Vec<String>),
    /// Run, with these `key=value` overrides of the workflow's inputs.
    Run(Vec<(String, String)>),
}

/// What the workflow allows: the command word, the inputs a comment may override, the
/// `author_association` values that may start load.
pub struct Policy<'a> {
    pub command: &'a str,
    pub overridable: &'a [String],
    pub associations: &'a [String],
}

pub fn decide(event: &IssueCommentEvent, policy: &Policy) -> Decision {
    if event.issue.pull_request.is_none() {
        return Decision::Ignore(format!(
            "#{} is an issue, not a pull request: no load test",
            event.issue.number
        ));
    }
    if event.action != "created" {
        return Decision::Ignore(format!(
            "the comment was {}, not created: no load test",
            event.action
        ));
    }
    let first_line = event.comment.body.lines().next().unwrap_or_default().trim();
    let rest = match first_line.strip_prefix(policy.command) {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        _ => {
            return Decision::Ignore(format!(
                "the comment does not start with `{}`: no load test",
                policy.command
            ));
        }
    };
    let association = &event.comment.author_association;
    if !policy
        .associations
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(association))
    {
        return Decision::RefuseAuthor(format!(
            "@{} (association `{association}`) may not start a load test here: load costs money and reaches a real service, so only {} may. Ask one of them to comment `{}`.",
            event.comment.user.login,
            policy.associations.join(", "),
            policy.command
        ));
    }
    let words = match shell_words::split(rest) {
        Ok(words) => words,
        Err(error) => {
            return Decision::Invalid(vec![format!("the command line does not parse: {error}")]);
        }
    };
    let mut overrides = Vec::new();
    let mut problems = Vec::new();
    for word in words {
        match word.split_once('=') {
            Some((key, value)) if policy.overridable.iter().any(|allowed| allowed == key) => {
                overrides.push((key.to_string(), value.to_string()));
            }
            Some((key, _)) => problems.push(format!(
                "`{key}` may not be set from a comment; this workflow allows {}",
                list(policy.overridable)
            )),
            None => problems.push(format!("`{word}` is not `key=value`")),
        }
    }
    if problems.is_empty() {
        Decision::Run(overrides)
    } else {
        Decision::Invalid(problems)
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str, association: &str, pull_request: bool) -> IssueCommentEvent {
        serde_json::from_value(serde_json::json!({
            "action": "created",
            "issue": {"number": 7, "pull_request": if pull_request { serde_json::json!({"url": "x"}) } else { serde_json::Value::Null }},
            "comment": {"id": 1, "body": body, "html_url": "https://github.com/a/b/pull/7#c1",
                        "user": {"login": "octocat"}, "author_association": association},
        }))
        .unwrap()
    }

    fn decide_with(body: &str, association: &str) -> Decision {
        let overridable: Vec<String> = ["rate", "duration", "thresholds"].map(String::from).into();
        let associations: Vec<String> = ["OWNER", "MEMBER"].map(String::from).into();
        decide(
            &event(body, association, true),
            &Policy {
                command: "/loadtest",
                overridable: &overridable,
                associations: &associations,
            },
        )
    }

    #[test]
    fn decisions() {
        assert_eq!(
            decide_with(
                "/loadtest rate=300 duration=30s thresholds=\"p95 < 300ms\"\nthanks",
                "MEMBER"
            ),
            Decision::Run(vec![
                ("rate".into(), "300".into()),
                ("duration".into(), "30s".into()),
                ("thresholds".into(), "p95 < 300ms".into())
            ])
        );
        assert_eq!(decide_with("/loadtest", "owner"), Decision::Run(vec![]));
        assert!(matches!(
            decide_with("looks good /loadtest", "MEMBER"),
            Decision::Ignore(_)
        ));
        assert!(matches!(
            decide_with("/loadtesting", "MEMBER"),
            Decision::Ignore(_)
        ));
        let Decision::RefuseAuthor(reply) = decide_with("/loadtest", "NONE") else {
            panic!()
        };
        assert!(
            reply.contains("@octocat") && reply.contains("OWNER, MEMBER"),
            "{reply}"
        );
        let Decision::Invalid(problems) =
            decide_with("/loadtest target-url=https://evil.example/ rate", "MEMBER")
        else {
            panic!()
        };
        assert!(
            problems[0].contains("`target-url` may not be set"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("`rate` is not `key=value`"),
            "{problems:?}"
        );
        let policy = Policy {
            command: "/loadtest",
            overridable: &[],
            associations: &[],
        };
        assert!(matches!(
            decide(&event("/loadtest", "OWNER", false), &policy),
            Decision::Ignore(_)
        ));
    }
}
