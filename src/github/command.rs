//! A load test started from a pull request comment: `/loadtest rate=500 duration=2m`. Whether a
//! comment is a command for this step, and what it asks for: pure, from the event payload. Who
//! may start load is asked of GitHub (`trigger.rs`), never read from the payload.

use serde::Deserialize;

use crate::quote::code;

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
    /// When the comment was written (ISO 8601, UTC): a head pushed after it was not approved.
    pub created_at: String,
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
    /// A command for this step. Whether its author may start load is asked next, before its
    /// problems (if any) are answered.
    Command(Result<Command, Vec<String>>),
}

/// A command that reads well: its overrides, and the commit it approves when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub overrides: Vec<(String, String)>,
    /// `sha=…`: the head commit the author approves, as written. Only a full 40-digit SHA is
    /// accepted, which is checked against the head (`trigger.rs`) so that a refusal can quote
    /// the head's SHA for the reviewer to copy.
    pub sha: Option<String>,
}

/// What the workflow allows: the command word and the inputs a comment may override.
pub struct Policy<'a> {
    pub command: &'a str,
    pub overridable: &'a [String],
}

/// The word of a command that names the approved commit rather than an input.
pub const SHA_WORD: &str = "sha";

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
    Decision::Command(parse_command(&event.comment.body, rest, policy))
}

fn parse_command(body: &str, rest: &str, policy: &Policy) -> Result<Command, Vec<String>> {
    // A control character could end a log line early and start a workflow command, or hide text
    // from the reader. Line breaks are the one exception, as `\n` or the web editor's `\r\n`.
    let controls: Vec<String> = body
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    if !controls.is_empty() {
        let mut kinds = controls;
        kinds.sort();
        kinds.dedup();
        return Err(vec![format!(
            "the comment holds control characters ({}): write the command as plain text",
            kinds.join(", ")
        )]);
    }
    let words = shell_words::split(rest)
        .map_err(|error| vec![format!("the command line does not parse: {error}")])?;
    let mut overrides: Vec<(String, String)> = Vec::new();
    let mut sha = None;
    let mut problems = Vec::new();
    for word in words {
        match word.split_once('=') {
            Some((SHA_WORD, value)) => sha = Some(value.to_ascii_lowercase()),
            Some((key, _)) if overrides.iter().any(|(given, _)| given == key) => {
                problems.push(format!("{} is given twice", code(key)));
            }
            Some((key, value)) if policy.overridable.iter().any(|allowed| allowed == key) => {
                overrides.push((key.to_string(), value.to_string()));
            }
            Some((key, _)) => problems.push(format!(
                "{} may not be set from a comment; this workflow allows {}",
                code(key),
                list(policy.overridable)
            )),
            None => problems.push(format!("{} is not `key=value`", code(&word))),
        }
    }
    if problems.is_empty() {
        Ok(Command { overrides, sha })
    } else {
        Err(problems)
    }
}

/// A commit named whole: 40 hex digits. A prefix is refused: a fork's author can make a commit
/// whose first 7 digits match the reviewed one's (28 bits, minutes on one core) and push it
/// after the approval.
pub fn is_full_sha(text: &str) -> bool {
    text.len() == 40 && text.chars().all(|c| c.is_ascii_hexdigit())
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

    fn event(body: &str, pull_request: bool) -> IssueCommentEvent {
        serde_json::from_value(serde_json::json!({
            "action": "created",
            "issue": {"number": 7, "pull_request": if pull_request { serde_json::json!({"url": "x"}) } else { serde_json::Value::Null }},
            "comment": {"id": 1, "body": body, "html_url": "https://github.com/a/b/pull/7#c1",
                        "user": {"login": "octocat"}, "created_at": "2026-11-20T10:00:00Z"},
        }))
        .unwrap()
    }

    fn decide_on(body: &str) -> Decision {
        let overridable: Vec<String> = ["rate", "duration", "thresholds"].map(String::from).into();
        decide(
            &event(body, true),
            &Policy {
                command: "/loadtest",
                overridable: &overridable,
            },
        )
    }

    fn problems(body: &str) -> Vec<String> {
        match decide_on(body) {
            Decision::Command(Err(problems)) => problems,
            other => panic!("{body:?}: {other:?}"),
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(
            decide_on("/loadtest rate=300 duration=30s thresholds=\"p95 < 300ms\"\nthanks"),
            Decision::Command(Ok(Command {
                overrides: vec![
                    ("rate".into(), "300".into()),
                    ("duration".into(), "30s".into()),
                    ("thresholds".into(), "p95 < 300ms".into())
                ],
                sha: None
            }))
        );
        assert_eq!(
            decide_on("/loadtest sha=ABCDEF1234"),
            Decision::Command(Ok(Command {
                overrides: vec![],
                sha: Some("abcdef1234".into())
            })),
            "kept as written: the head decides whether it is whole"
        );
        assert!(matches!(
            decide_on("looks good /loadtest"),
            Decision::Ignore(_)
        ));
        assert!(matches!(decide_on("/loadtesting"), Decision::Ignore(_)));
        let refused = problems("/loadtest target-url=https://evil.example/ rate");
        assert!(
            refused[0].contains("`target-url` may not be set"),
            "{refused:?}"
        );
        assert!(
            refused[1].contains("`rate` is not `key=value`"),
            "{refused:?}"
        );
        assert!(problems("/loadtest rate=1 rate=2")[0].contains("given twice"));
        assert!(is_full_sha("fedcba9876543210fedcba9876543210fedcba98"));
        for sha in [
            "fedcba9",
            "fedcba9876543210fedcba9876543210fedcba9",
            "fedcba9876543210fedcba9876543210fedcba988",
            "xedcba9876543210fedcba9876543210fedcba98",
            "",
        ] {
            assert!(!is_full_sha(sha), "{sha}");
        }
        // What a commenter wrote is quoted as code, so it mentions nobody and links nowhere.
        let refused = problems("/loadtest @org/team=1 ![x](https://e.example/p.png)");
        assert_eq!(
            refused,
            [
                "`@org/team` may not be set from a comment; this workflow allows `rate`, `duration`, `thresholds`",
                "`![x](https://e.example/p.png)` is not `key=value`"
            ]
        );
        let policy = Policy {
            command: "/loadtest",
            overridable: &[],
        };
        assert!(matches!(
            decide(&event("/loadtest", false), &policy),
            Decision::Ignore(_)
        ));
    }

    #[test]
    fn control_characters_are_refused_and_line_breaks_are_not() {
        for body in [
            "/loadtest rate=1\r::add-mask::x",
            "/loadtest rate=1\u{1b}[2K",
            "/loadtest \u{7}",
            "/loadtest rate=1\nfine\rthen not",
            "/loadtest\u{85}",
        ] {
            let refused = problems(body);
            assert!(
                refused[0].contains("control characters (U+"),
                "{body:?}: {refused:?}"
            );
        }
        for body in ["/loadtest rate=1\r\nthanks\r\n", "/loadtest rate=1\nthanks"] {
            assert!(
                matches!(decide_on(body), Decision::Command(Ok(_))),
                "{body:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_comments(body in "(?s).{0,200}") {
            let _ = decide_on(&body);
        }

        /// Whatever a command holds, what it is read as keeps the policy: only allowed keys, once
        /// each, no control character anywhere.
        #[test]
        fn never_panics_and_keeps_the_policy_on_command_shaped_comments(
            body in "/loadtest( (rate|duration|thresholds|target-url|sha|@x|\\[a\\])=(\"[^\"]{0,12}\"|[^ ]{0,12})| [a-z]{0,6}){0,6}(\r?\n.{0,20})?",
        ) {
            if let Decision::Command(Ok(command)) = decide_on(&body) {
                let mut keys: Vec<&str> = command.overrides.iter().map(|(key, _)| key.as_str()).collect();
                proptest::prop_assert!(keys.iter().all(|key| ["rate", "duration", "thresholds"].contains(key)));
                keys.sort_unstable();
                keys.dedup();
                proptest::prop_assert_eq!(keys.len(), command.overrides.len());
                proptest::prop_assert!(command
                    .overrides
                    .iter()
                    .all(|(_, value)| !value.chars().any(|c| c.is_control() && c != '\n')));
            }
        }
    }
}
