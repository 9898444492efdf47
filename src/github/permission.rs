//! Who may start load from a comment: the author's permission on the repository, asked of GitHub
//! (`GET /repos/{owner}/{repo}/collaborators/{user}/permission`). A comment's
//! `author_association` is not enough: `MEMBER` is any member of the organisation, and
//! `COLLABORATOR` includes read-only collaborators.

use octocrab::Octocrab;
use serde::Deserialize;

use super::client::{describe, status_of};
use crate::inputs::{Inputs, given};

/// Pushing code is what lets someone run code on the runner anyway.
pub const DEFAULT_PERMISSION: &str = "write";

/// A role on a repository, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

const ROLES: [(&str, Permission); 6] = [
    ("none", Permission::None),
    ("read", Permission::Read),
    ("triage", Permission::Triage),
    ("write", Permission::Write),
    ("maintain", Permission::Maintain),
    ("admin", Permission::Admin),
];

impl Permission {
    fn from_name(name: &str) -> Option<Permission> {
        ROLES
            .iter()
            .find(|(role, _)| role.eq_ignore_ascii_case(name))
            .map(|(_, permission)| *permission)
    }

    fn name(self) -> &'static str {
        ROLES
            .iter()
            .find(|(_, permission)| *permission == self)
            .map_or("none", |(role, _)| role)
    }

    /// `comment-permission`: the least role that may start load.
    pub fn parse_input(inputs: &Inputs) -> Result<Permission, String> {
        let text = given(&inputs.comment_permission).unwrap_or(DEFAULT_PERMISSION);
        match Permission::from_name(text) {
            Some(Permission::None) | None => Err(format!(
                "input `comment-permission`: got `{text}`; expected the least role that may start a load test: `read`, `triage`, `write`, `maintain` or `admin`"
            )),
            Some(permission) => Ok(permission),
        }
    }
}

/// GitHub's answer. `permission` is the older four-level name (`maintain` reads `write`,
/// `triage` reads `read`); `role_name` is the role itself, or a custom role's name.
#[derive(Deserialize)]
struct Answer {
    permission: String,
    role_name: Option<String>,
}

fn level(answer: &Answer) -> Permission {
    answer
        .role_name
        .as_deref()
        .and_then(Permission::from_name)
        .or_else(|| Permission::from_name(&answer.permission))
        .unwrap_or(Permission::None)
}

/// `Ok` when `login` holds `required` or more on `repository`; else the reply that says why
/// nothing runs. An answer GitHub does not give is a refusal too: load is never started on a
/// guess.
pub async fn check(
    github: &Octocrab,
    repository: &str,
    login: &str,
    required: Permission,
) -> Result<(), String> {
    let route = format!("/repos/{repository}/collaborators/{login}/permission");
    let held = match github.get::<Answer, _, _>(&route, None::<&()>).await {
        Ok(answer) => level(&answer),
        // Not a collaborator at all.
        Err(error) if status_of(&error) == Some(404) => Permission::None,
        Err(error) => {
            return Err(format!(
                "@{login}: GitHub did not say what permission you have on {repository} (GET {route}: {}), so no load test was started. Try again later.",
                describe(&error)
            ));
        }
    };
    if held >= required {
        return Ok(());
    }
    Err(format!(
        "@{login} has `{}` permission on {repository}; starting a load test needs `{}` or more, because load costs money and reaches a real service. Ask someone who has it to comment.",
        held.name(),
        required.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(permission: &str, role_name: Option<&str>) -> Answer {
        Answer {
            permission: permission.into(),
            role_name: role_name.map(String::from),
        }
    }

    #[test]
    fn the_role_wins_over_the_older_permission_name() {
        assert_eq!(
            level(&answer("write", Some("maintain"))),
            Permission::Maintain
        );
        assert_eq!(level(&answer("read", Some("triage"))), Permission::Triage);
        assert_eq!(level(&answer("admin", Some("admin"))), Permission::Admin);
        // A custom role: its base permission.
        assert_eq!(
            level(&answer("write", Some("release-manager"))),
            Permission::Write
        );
        assert_eq!(level(&answer("none", None)), Permission::None);
        assert_eq!(level(&answer("something new", None)), Permission::None);
    }

    #[test]
    fn the_input_names_a_role() {
        let with = |text: &str| {
            Permission::parse_input(&Inputs {
                comment_permission: Some(text.into()),
                ..Default::default()
            })
        };
        assert_eq!(with(""), Ok(Permission::Write));
        assert_eq!(with("Maintain"), Ok(Permission::Maintain));
        assert_eq!(with("triage"), Ok(Permission::Triage));
        for bad in ["none", "MEMBER", "owner"] {
            let problem = with(bad).unwrap_err();
            assert!(
                problem.contains("`comment-permission`") && problem.contains(bad),
                "{problem}"
            );
        }
        assert!(Permission::Write > Permission::Triage);
    }
}
