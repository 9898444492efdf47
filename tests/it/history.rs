//! Result history: the real binary against moto's DynamoDB (and its ECS, whose tasks print
//! result lines), and a wiremock GitHub for the pull request comment.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::{Value, json};
use wiremock::MockServer;

use crate::common::{ActionRun, Finished, Harness};
use crate::github::{
    REPOSITORY, SHA, action, bot_comment, mount_comments, mount_post, passing_setup, posts, run,
};

const TABLE: &str = "loadtest-results";
/// The shape of `pull_request_run`: 2 tasks, 200 requests a second, a minute.
const SHAPE: &str = "tasks=2 rate=200 vus=- duration=60 stages=-";

fn dynamodb(harness: &Harness) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(harness.endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

/// The table as the Terraform in `infra/terraform` makes it: `testId`, `timestamp`, TTL on
/// `expiresAt`.
async fn create_table(client: &Client) {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("testId", KeyType::Hash))
        .key_schema(key("timestamp", KeyType::Range))
        .attribute_definitions(attribute("testId", ScalarAttributeType::S))
        .attribute_definitions(attribute("timestamp", ScalarAttributeType::N))
        .send()
        .await
        .unwrap();
    client
        .update_time_to_live()
        .table_name(TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expiresAt")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An earlier run as the binary stores it (the item layout in docs/reports.md).
struct Earlier<'a> {
    test_id: &'a str,
    branch: &'a str,
    /// The repository the branch is a branch of: the base's, or a fork's.
    repository: &'a str,
    passed: bool,
    shape: &'a str,
    ago_s: u64,
    p95_ms: u64,
}

async fn seed(client: &Client, run: Earlier<'_>) {
    let n = |value: f64| AttributeValue::N(value.to_string());
    let s = |value: &str| AttributeValue::S(value.to_string());
    let p95_us = run.p95_ms as f64 * 1000.0;
    let figures = [
        ("p50", p95_us / 2.0),
        ("p95", p95_us),
        ("p99", p95_us * 1.5),
        ("rps", 20.0),
        ("error_rate", 0.01),
        ("requests", 200.0),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), n(value)))
    .collect();
    client
        .put_item()
        .table_name(TABLE)
        .item("testId", s(run.test_id))
        .item("timestamp", n((now_ms() - run.ago_s * 1000) as f64))
        .item("passed", AttributeValue::Bool(run.passed))
        .item("exitStatus", n(if run.passed { 0.0 } else { 99.0 }))
        .item("branch", s(run.branch))
        .item("repository", s(run.repository))
        .item("shapeKey", s(run.shape))
        .item("shape", s("2 tasks, 200 req/s, 60 s"))
        .item("commit", s(&format!("{:040}", run.ago_s)))
        .item("taskCount", n(2.0))
        .item("tasksReporting", n(2.0))
        .item("figures", AttributeValue::M(figures))
        .send()
        .await
        .unwrap();
}

/// Every item of the table.
async fn items(client: &Client) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    client
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> f64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// The action on `event`, 2 tasks at 200 requests a second for a minute (`SHAPE`), storing into
/// `TABLE` as test `checkout`.
fn stored_run(harness: &Harness, api_url: &str, event: &str, extra: &[(&str, &str)]) -> ActionRun {
    let setup = passing_setup(harness);
    let mut inputs = vec![
        ("results-table", TABLE),
        ("test-id", "checkout"),
        ("rate", "200"),
        ("duration", "1m"),
        // The scripted tasks report 200 requests, not the 12,000 this shape asks for: what is
        // stored and compared is the subject here, not whether the load was delivered.
        ("fail-on-under-delivery", "false"),
    ];
    inputs.extend_from_slice(extra);
    action(harness, &setup, api_url, event, &inputs)
}

/// `stored_run` on a pull request from `feature/x` into `main`.
fn pull_request_run(harness: &Harness, api_url: &str, extra: &[(&str, &str)]) -> ActionRun {
    stored_run(harness, api_url, "pull_request", extra)
        .env("GITHUB_HEAD_REF", "feature/x")
        .env("GITHUB_BASE_REF", "main")
        .env("GITHUB_REF_NAME", "7/merge")
}

fn summary(finished: &Finished) -> String {
    std::fs::read_to_string(finished.dir.path().join("summary")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_stored_with_its_ttl_figures_histogram_and_origin() {
    let harness = Harness::start();
    let client = dynamodb(&harness);
    create_table(&client).await;
    let before = now_ms();

    let finished = run(pull_request_run(&harness, "http://127.0.0.1:9", &[])).await;

    finished.assert_code(0);
    finished.assert_stdout_has("Verdict: PASSED");
    finished.assert_stdout_has("Stored this run as test `checkout` at ");
    // No baseline yet: said, not hidden.
    finished.assert_stdout_has(
        "No comparison: no passing run of test `checkout` on `main` with this load shape (2 tasks, 200 req/s, 60 s) in table `loadtest-results` in us-east-1",
    );
    let stored = items(&client).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let item = &stored[0];
    assert_eq!(item["testId"].as_s().unwrap(), "checkout");
    let timestamp = number(item, "timestamp") as u64;
    assert!((before..=now_ms()).contains(&timestamp), "{timestamp}");
    let expires = number(item, "expiresAt") as u64;
    assert_eq!(expires, timestamp / 1000 + 90 * 86_400);
    assert_eq!(item["passed"].as_bool().unwrap(), &true);
    assert_eq!(item["branch"].as_s().unwrap(), "feature/x");
    assert_eq!(item["repository"].as_s().unwrap(), "acme/shop");
    assert_eq!(number(item, "pr"), 7.0);
    assert_eq!(item["commit"].as_s().unwrap(), SHA);
    assert_eq!(
        item["runUrl"].as_s().unwrap(),
        &format!("https://github.com/{REPOSITORY}/actions/runs/9876543210")
    );
    assert_eq!(
        item["image"].as_s().unwrap(),
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/tester:abc1234"
    );
    assert_eq!(item["shapeKey"].as_s().unwrap(), SHAPE);
    assert_eq!(number(item, "taskCount"), 2.0);
    assert_eq!(number(item, "tasksReporting"), 2.0);

    // The figures are the run's merged ones, and the histogram holds every sample.
    let merged = &finished.results()["merged"];
    let figures = item["figures"].as_m().unwrap();
    let figure = |name: &str| figures[name].as_n().unwrap().parse::<f64>().unwrap();
    assert_eq!(figure("requests"), 200.0);
    assert_eq!(figure("errors"), 2.0);
    assert_eq!(figure("p95"), merged["latency"]["p95_us"].as_f64().unwrap());
    assert_eq!(figure("rps"), merged["rps"].as_f64().unwrap());
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(item["latencyHdr"].as_s().unwrap())
        .unwrap();
    let histogram: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap();
    assert_eq!(histogram.len(), 200);
    assert_eq!(
        histogram.value_at_quantile(0.95) as f64,
        figure("p95"),
        "the stored histogram gives the stored p95"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_baseline_is_the_newest_five_passing_runs_of_the_same_test_branch_and_shape() {
    let harness = Harness::start();
    let client = dynamodb(&harness);
    create_table(&client).await;
    let matching = |ago_s: u64, p95_ms: u64| Earlier {
        test_id: "checkout",
        branch: "main",
        repository: "acme/shop",
        passed: true,
        shape: SHAPE,
        ago_s,
        p95_ms,
    };
    // Seven matching runs, the oldest 200 ms, the newest 206 ms: the newest five are 202..=206.
    for (index, p95_ms) in (200..=206).enumerate() {
        seed(&client, matching(1000 - index as u64 * 100, p95_ms)).await;
    }
    // A fork's pull request from its own `main`: slow runs stored to make a regression on the
    // base's `main` look like noise.
    let forks = (8..=10).map(|ago_s| Earlier {
        repository: "mallory/shop",
        ..matching(ago_s, 900)
    });
    // Newer than all of them, and each wrong in one way.
    for decoy in [
        Earlier {
            passed: false,
            ..matching(50, 900)
        },
        Earlier {
            branch: "feature/y",
            ..matching(40, 900)
        },
        Earlier {
            test_id: "search",
            ..matching(30, 900)
        },
        Earlier {
            shape: "tasks=4 rate=200 vus=- duration=60 stages=-",
            ..matching(20, 900)
        },
    ]
    .into_iter()
    .chain(forks)
    {
        seed(&client, decoy).await;
    }
    let github = MockServer::start().await;
    mount_comments(&github, "", 7, json!([])).await;
    let create = format!("/repos/{REPOSITORY}/issues/7/comments");
    mount_post(&github, create, 201, bot_comment(1001, 7, "posted")).await;

    let finished = run(pull_request_run(
        &harness,
        &github.uri(),
        &[("thresholds", "p95 < +10%\nrps > -50%\nerror_rate < +5pp")],
    ))
    .await;

    // The merged p95 (about 280 ms) is far above every baseline run: a regression, and the
    // relative threshold fails the run.
    finished.assert_code(99);
    finished.assert_stdout_has(
        "Baseline: 5 passing run(s) of test `checkout` on `main` with this load shape",
    );
    let results = finished.results();
    let comparison = &results["comparison"];
    assert_eq!(comparison["runs"], 5);
    assert_eq!(comparison["branch"], "main");
    let p95 = &comparison["figures"][1];
    assert_eq!(p95["metric"], "p95");
    assert_eq!(p95["baseline_median"], 204_000.0);
    assert_eq!(p95["baseline_range"], json!([202_000.0, 206_000.0]));
    assert_eq!(p95["judgement"], "regression");
    let rps = &comparison["figures"][3];
    assert_eq!(
        (rps["metric"].as_str(), rps["baseline_median"].as_f64()),
        (Some("rps"), Some(20.0))
    );

    let thresholds = &results["thresholds"];
    assert_eq!(thresholds[0]["held"], false);
    assert_eq!(thresholds[0]["skipped"], false);
    let measured = thresholds[0]["measured"].as_str().unwrap();
    assert!(measured.ends_with(" vs 204ms)"), "{measured}");
    assert_eq!(
        (
            thresholds[1]["held"].as_bool(),
            thresholds[2]["held"].as_bool()
        ),
        (Some(true), Some(true)),
        "{thresholds}"
    );

    // The comment and the summary both carry the comparison table.
    let posted = posts(&github).await;
    assert_eq!(posted.len(), 1);
    let body = &posted[0].1;
    for text in [summary(&finished).as_str(), body.as_str()] {
        assert!(
            text.contains(
                "**Compared with `main`**: the median of the newest 5 passing run(s) on `main`"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| figure | baseline (median) | baseline range | this run | change | judgement |"
            ),
            "{text}"
        );
        assert!(text.contains("| p95 | 204ms | 202ms – 206ms | "), "{text}");
        assert!(text.contains("| ❌ regression |"), "{text}");
        assert!(text.contains("| `p95 < +10%` | "), "{text}");
    }

    // This failed run is stored too, and never becomes a baseline.
    let stored = items(&client).await;
    assert_eq!(stored.len(), 15);
    let this = stored
        .iter()
        .find(|item| item["branch"].as_s().unwrap() == "feature/x")
        .unwrap();
    assert_eq!(this["passed"].as_bool().unwrap(), &false);
    assert_eq!(number(this, "exitStatus"), 99.0);

    // A push to `main` is compared with `main`'s own earlier runs.
    let pushed =
        run(stored_run(&harness, "http://127.0.0.1:9", "push", &[]).env("GITHUB_REF_NAME", "main"))
            .await;
    pushed.assert_code(0);
    pushed.assert_stdout_has(
        "Baseline: 5 passing run(s) of test `checkout` on `main` with this load shape",
    );
    let comparison = &pushed.results()["comparison"];
    assert_eq!(
        (comparison["branch"].as_str(), comparison["runs"].as_u64()),
        (Some("main"), Some(5)),
        "{comparison}"
    );
    assert_eq!(comparison["figures"][1]["baseline_median"], 204_000.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn relative_thresholds_without_a_baseline_are_skipped_unless_a_baseline_is_required() {
    let harness = Harness::start();
    let client = dynamodb(&harness);
    create_table(&client).await;

    let finished = run(pull_request_run(
        &harness,
        "http://127.0.0.1:9",
        &[("thresholds", "p95 < +10%\np95 < 1s")],
    ))
    .await;
    finished.assert_code(0);
    let checked = &finished.results()["thresholds"][0];
    assert_eq!(
        (checked["held"].as_bool(), checked["skipped"].as_bool()),
        (Some(false), Some(true))
    );
    // `%` is escaped in a workflow command.
    finished.assert_stdout_has("::notice::threshold `p95 < +10%25` skipped: measured ");
    finished.assert_stdout_has("(no baseline: no passing run of test `checkout` on `main`");
    assert!(summary(&finished).contains("⏭️ skipped"));

    let finished = run(pull_request_run(
        &harness,
        "http://127.0.0.1:9",
        &[
            ("thresholds", "p95 < +10%\np95 < 1s"),
            ("require-baseline", "true"),
        ],
    ))
    .await;
    finished.assert_code(99);
    finished.assert_stdout_has(
        "threshold `p95 < +10%` could not be checked and `require-baseline` is true",
    );

    // Without a table, a relative rule could never be checked: refused before anything starts.
    let setup = passing_setup(&harness);
    let finished = run(action(
        &harness,
        &setup,
        "http://127.0.0.1:9",
        "push",
        &[("thresholds", "p95 < +10%")],
    ))
    .await;
    finished.assert_code(2);
    finished.assert_stdout_has("input `thresholds`: got `p95 < +10%25`; expected a rule relative to the base branch's runs only with `results-table`");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_history_command_lists_a_tests_runs_newest_first() {
    let harness = Harness::start();
    let client = dynamodb(&harness);
    create_table(&client).await;
    for (ago_s, branch, p95_ms) in [
        (400, "main", 210),
        (300, "main", 220),
        (200, "feature/x", 230),
        (100, "main", 240),
    ] {
        seed(
            &client,
            Earlier {
                test_id: "checkout",
                branch,
                repository: "acme/shop",
                passed: ago_s != 300,
                shape: SHAPE,
                ago_s,
                p95_ms,
            },
        )
        .await;
    }
    let history = |args: &[&str]| {
        let mut command = ActionRun::new(&harness, &[]).arg("history");
        for arg in args {
            command = command.arg(arg);
        }
        command.run()
    };

    let finished = history(&[
        "--test-id",
        "checkout",
        "--results-table",
        TABLE,
        "--branch",
        "main",
        "--limit",
        "2",
    ]);
    finished.assert_code(0);
    let lines: Vec<&str> = finished.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "The newest 2 run(s) of test `checkout` on `main` in table `loadtest-results` in us-east-1:"
    );
    assert!(lines[1].starts_with("ended (UTC)"), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    // Newest first: 240 ms, then the failed 220 ms run; the feature branch's is left out.
    assert!(
        lines[2].contains("passed") && lines[2].contains("240ms"),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("failed (99)") && lines[3].contains("220ms"),
        "{lines:?}"
    );

    let finished = history(&["--test-id", "checkout", "--results-table", TABLE, "--json"]);
    finished.assert_code(0);
    let runs: Vec<Value> = serde_json::from_str(&finished.stdout).unwrap();
    let p95s: Vec<f64> = runs
        .iter()
        .map(|run| run["figures"]["p95"].as_f64().unwrap())
        .collect();
    assert_eq!(p95s, [240_000.0, 230_000.0, 220_000.0, 210_000.0]);

    let finished = history(&[
        "--test-id",
        "checkout",
        "--results-table",
        "x",
        "--limit",
        "0",
    ]);
    finished.assert_code(2);
    assert!(
        finished.stdout.contains("input `results-table`: got `x`"),
        "{finished}"
    );
    assert!(
        finished
            .stdout
            .contains("input `limit`: got `0`; expected a whole number from 1 to 1000"),
        "{finished}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_that_does_not_exist_is_named_and_the_verdict_still_reported() {
    let harness = Harness::start();
    let finished = run(pull_request_run(&harness, "http://127.0.0.1:9", &[])).await;
    finished.assert_code(0);
    finished.assert_stdout_has("Verdict: PASSED");
    finished.assert_stdout_has(
        "::warning::the baseline could not be read: the results table `loadtest-results` does not exist in us-east-1",
    );
    finished.assert_stdout_has(
        "::warning::this run's results were not stored: the results table `loadtest-results` does not exist in us-east-1",
    );
    assert_eq!(finished.output("passed"), "true");
}

/// A result whose histogram is as long as the protocol allows: random counts in every bucket.
fn huge_histogram_line() -> String {
    use base64::Engine;
    use hdrhistogram::serialization::Serializer;
    use rand::{Rng, SeedableRng};
    let mut random = rand::rngs::StdRng::seed_from_u64(7);
    // The widest histogram the result protocol takes (1 µs to 2^38 µs, 3 figures), every count
    // large and random, so that its encoding is as long as one can be.
    let mut histogram = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1 << 38, 3).unwrap();
    let mut value = 1u64;
    let mut requests = 0u64;
    while value < 1 << 38 {
        let count = random.random_range(1u64 << 40..1u64 << 44);
        histogram.record_n(value, count).unwrap();
        requests += count;
        value = histogram.next_non_equivalent(value);
    }
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(&histogram, &mut bytes)
        .unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    assert!(encoded.len() > 200_000, "{}", encoded.len());
    format!(
        r#"{{"v":1,"requests":{requests},"errors":0,"duration_ms":10000,"latency_hdr":"{encoded}"}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_past_400_kb_leaves_out_the_histogram_and_keeps_the_figures() {
    let harness = Harness::start();
    let client = dynamodb(&harness);
    create_table(&client).await;
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    let json = huge_histogram_line();
    let pieces: Vec<&str> = json
        .as_bytes()
        .chunks(8000)
        .map(|piece| std::str::from_utf8(piece).unwrap())
        .collect();
    let lines: Vec<String> = pieces
        .iter()
        .enumerate()
        .map(|(index, piece)| {
            format!(
                "ECS_LOADTEST_RESULT_CHUNK big {} {} {piece}",
                index + 1,
                pieces.len()
            )
        })
        .collect();
    harness.script(
        "load",
        json!({"run_seconds": 1}),
        json!({"0": {"logs": {"lines": ["running"], "after_stop": lines}}}),
    );
    // With two thousand rules checked beside it, the run's item passes DynamoDB's 400 KB.
    let rules: Vec<String> = (0..2000)
        .map(|at_least| format!("requests > {at_least}"))
        .collect();
    let finished = run(ActionRun::for_setup(
        &harness,
        &setup,
        &[
            ("results-table", TABLE),
            ("test-id", "big"),
            ("thresholds", &rules.join("\n")),
        ],
    ))
    .await;

    finished.assert_code(0);
    finished.assert_stdout_has(
        "::warning::the stored run leaves out the latency histogram to stay under DynamoDB's 400 KB item limit",
    );
    finished.assert_stdout_has("Stored this run as test `big`");
    let stored = items(&client).await;
    assert_eq!(stored.len(), 1);
    let item = &stored[0];
    assert!(!item.contains_key("latencyHdr"));
    assert_eq!(
        item["trimmed"].as_l().unwrap(),
        &[AttributeValue::S("latencyHdr".into())]
    );
    let merged = &finished.results()["merged"];
    let figures = item["figures"].as_m().unwrap();
    assert_eq!(
        figures["p99"].as_n().unwrap().parse::<f64>().unwrap(),
        merged["latency"]["p99_us"].as_f64().unwrap()
    );
    // What was never needed at all stays: the result line held no series.
    assert!(!item.contains_key("series"));
}
