//! Results, thresholds, the job summary and the PR comment: the real binary against moto (whose
//! tasks print result lines) and a wiremock server speaking GitHub's REST API.

use crate::common::{ActionRun, Finished, Harness, Setup, result_line, signal};
use crate::payloads;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const REPOSITORY: &str = "acme/shop";
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn user(login: &str, kind: &str) -> Value {
    json!({
        "login": login, "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
        "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "",
        "url": format!("https://api.github.com/users/{login}"),
        "html_url": format!("https://github.com/apps/{login}"),
        "type": kind, "site_admin": false
    })
}

fn comment(id: u64, number: u64, body: &str, login: &str, kind: &str) -> Value {
    json!({
        "id": id, "node_id": format!("IC_kwDOA{id}"),
        "url": format!("https://api.github.com/repos/{REPOSITORY}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}#issuecomment-{id}"),
        "issue_url": format!("https://api.github.com/repos/{REPOSITORY}/issues/{number}"),
        "body": body, "user": user(login, kind),
        "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:00:00Z",
        "author_association": if kind == "Bot" { "NONE" } else { "MEMBER" }
    })
}

/// GitHub answers `GET {prefix}/repos/…/issues/{number}/comments` with `comments`.
pub async fn mount_comments(github: &MockServer, prefix: &str, number: u64, comments: Value) {
    Mock::given(method("GET"))
        .and(path(format!(
            "{prefix}/repos/{REPOSITORY}/issues/{number}/comments"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(comments))
        .mount(github)
        .await;
}

/// GitHub answers a POST to `route` (a create or an update) with `status` and `body`, and
/// expects exactly one.
pub async fn mount_post(github: &MockServer, route: String, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(github)
        .await;
}

pub fn bot_comment(id: u64, number: u64, body: &str) -> Value {
    comment(id, number, body, "github-actions[bot]", "Bot")
}

/// A cluster whose two tasks succeed and print result lines: 200 requests, 2 errors, latency
/// samples between 10 and 300 ms.
pub fn passing_setup(harness: &Harness) -> Setup {
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    let first: Vec<u64> = (0..100).map(|i| 10_000 + i * 1_000).collect();
    let second: Vec<u64> = (0..100).map(|i| 100_000 + i * 2_000).collect();
    harness.script(
        "load",
        json!({"run_seconds": 1}),
        json!({
            "0": {"logs": {"lines": ["running"], "after_stop": [result_line(100, 1, 10_000, &first)]}},
            "1": {"logs": {"lines": ["running"], "after_stop": [result_line(100, 1, 10_000, &second)]}},
        }),
    );
    setup
}

pub fn event_file(run: &ActionRun, event: &Value) -> String {
    let file = run.dir.path().join("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    file.display().to_string()
}

/// The action on `event_name`, with GitHub at `api_url`.
pub fn action(
    harness: &Harness,
    setup: &Setup,
    api_url: &str,
    event_name: &str,
    extra: &[(&str, &str)],
) -> ActionRun {
    let mut inputs = vec![
        ("task-count", "2"),
        ("github-token", "ghs_secret_token_value"),
        ("comment-tag", "load-test"),
    ];
    inputs.extend_from_slice(extra);
    let run = ActionRun::for_setup(harness, setup, &inputs);
    let head = payloads::repository(REPOSITORY, payloads::REPOSITORY_ID, "2026-11-20T09:30:00Z");
    let event = event_file(&run, &payloads::pull_request_event(7, SHA, Some(head)));
    run.env("GITHUB_API_URL", api_url)
        .env("GITHUB_EVENT_NAME", event_name)
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_JOB", "load-test")
}

pub async fn run(action: ActionRun) -> Finished {
    tokio::task::spawn_blocking(move || action.run())
        .await
        .unwrap()
}

/// The bodies of the POST requests GitHub received, by path.
pub async fn posts(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == "POST")
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            (
                request.url.path().to_string(),
                body["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_request_run_creates_the_comment_and_writes_the_summary() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comments(&github, "", 7, json!([])).await;
    let create = format!("/repos/{REPOSITORY}/issues/7/comments");
    mount_post(&github, create, 201, bot_comment(1001, 7, "posted")).await;

    let thresholds = "p95 < 1s\nerror_rate < 5%\nrequests >= 200";
    let finished = run(action(
        &harness,
        &setup,
        &github.uri(),
        "pull_request",
        &[("thresholds", thresholds)],
    ))
    .await;

    finished.assert_code(0);
    assert_eq!(finished.output("passed"), "true");
    assert_eq!(
        finished.output("comment-url"),
        format!("https://github.com/{REPOSITORY}/pull/7#issuecomment-1001")
    );
    finished.assert_stdout_has("::add-mask::ghs_secret_token_value");
    finished.assert_stdout_has("Verdict: PASSED");
    finished.assert_stdout_has("Totals: 200 requests · 2 errors (1.00%) · 20.0 req/s · 10s");
    let posted = posts(&github).await;
    assert_eq!(posted.len(), 1);
    let body = &posted[0].1;
    assert!(
        body.starts_with("<!-- ecs-loadtest:load-test -->\n### ✅ Load test passed"),
        "{body}"
    );
    assert!(body.contains("| `p95 < 1s` |"), "{body}");
    assert!(
        body.contains("| 200 | 2 | 1.00% | 20.0 req/s | 10s |"),
        "{body}"
    );

    // The job summary holds the same report, without the marker.
    let summary = std::fs::read_to_string(finished.dir.path().join("summary")).unwrap();
    assert!(summary.starts_with("### ✅ Load test passed"), "{summary}");
    assert!(summary.contains("[stream](https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Fecs$252Ftester/log-events/loadtest$252Ftester$252F"));
    assert!(summary.contains(
        "· task definition `arn:aws:ecs:us-east-1:123456789012:task-definition/tester:2`"
    ));

    // The merged figures are those of all 200 samples together.
    let results: Value = serde_json::from_str(finished.output("results")).unwrap();
    assert_eq!(results["merged"]["requests"], 200);
    assert_eq!(results["merged"]["tasks_reporting"], 2);
    let p50 = results["merged"]["latency"]["p50_us"].as_f64().unwrap();
    assert!((100_000.0..=110_000.0).contains(&p50), "merged p50 {p50}");
    assert!(!finished.output("results").contains("latency_hdr"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_updates_the_bot_comment_and_never_a_persons() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    let marker = "<!-- ecs-loadtest:load-test -->";
    let comments = json!([
        comment(
            500,
            7,
            &format!("Why does {marker} show up?"),
            "octocat",
            "User"
        ),
        bot_comment(501, 7, &format!("{marker}\n### ❌ Load test failed")),
    ]);
    mount_comments(&github, "", 7, comments).await;
    let update = format!("/repos/{REPOSITORY}/issues/comments/501");
    mount_post(&github, update, 200, bot_comment(501, 7, "updated")).await;

    let finished = run(action(&harness, &setup, &github.uri(), "pull_request", &[])).await;

    finished.assert_code(0);
    finished.assert_stdout_has(
        "Updated the pull request comment: https://github.com/acme/shop/pull/7#issuecomment-501",
    );
    let posted = posts(&github).await;
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(
        posted[0].0,
        format!("/repos/{REPOSITORY}/issues/comments/501")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_marker_on_page_three_is_found_by_following_link_headers() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    // A server that gives 30 comments a page whatever `per_page` asks for: only its `Link`
    // header says that more pages follow.
    let route = format!("/repos/{REPOSITORY}/issues/7/comments");
    let link = |page: u32| {
        format!(
            "<{}{route}?per_page=100&page={page}>; rel=\"next\", <{}{route}?per_page=100&page=3>; rel=\"last\"",
            github.uri(),
            github.uri()
        )
    };
    let others = |from: u64| -> Vec<Value> {
        (0..30)
            .map(|i| comment(from + i, 7, "LGTM", "octocat", "User"))
            .collect()
    };
    Mock::given(method("GET"))
        .and(path(&route))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(others(100))
                .insert_header("link", link(2).as_str()),
        )
        .with_priority(10)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(&route))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(others(200))
                .insert_header("link", link(3).as_str()),
        )
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(&route))
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([bot_comment(
            999,
            7,
            "<!-- ecs-loadtest:load-test -->\nold"
        )])))
        .mount(&github)
        .await;
    let update = format!("/repos/{REPOSITORY}/issues/comments/999");
    mount_post(&github, update.clone(), 200, bot_comment(999, 7, "updated")).await;

    let finished = run(action(&harness, &setup, &github.uri(), "pull_request", &[])).await;

    finished.assert_code(0);
    let posts = posts(&github).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, update, "the comment was not updated in place");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_finds_the_pull_request_by_its_commit() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPOSITORY}/commits/{SHA}/pulls")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"number": 3, "state": "closed", "head": {"sha": SHA}},
            {"number": 9, "state": "open", "head": {"sha": SHA}},
        ])))
        .mount(&github)
        .await;
    mount_comments(&github, "", 9, json!([])).await;
    let create = format!("/repos/{REPOSITORY}/issues/9/comments");
    mount_post(&github, create, 201, bot_comment(1, 9, "posted")).await;

    let finished = run(action(&harness, &setup, &github.uri(), "push", &[])).await;

    finished.assert_code(0);
    assert_eq!(
        finished.output("comment-url"),
        format!("https://github.com/{REPOSITORY}/pull/9#issuecomment-1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workflow_dispatch_makes_no_github_call() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;

    let finished = run(action(
        &harness,
        &setup,
        &github.uri(),
        "workflow_dispatch",
        &[],
    ))
    .await;

    finished.assert_code(0);
    assert_eq!(finished.output("comment-url"), "");
    assert!(github.received_requests().await.unwrap().is_empty());
    let summary = std::fs::read_to_string(finished.dir.path().join("summary")).unwrap();
    assert!(summary.contains("Load test passed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_may_not_comment_is_a_warning_not_a_failure() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comments(&github, "", 7, json!([])).await;
    let forbidden = json!({
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
        "status": "403"
    });
    mount_post(
        &github,
        format!("/repos/{REPOSITORY}/issues/7/comments"),
        403,
        forbidden,
    )
    .await;

    let finished = run(action(&harness, &setup, &github.uri(), "pull_request", &[])).await;

    finished.assert_code(0);
    assert_eq!(finished.output("passed"), "true");
    finished.assert_stdout_has("::warning::the token may not comment on pull request #7 (403 Forbidden Resource not accessible by integration)");
}

#[tokio::test(flavor = "multi_thread")]
async fn github_enterprise_paths_are_kept() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comments(&github, "/api/v3", 7, json!([])).await;
    let create = format!("/api/v3/repos/{REPOSITORY}/issues/7/comments");
    mount_post(&github, create, 201, bot_comment(5, 7, "posted")).await;

    let api_url = format!("{}/api/v3", github.uri());
    let finished = run(action(&harness, &setup, &api_url, "pull_request", &[])).await;

    finished.assert_code(0);
    assert!(
        finished.outputs["comment-url"].ends_with("#issuecomment-5"),
        "{finished}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_threshold_exits_99_and_the_comment_names_the_rule() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comments(&github, "", 7, json!([])).await;
    let create = format!("/repos/{REPOSITORY}/issues/7/comments");
    mount_post(&github, create, 201, bot_comment(8, 7, "posted")).await;

    let thresholds = "p95 < 100ms\nerror_rate < 5%";
    let finished = run(action(
        &harness,
        &setup,
        &github.uri(),
        "pull_request",
        &[("thresholds", thresholds)],
    ))
    .await;

    finished.assert_code(99);
    assert_eq!(finished.output("passed"), "false");
    assert_eq!(finished.output("exit-code"), "99");
    finished.assert_stdout_has("::error::threshold `p95 < 100ms` failed: measured ");
    let body = &posts(&github).await[0].1;
    assert!(
        body.contains("### ❌ Load test failed (exit status 99)"),
        "{body}"
    );
    assert!(
        body.contains("- threshold `p95 < 100ms` failed: measured "),
        "{body}"
    );
    assert!(
        body.contains("| `error_rate < 5%` | 1% | ✅ held |"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_threshold_is_an_input_error_before_anything_starts() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    let requests_before = harness.requests().len();

    let finished = run(action(
        &harness,
        &setup,
        &github.uri(),
        "pull_request",
        &[("thresholds", "p95 < 500\nlatency < 1s")],
    ))
    .await;

    finished.assert_code(2);
    finished.assert_stdout_has("input `thresholds`: got `p95 < 500`; expected a valid rule (`p95 < 500`: a latency needs a unit: us, ms or s); one rule a line");
    finished.assert_stdout_has("input `thresholds`: got `latency < 1s`");
    assert_eq!(harness.requests().len(), requests_before);
    assert!(github.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_results_are_said_next_to_the_verdict() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"run_seconds": 1}),
        json!({
            "0": {"logs": {"after_stop": [result_line(50, 0, 5_000, &[20_000; 50])]}},
            "1": {"logs": {"after_stop": ["ECS_LOADTEST_RESULT {\"v\":1,\"requests\":5}"]}},
        }),
    );
    let github = MockServer::start().await;

    let finished = run(action(
        &harness,
        &setup,
        &github.uri(),
        "workflow_dispatch",
        &[("thresholds", "requests >= 50")],
    ))
    .await;

    finished.assert_code(0);
    finished
        .assert_stdout_has("Verdict: PASSED · 1 of 2 tasks reported results; figures are from 1");
    finished.assert_stdout_has("::warning::task 2/2 (");
    finished
        .assert_stdout_has("printed an invalid result line: invalid JSON: missing field `errors`");
}

const HEAD: &str = "fedcba9876543210fedcba9876543210fedcba98";
/// When the `/loadtest` comments below were written.
const COMMENTED: &str = "2026-11-20T10:00:00Z";

/// The action on an `issue_comment` event: `body` written on PR #7 by `octocat` (whose
/// `author_association` is `association`: what the payload says, which the action must not
/// trust), with `extra` inputs.
fn comment_action(
    harness: &Harness,
    setup: &Setup,
    api_url: &str,
    body: &str,
    association: &str,
    extra: &[(&str, &str)],
) -> ActionRun {
    let mut inputs = vec![
        ("task-count", "2"),
        ("github-token", "ghs_secret_token_value"),
        ("comment-tag", "load-test"),
    ];
    inputs.extend_from_slice(extra);
    let run = ActionRun::for_setup(harness, setup, &inputs);
    let event = event_file(
        &run,
        &payloads::issue_comment_event(7, 555, body, "octocat", association, COMMENTED),
    );
    run.env("GITHUB_API_URL", api_url)
        .env("GITHUB_EVENT_NAME", "issue_comment")
        .env("GITHUB_EVENT_PATH", &event)
        // On issue_comment, GITHUB_SHA is the default branch's last commit, not the PR's.
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_JOB", "load-test")
}

/// The POST requests GitHub received: path and JSON body.
async fn all_posts(server: &MockServer) -> Vec<(String, Value)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == "POST")
        .map(|request| {
            (
                request.url.path().to_string(),
                serde_json::from_slice(&request.body).unwrap(),
            )
        })
        .collect()
}

async fn mount_reactions(github: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!(
            "/repos/{REPOSITORY}/issues/comments/555/reactions"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1, "content": "eyes"})))
        .mount(github)
        .await;
}

/// GitHub's answers around a comment run: pull request #7 (head `HEAD` on `head_repo`),
/// octocat's permission, reactions, replies and the summary comment.
async fn mount_comment_run(github: &MockServer, head_repo: Option<Value>, role: (&str, &str)) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPOSITORY}/pulls/7")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(payloads::pull_request(7, HEAD, head_repo)),
        )
        .mount(github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/{REPOSITORY}/collaborators/octocat/permission"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(payloads::permission("octocat", role.0, role.1)),
        )
        .mount(github)
        .await;
    // The head's branch was last pushed to before the comment, to the head.
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPOSITORY}/activity")))
        .and(query_param("ref", "refs/heads/feature"))
        .respond_with(ResponseTemplate::new(200).set_body_json(payloads::activity(
            "feature",
            HEAD,
            "2026-11-20T09:30:00Z",
            "push",
        )))
        .with_priority(5)
        .mount(github)
        .await;
    mount_reactions(github).await;
    mount_comments(github, "", 7, json!([])).await;
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPOSITORY}/issues/7/comments")))
        .respond_with(ResponseTemplate::new(201).set_body_json(bot_comment(901, 7, "posted")))
        .mount(github)
        .await;
}

/// The base repository itself, in which a bot pushed to another branch after the comment: only
/// the pushes to the head's own branch decide.
fn same_repository() -> Option<Value> {
    Some(payloads::repository(
        REPOSITORY,
        payloads::REPOSITORY_ID,
        "2026-11-20T10:05:00Z",
    ))
}

fn fork() -> Option<Value> {
    Some(payloads::repository(
        "mallory/shop",
        202,
        "2026-11-20T09:00:00Z",
    ))
}

/// The value of `name` in each task's environment.
fn task_environment(harness: &Harness, name: &str) -> Vec<String> {
    harness
        .tasks("load")
        .iter()
        .map(|task| {
            task["overrides"]["containerOverrides"][0]["environment"]
                .as_array()
                .unwrap()
                .iter()
                .find(|pair| pair["name"] == name)
                .map_or(String::new(), |pair| {
                    pair["value"].as_str().unwrap().to_string()
                })
        })
        .collect()
}

/// The replies posted on pull request #7, the summary comment included.
async fn replies(github: &MockServer) -> Vec<String> {
    all_posts(github)
        .await
        .into_iter()
        .filter(|(route, _)| route.ends_with("/issues/7/comments"))
        .map(|(_, body)| body["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loadtest_comment_from_a_writer_runs_its_overrides_on_the_pull_request() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comment_run(&github, same_repository(), ("write", "write")).await;

    // The payload calls octocat a CONTRIBUTOR; what counts is the permission GitHub reports.
    let finished = run(comment_action(
        &harness,
        &setup,
        &github.uri(),
        "/loadtest rate=300 duration=30s\r\nplease",
        "CONTRIBUTOR",
        // The scripted tasks report 200 requests, not the 9,000 asked.
        &[("fail-on-under-delivery", "false")],
    ))
    .await;
    finished.assert_code(0);
    let rates: u64 = task_environment(&harness, "RATE")
        .iter()
        .map(|rate| rate.parse::<u64>().unwrap())
        .sum();
    assert_eq!(rates, 300);
    finished.assert_stdout_has(&format!(
        "Started by @octocat on pull request #7 (rate=300 duration=30s), testing its head {HEAD}"
    ));
    let posts = all_posts(&github).await;
    let reactions: Vec<&str> = posts
        .iter()
        .filter(|(route, _)| route.ends_with("/reactions"))
        .map(|(_, body)| body["content"].as_str().unwrap())
        .collect();
    assert_eq!(reactions, ["eyes", "rocket"]);
    let sticky = replies(&github).await;
    let sticky = &sticky[0];
    assert!(
        sticky.starts_with("<!-- ecs-loadtest:load-test -->"),
        "{sticky}"
    );
    assert!(
        sticky.contains("Started by @octocat in [this comment](https://github.com/acme/shop/pull/7#issuecomment-555) with `rate=300 duration=30s`")
            && sticky.contains(&format!("tested commit `{HEAD}`")),
        "{sticky}"
    );
}

/// Every input a comment may set by default, end to end from a comment, on a workflow that sets
/// its own load: `stages` replaces the workflow's `rate` and `duration` (before, the run was
/// refused with both), and `rate` or `duration` replace the workflow's `stages`.
#[tokio::test(flavor = "multi_thread")]
async fn every_default_override_works_from_a_comment() {
    let harness = Harness::start();
    // The scripted tasks report 200 requests whatever was asked: the subject is what the tasks
    // were asked for, not whether it was delivered.
    let workflow_rate = [
        ("rate", "200"),
        ("duration", "2m"),
        ("target-url", "https://staging.example.com/"),
        ("fail-on-under-delivery", "false"),
    ];
    let workflow_stages = [
        ("stages", "30s:100, 1m:100"),
        ("target-url", "https://staging.example.com/"),
        ("fail-on-under-delivery", "false"),
    ];
    // (the comment's overrides, the workflow's inputs, a task variable, what it adds up to)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 6] = [
        ("rate=300", &workflow_rate, "RATE", "300"),
        ("vus=40", &workflow_rate, "VUS", "40"),
        ("duration=30s", &workflow_rate, "DURATION", "60"),
        ("task-count=3", &workflow_rate, "TASK_COUNT", "3"),
        ("stages=10s:50,20s:50", &workflow_rate, "STAGES", "2"),
        ("duration=45s rate=90", &workflow_stages, "DURATION", "90"),
    ];
    for (overrides, workflow, variable, expected) in cases {
        let setup = passing_setup(&harness);
        let github = MockServer::start().await;
        mount_comment_run(&github, same_repository(), ("admin", "admin")).await;
        let before = harness.tasks("load").len();
        let finished = run(comment_action(
            &harness,
            &setup,
            &github.uri(),
            &format!("/loadtest {overrides}"),
            "MEMBER",
            workflow,
        ))
        .await;
        finished.assert_code(0);
        let values = task_environment(&harness, variable);
        let values = &values[before..];
        let summed = match variable {
            // Split across tasks: the parts add up to the total.
            "RATE" | "VUS" => values
                .iter()
                .map(|value| value.parse::<u64>().unwrap())
                .sum::<u64>()
                .to_string(),
            // The same on every task.
            "TASK_COUNT" => values[0].clone(),
            // Seconds, the same on every task (and twice what one task gets, to compare).
            "DURATION" => (values[0].parse::<u64>().unwrap() * 2).to_string(),
            // One task's stages: two of them.
            _ => values[0].split(',').count().to_string(),
        };
        assert_eq!(
            summed, expected,
            "{overrides}: {values:?}\n{}",
            finished.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_that_may_not_start_load_start_nothing() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let before = harness.requests().len();
    type Case<'a> = (
        &'a str,
        (&'a str, &'a str),
        Option<Value>,
        &'a [(&'a str, &'a str)],
        i32,
        Option<&'a str>,
    );
    // What GitHub lists as the newest activity on the head's branch, where a case needs another
    // answer than the push before the comment: `rate=11` pushed after it, `rate=12` before it
    // but to another commit than the head.
    let activity_of = |body: &str| match body {
        "/loadtest rate=11" => Some(payloads::activity(
            "feature",
            HEAD,
            "2026-11-20T10:00:07Z",
            "force_push",
        )),
        "/loadtest rate=12" => Some(payloads::activity(
            "feature",
            SHA,
            "2026-11-20T09:00:00Z",
            "force_push",
        )),
        _ => None,
    };
    let cases: Vec<Case> = vec![
        // (comment, octocat's permission and role, head repository, inputs, exit status, what
        // the reply says; none: no reply at all)
        // `COLLABORATOR` in the payload, but read-only on the repository.
        (
            "/loadtest",
            ("read", "read"),
            same_repository(),
            &[],
            0,
            Some(
                "@octocat has `read` permission on acme/shop; starting a load test needs `write` or more",
            ),
        ),
        (
            "/loadtest",
            ("read", "triage"),
            same_repository(),
            &[],
            0,
            Some("has `triage` permission"),
        ),
        (
            "/loadtest",
            ("none", "none"),
            same_repository(),
            &[],
            0,
            Some("has `none` permission"),
        ),
        // `maintain` is enough by default; `comment-permission: admin` narrows it.
        (
            "/loadtest",
            ("write", "maintain"),
            same_repository(),
            &[("comment-permission", "admin")],
            0,
            Some("needs `admin` or more"),
        ),
        (
            "/loadtest target-url=https://elsewhere.example/",
            ("admin", "admin"),
            same_repository(),
            &[],
            2,
            Some("`target-url` may not be set from a comment"),
        ),
        // Thresholds are no longer overridable by default.
        (
            "/loadtest thresholds=\"p95 < 10s\"",
            ("admin", "admin"),
            same_repository(),
            &[],
            2,
            Some("`thresholds` may not be set from a comment"),
        ),
        (
            "/loadtest rate=fast",
            ("write", "write"),
            same_repository(),
            &[],
            2,
            Some("input `rate`: got `fast`"),
        ),
        (
            "/loadtest rate=5\r::add-mask::x",
            ("write", "write"),
            same_repository(),
            &[],
            2,
            Some("control characters (U+000D)"),
        ),
        // A fork's head, which its author can move at will: the comment must name it.
        (
            "/loadtest",
            ("write", "write"),
            fork(),
            &[],
            2,
            Some(
                "comes from `mallory/shop`, whose author can push to it at any time, so the comment must name the commit it approves: comment `/loadtest sha=fedcba9876543210fedcba9876543210fedcba98`",
            ),
        ),
        // A prefix: another commit can share it. The reply gives the full SHA to copy.
        (
            "/loadtest sha=fedcba9",
            ("write", "write"),
            fork(),
            &[],
            2,
            Some(
                "`sha=` takes the full 40-digit SHA of the commit you approve, not `fedcba9`: a shorter prefix can be matched by another commit. To test the head, comment `/loadtest sha=fedcba9876543210fedcba9876543210fedcba98`",
            ),
        ),
        // Named, but the head moved on since.
        (
            "/loadtest sha=abc1234abc1234abc1234abc1234abc1234abc12",
            ("write", "write"),
            fork(),
            &[],
            2,
            Some(
                "approves commit `abc1234abc1234abc1234abc1234abc1234abc12`, but the pull request's head is now `fedcba9876543210fedcba9876543210fedcba98`",
            ),
        ),
        // The head's branch was pushed to after the comment was written.
        (
            "/loadtest rate=11",
            ("write", "write"),
            same_repository(),
            &[],
            2,
            Some(
                "the head's branch was pushed to at 2026-11-20T10:00:07Z (force-push), after the comment was written (2026-11-20T10:00:00Z)",
            ),
        ),
        // The newest push before the comment leads elsewhere than the head GitHub names.
        (
            "/loadtest rate=12",
            ("write", "write"),
            same_repository(),
            &[],
            2,
            Some(
                "the newest force-push to the head's branch leads to `0123456789abcdef0123456789abcdef01234567`",
            ),
        ),
        // A commenter's text is quoted as code in the reply: no mention, no image.
        (
            "/loadtest @org/team=1",
            ("write", "write"),
            same_repository(),
            &[],
            2,
            Some("- `@org/team` may not be set from a comment"),
        ),
        (
            "nice work, ship it",
            ("admin", "admin"),
            same_repository(),
            &[],
            0,
            None,
        ),
    ];
    for (body, role, head_repo, inputs, status, reply) in cases {
        let github = MockServer::start().await;
        mount_comment_run(&github, head_repo, role).await;
        if let Some(activity) = activity_of(body) {
            Mock::given(method("GET"))
                .and(path(format!("/repos/{REPOSITORY}/activity")))
                .respond_with(ResponseTemplate::new(200).set_body_json(activity))
                .with_priority(1)
                .mount(&github)
                .await;
        }
        let finished = run(comment_action(
            &harness,
            &setup,
            &github.uri(),
            body,
            "COLLABORATOR",
            inputs,
        ))
        .await;
        finished.assert_code(status);
        let replies = replies(&github).await;
        match reply {
            Some(text) => {
                assert_eq!(replies.len(), 1, "{body}: {replies:?}");
                assert!(replies[0].contains(text), "{body}: {}", replies[0]);
            }
            None => assert!(replies.is_empty(), "{body}: {replies:?}"),
        }
        // Nothing of the comment reached the log as a command.
        assert!(
            !finished.stdout.contains("\n::add-mask::x"),
            "{}",
            finished.stdout
        );
        // Nothing was asked of AWS: no task, no credentials check.
        assert_eq!(
            harness.requests().len(),
            before,
            "{body}: {}",
            finished.stdout
        );
    }
    assert!(harness.tasks("load").is_empty());
}

/// A fork's pull request runs when the comment names its head; a comment run that builds a
/// tester refuses a workspace checked out at another commit than the one approved.
#[tokio::test(flavor = "multi_thread")]
async fn a_comment_runs_exactly_the_commit_it_names() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comment_run(&github, fork(), ("write", "write")).await;
    let finished = run(comment_action(
        &harness,
        &setup,
        &github.uri(),
        "/loadtest sha=FEDCBA9876543210FEDCBA9876543210FEDCBA98",
        "CONTRIBUTOR",
        &[],
    ))
    .await;
    finished.assert_code(0);
    finished.assert_stdout_has(&format!("testing its head {HEAD}"));

    // A build from a workspace at the default branch's commit, not the approved one.
    let github = MockServer::start().await;
    mount_comment_run(&github, same_repository(), ("write", "write")).await;
    let before = harness.requests().len();
    let workspace = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(workspace.path().join(".git")).unwrap();
    std::fs::write(workspace.path().join(".git/HEAD"), format!("{SHA}\n")).unwrap();
    std::fs::write(workspace.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let context = workspace.path().display().to_string();
    let mut action = comment_action(
        &harness,
        &setup,
        &github.uri(),
        "/loadtest",
        "MEMBER",
        &[
            ("image", ""),
            ("context", &context),
            ("ecr-repository", "tester"),
        ],
    );
    action.command.current_dir(workspace.path());
    let finished = run(action).await;
    finished.assert_code(2);
    let replies = replies(&github).await;
    assert!(
        replies[0].contains(&format!(
            "the commit the comment approved, `{HEAD}`; the workspace is at `{SHA}`"
        )),
        "{replies:?}"
    );
    assert_eq!(harness.requests().len(), before, "{}", finished.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_failing_or_silent_is_a_warning_and_the_verdict_stands() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    // One GitHub answers 500 to everything; the other answers nothing for an hour.
    let failing = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})))
        .mount(&failing)
        .await;
    let silent = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(std::time::Duration::from_secs(3600)),
        )
        .mount(&silent)
        .await;
    let thresholds = [("thresholds", "p95 < 100ms")];

    let (failed, hung) = tokio::join!(
        run(action(
            &harness,
            &setup,
            &failing.uri(),
            "pull_request",
            &thresholds
        )),
        run(action(
            &harness,
            &setup,
            &silent.uri(),
            "pull_request",
            &thresholds
        )),
    );

    for finished in [&failed, &hung] {
        finished.assert_code(99);
        assert_eq!(finished.output("passed"), "false");
        assert_eq!(finished.output("exit-code"), "99");
        assert_eq!(finished.output("comment-url"), "");
        finished.assert_stdout_has("::error::threshold `p95 < 100ms` failed: measured ");
        assert!(
            finished
                .summary()
                .contains("Load test failed (exit status 99)"),
            "{}",
            finished.summary()
        );
    }
    failed.assert_stdout_has("::warning::could not post the pull request comment: listing the comments: 500 Internal Server Error Server Error (after 3 attempts)");
    assert_eq!(failing.received_requests().await.unwrap().len(), 3);
    hung.assert_stdout_has(
        "::warning::could not post the pull request comment: listing the comments: ",
    );
    assert!(
        hung.stdout.contains("(after 3 attempts)"),
        "{}",
        hung.stdout
    );
    assert_eq!(silent.received_requests().await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_github_refuses_as_too_long_is_a_warning() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    mount_comments(&github, "", 7, json!([])).await;
    let too_long = json!({
        "message": "Validation Failed",
        "errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                    "message": "body is too long (maximum is 65536 characters)"}],
        "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
        "status": "422"
    });
    mount_post(
        &github,
        format!("/repos/{REPOSITORY}/issues/7/comments"),
        422,
        too_long,
    )
    .await;

    let finished = run(action(&harness, &setup, &github.uri(), "pull_request", &[])).await;

    finished.assert_code(0);
    assert_eq!(finished.output("passed"), "true");
    finished.assert_stdout_has("::warning::could not post the pull request comment: POST /repos/acme/shop/issues/7/comments: 422 Unprocessable Entity Validation Failed");
    assert!(finished.summary().contains("Load test passed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_reporting_leaves_the_verdict_and_the_comment_whole() {
    let harness = Harness::start();
    let setup = passing_setup(&harness);
    let github = MockServer::start().await;
    // GitHub takes 3 s to list the comments: the signal comes while the report is being posted.
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPOSITORY}/issues/7/comments")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .mount(&github)
        .await;
    let create = format!("/repos/{REPOSITORY}/issues/7/comments");
    mount_post(&github, create, 201, bot_comment(8, 7, "posted")).await;

    let (child, dir) = action(&harness, &setup, &github.uri(), "pull_request", &[]).spawn();
    let mut asked = false;
    for _ in 0..600 {
        if !github.received_requests().await.unwrap().is_empty() {
            asked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(asked, "GitHub was never asked");
    signal(&child, "TERM");
    let finished =
        tokio::task::spawn_blocking(move || Finished::new(child.wait_with_output().unwrap(), dir))
            .await
            .unwrap();

    finished.assert_code(0);
    assert_eq!(finished.output("passed"), "true");
    finished.assert_stdout_has("Posted the pull request comment: ");
    assert!(finished.summary().contains("Load test passed"));
    harness.assert_none_running("load");
}

/// The post step after a comment run sees the workflow's inputs without the comment's overrides:
/// here a generator run whose `duration` only the comment gave, invalid as the post step reads
/// it. Cleanup reads only what it needs, and stops what the killed main step left.
#[tokio::test(flavor = "multi_thread")]
async fn the_post_step_cleans_up_after_a_comment_run() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));
    let github = MockServer::start().await;
    mount_comment_run(&github, same_repository(), ("write", "write")).await;
    let workflow = [
        ("image", ""),
        (
            "generator-image",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen:1",
        ),
        ("target-url", "https://staging.example.com/"),
        ("rate", "10"),
        ("start-delay", "0"),
    ];
    let main = comment_action(
        &harness,
        &setup,
        &github.uri(),
        "/loadtest duration=30s",
        "MEMBER",
        &workflow,
    );
    let (mut child, dir) = main.spawn();
    let running = crate::common::wait_until(std::time::Duration::from_secs(60), || {
        let tasks = harness.tasks("load");
        tasks.len() == 2 && tasks.iter().all(|task| task["lastStatus"] == "RUNNING")
    });
    assert!(running, "{:#?}", harness.tasks("load"));
    child.kill().unwrap();
    child.wait().unwrap();
    let state = crate::common::saved_state(&dir);

    let post = comment_action(
        &harness,
        &setup,
        &github.uri(),
        "/loadtest duration=30s",
        "MEMBER",
        &workflow,
    )
    .env("STATE_invocation", &state["invocation"])
    .arg("cleanup");
    let finished = run(post).await;

    finished.assert_code(0);
    finished
        .assert_stdout_has("::warning::cleanup stopped 2 of 2 task(s) that the step left running");
    harness.assert_none_running("load");
}
