//! Bodies with GitHub's full shape: the event payloads the runner writes to `GITHUB_EVENT_PATH`
//! and the REST API's answers, with every field GitHub sends for them (trimmed of the dozens of
//! URL templates), so the product meets what GitHub really sends, not a stub's minimum.

use serde_json::{Value, json};

pub const OWNER: &str = "acme";
pub const REPOSITORY: &str = "acme/shop";
pub const REPOSITORY_ID: u64 = 101;

pub fn user(login: &str, id: u64, kind: &str) -> Value {
    json!({
        "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"), "gravatar_id": "",
        "url": format!("https://api.github.com/users/{login}"),
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("https://api.github.com/users/{login}/followers"),
        "repos_url": format!("https://api.github.com/users/{login}/repos"),
        "type": kind, "user_view_type": "public", "site_admin": false
    })
}

/// A repository as it appears in payloads and pull requests; `pushed_at` is when anything was
/// last pushed to any of its branches.
pub fn repository(full_name: &str, id: u64, pushed_at: &str) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap();
    json!({
        "id": id, "node_id": format!("R_kgDO{id}"), "name": name, "full_name": full_name,
        "private": false, "owner": user(owner, id + 1000, "Organization"),
        "html_url": format!("https://github.com/{full_name}"), "description": null,
        "fork": full_name != REPOSITORY,
        "url": format!("https://api.github.com/repos/{full_name}"),
        "created_at": "2024-01-05T09:00:00Z", "updated_at": "2026-11-19T08:00:00Z",
        "pushed_at": pushed_at, "git_url": format!("git://github.com/{full_name}.git"),
        "clone_url": format!("https://github.com/{full_name}.git"), "homepage": null,
        "size": 1234, "stargazers_count": 3, "watchers_count": 3, "language": "Rust",
        "has_issues": true, "has_projects": true, "has_downloads": true, "has_wiki": false,
        "has_pages": false, "has_discussions": false, "forks_count": 1, "archived": false,
        "disabled": false, "open_issues_count": 2, "license": null, "allow_forking": true,
        "is_template": false, "topics": [], "visibility": "public", "forks": 1,
        "open_issues": 2, "watchers": 3, "default_branch": "main"
    })
}

/// `GET /repos/{owner}/{repo}/activity?ref=…`: the newest activity on a branch, as GitHub lists
/// it (newest first), leading to `after` at `timestamp`.
pub fn activity(branch: &str, after: &str, timestamp: &str, activity_type: &str) -> Value {
    json!([{
        "id": 1_296_269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "before": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "after": after,
        "ref": format!("refs/heads/{branch}"), "timestamp": timestamp,
        "activity_type": activity_type, "actor": user("octocat", 1, "User")
    }])
}

fn branch(label_owner: &str, name: &str, sha: &str, repo: Value) -> Value {
    json!({
        "label": format!("{label_owner}:{name}"), "ref": name, "sha": sha,
        "user": user(label_owner, 2000, "User"), "repo": repo
    })
}

/// `GET /repos/acme/shop/pulls/{number}`: an open pull request whose head is `head_sha` on
/// `head_repo` (`None`: its fork was deleted).
pub fn pull_request(number: u64, head_sha: &str, head_repo: Option<Value>) -> Value {
    let head_owner = head_repo
        .as_ref()
        .and_then(|repo| repo["owner"]["login"].as_str())
        .unwrap_or("ghost")
        .to_string();
    let head = branch(
        &head_owner,
        "feature",
        head_sha,
        head_repo.unwrap_or(Value::Null),
    );
    json!({
        "url": format!("https://api.github.com/repos/{REPOSITORY}/pulls/{number}"),
        "id": 900 + number, "node_id": format!("PR_kwDO{number}"),
        "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}"),
        "diff_url": format!("https://github.com/{REPOSITORY}/pull/{number}.diff"),
        "number": number, "state": "open", "locked": false, "title": "Faster checkout",
        "user": user(&head_owner, 2000, "User"), "body": "Please review.",
        "created_at": "2026-11-19T08:00:00Z", "updated_at": "2026-11-20T09:00:00Z",
        "closed_at": null, "merged_at": null, "merge_commit_sha": null,
        "assignee": null, "assignees": [], "requested_reviewers": [], "labels": [],
        "draft": false, "head": head,
        "base": branch(OWNER, "main", "1111111111111111111111111111111111111111",
            repository(REPOSITORY, REPOSITORY_ID, "2026-11-20T09:30:00Z")),
        "author_association": "CONTRIBUTOR", "auto_merge": null, "active_lock_reason": null,
        "merged": false, "mergeable": true, "rebaseable": true, "mergeable_state": "clean",
        "merged_by": null, "comments": 1, "review_comments": 0,
        "maintainer_can_modify": true, "commits": 3, "additions": 40, "deletions": 7,
        "changed_files": 2
    })
}

/// The `issue_comment` event's payload: `body` written on pull request `number` by `login` at
/// `created_at`.
pub fn issue_comment_event(
    number: u64,
    comment_id: u64,
    body: &str,
    login: &str,
    association: &str,
    created_at: &str,
) -> Value {
    json!({
        "action": "created",
        "issue": {
            "url": format!("https://api.github.com/repos/{REPOSITORY}/issues/{number}"),
            "repository_url": format!("https://api.github.com/repos/{REPOSITORY}"),
            "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}"),
            "id": 800 + number, "node_id": format!("PR_kwDO{number}"), "number": number,
            "title": "Faster checkout", "user": user("contributor", 2000, "User"),
            "labels": [], "state": "open", "locked": false, "assignee": null, "assignees": [],
            "milestone": null, "comments": 1, "created_at": "2026-11-19T08:00:00Z",
            "updated_at": created_at, "closed_at": null, "author_association": "CONTRIBUTOR",
            "active_lock_reason": null, "draft": false,
            "pull_request": {
                "url": format!("https://api.github.com/repos/{REPOSITORY}/pulls/{number}"),
                "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}"),
                "diff_url": format!("https://github.com/{REPOSITORY}/pull/{number}.diff"),
                "patch_url": format!("https://github.com/{REPOSITORY}/pull/{number}.patch"),
                "merged_at": null
            },
            "body": "Please review.",
            "reactions": {"url": "", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                          "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
            "performed_via_github_app": null, "state_reason": null
        },
        "comment": {
            "url": format!("https://api.github.com/repos/{REPOSITORY}/issues/comments/{comment_id}"),
            "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}#issuecomment-{comment_id}"),
            "issue_url": format!("https://api.github.com/repos/{REPOSITORY}/issues/{number}"),
            "id": comment_id, "node_id": format!("IC_kwDO{comment_id}"),
            "user": user(login, 3000, "User"),
            "created_at": created_at, "updated_at": created_at,
            "author_association": association, "body": body,
            "reactions": {"url": "", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                          "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
            "performed_via_github_app": null
        },
        "repository": repository(REPOSITORY, REPOSITORY_ID, "2026-11-20T09:30:00Z"),
        "organization": {"login": OWNER, "id": 1101, "node_id": "O_kgDO1101",
                         "url": format!("https://api.github.com/orgs/{OWNER}"), "description": null},
        "sender": user(login, 3000, "User")
    })
}

/// `GET /repos/acme/shop/collaborators/{login}/permission`.
pub fn permission(login: &str, permission: &str, role_name: &str) -> Value {
    json!({
        "permission": permission, "role_name": role_name,
        "user": user(login, 3000, "User")
    })
}

/// The `pull_request` event's payload (`synchronize`): pull request `number` whose head is
/// `head_sha` on `head_repo`.
pub fn pull_request_event(number: u64, head_sha: &str, head_repo: Option<Value>) -> Value {
    json!({
        "action": "synchronize", "number": number,
        "before": "2222222222222222222222222222222222222222", "after": head_sha,
        "pull_request": pull_request(number, head_sha, head_repo),
        "repository": repository(REPOSITORY, REPOSITORY_ID, "2026-11-20T09:30:00Z"),
        "organization": {"login": OWNER, "id": 1101, "node_id": "O_kgDO1101",
                         "url": format!("https://api.github.com/orgs/{OWNER}"), "description": null},
        "sender": user("contributor", 2000, "User")
    })
}
