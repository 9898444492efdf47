//! The report people look at, from real runs: the charts over time, the load asked against the
//! load delivered, live progress across tasks, the report files (the built-in generator in this
//! process against a server on 127.0.0.1), and the Fargate cost (against moto, and
//! a wiremock Price List API).

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use wiremock::matchers::{body_partial_json, header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{ActionRun, Harness, listed_product};
use crate::server::{Behaviour, Server};

/// The local backend running the built-in generator in this process against `server`.
fn in_process(server: &Server, context: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    let url = server.url();
    let context = context.display().to_string();
    let mut all = vec![
        ("backend", "local"),
        ("target-url", url.as_str()),
        ("context", context.as_str()),
    ];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all)
}

#[test]
fn a_run_shows_its_progress_charts_and_load_and_writes_its_report_files() {
    let server = Server::start(Behaviour {
        delay: Duration::from_millis(1),
        ..Default::default()
    });
    let files = tempfile::tempdir().unwrap();
    let html = files.path().join("reports/loadtest.html");
    let context = tempfile::tempdir().unwrap();
    let run = in_process(
        &server,
        context.path(),
        &[
            ("task-count", "2"),
            ("stages", "6s:60, 6s:60, 6s:20"),
            ("thresholds", "error_rate < 1%"),
            ("report-file", &html.display().to_string()),
        ],
    );
    let run = run.run();
    run.assert_code(0);

    // Live progress: every task's line added up, outside the task groups.
    let progress: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("Progress · "))
        .collect();
    assert!(!progress.is_empty(), "{}", run.stdout);
    assert!(
        progress[0].contains(" · 2/2 tasks reporting · ")
            && progress[0].contains(" req/s of 60 asked · worst p95 "),
        "{progress:?}"
    );
    let before = run
        .stdout
        .lines()
        .take_while(|line| !line.starts_with("Progress · "))
        .filter(|line| line.starts_with("::group::") || *line == "::endgroup::")
        .last();
    assert_eq!(
        before,
        Some("::endgroup::"),
        "a progress line inside a group"
    );
    run.assert_stdout_has("(continued)");

    // Asked against delivered: 780 requests scheduled by the stages, every one sent.
    let results = run.results();
    let delivery = &results["delivery"];
    assert_eq!(delivery["asked_requests"], 780, "{delivery}");
    assert_eq!(
        delivery["delivered_requests"].as_u64().unwrap(),
        server.requests()
    );
    assert!(
        delivery["shortfall"].as_f64().unwrap() <= 0.05,
        "{delivery}"
    );
    assert_eq!(delivery["stages"].as_array().unwrap().len(), 3);
    assert!(delivery.get("shortfall_sentence").is_none());
    // A local run bills nothing.
    assert!(results["cost"].is_null());

    let summary = run.summary();
    assert_eq!(summary.matches("xychart-beta\n").count(), 2, "{summary}");
    assert!(summary.contains("**Asked and delivered**"));
    assert!(
        summary
            .contains("| load | stages `6s:60,6s:60,6s:20` (req/s, 18s in all) across 2 tasks |")
    );
    assert!(!summary.contains("Cost (estimate)"));

    // The HTML page: the same report, its two charts inline, nothing to fetch.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<figure><svg").count(), 2);
    assert!(!page.contains("<script") && !page.contains("src=\""));
    assert!(page.contains("<h3>✅ Load test passed</h3>"));
    run.assert_stdout_has(&format!("The report is in {}", html.display()));
}

#[test]
fn a_markdown_report_file_is_the_job_summary() {
    let server = Server::start(Behaviour::default());
    let files = tempfile::tempdir().unwrap();
    let markdown = files.path().join("report.md");
    let context = tempfile::tempdir().unwrap();
    let run = in_process(
        &server,
        context.path(),
        &[
            ("rate", "40"),
            ("duration", "3s"),
            ("report-file", &markdown.display().to_string()),
        ],
    );
    let run = run.run();
    run.assert_code(0);
    assert_eq!(std::fs::read_to_string(&markdown).unwrap(), run.summary());
}

#[test]
fn a_run_that_does_not_deliver_its_load_says_why_and_fails_unless_told_not_to() {
    // One virtual user against a server that takes 100 ms: about 10 requests a second of the 50
    // asked; the rest are dropped.
    let server = Server::start(Behaviour {
        delay: Duration::from_millis(100),
        ..Default::default()
    });
    let inputs = [("rate", "50"), ("vus", "1"), ("duration", "3s")];
    let context = tempfile::tempdir().unwrap();
    let mut warning_only = inputs.to_vec();
    warning_only.push(("fail-on-under-delivery", "false"));
    let run = in_process(&server, context.path(), &warning_only);
    let warned = run.run();
    warned.assert_code(0);
    let sentence = warned.results()["delivery"]["shortfall_sentence"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sentence.starts_with("The test did not deliver its load: it sent ")
            && sentence.contains(" of the 150 requests asked (")
            // On a busy machine the generator's own lag may be named after it, in the same
            // sentence.
            && sentence.contains(
                " requests could not start because every virtual user was busy (the generator's VUs or CPU: raise `vus`, or `cpu`)"
            ),
        "{sentence}"
    );
    // Said once in the `results` output: in the delivery.
    assert_eq!(
        warned
            .results()
            .to_string()
            .matches("did not deliver its load")
            .count(),
        1
    );
    // Workflow commands escape `%`.
    warned.assert_stdout_has(&format!(
        "::warning::{} (a warning, since `fail-on-under-delivery` is `false`)",
        sentence.replace('%', "%25")
    ));
    assert!(warned.summary().contains(&format!("⚠️ **{sentence}**")));

    // By default (action.yml's default, passed by the runner as if typed) it fails the run.
    let run = in_process(&server, context.path(), &inputs);
    let failed = run.run();
    failed.assert_code(99);
    failed.assert_stdout_has("::error::The test did not deliver its load: ");
    assert!(
        failed
            .summary()
            .contains("### ❌ Load test failed (exit status 99)")
    );
    assert!(
        failed
            .summary()
            .contains("- The test did not deliver its load: ")
    );

    let run = in_process(
        &server,
        context.path(),
        &[("fail-on-under-delivery", "sometimes")],
    );
    let refused = run.run();
    refused.assert_code(2);
    assert!(
        refused.stdout.contains("fail-on-under-delivery")
            || refused.stderr.contains("fail-on-under-delivery"),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
}

/// A Price List API that refuses the role, as AWS does without `pricing:GetProducts`.
async fn denying_price_list() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AWSPriceListService.GetProducts"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "__type": "AccessDeniedException",
            "Message": "User: arn:aws:sts::123456789012:assumed-role/ci/run is not authorized to perform: pricing:GetProducts"
        })))
        .mount(&server)
        .await;
    server
}

fn price_list_requests(server: &MockServer) -> Vec<serde_json::Value> {
    wait_for(server.received_requests())
        .unwrap_or_default()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).expect("a JSON request"))
        .collect()
}

/// Waits for `future` from a synchronous part of a test running on a multi-threaded runtime.
fn wait_for<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread")]
async fn fargate_usage_and_its_estimate_on_demand_and_spot_apart() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": 1.5}), json!({}));
    let price_list = denying_price_list().await;
    let run_with = |inputs: &[(&str, &str)]| {
        ActionRun::for_setup(&harness, &setup, inputs)
            .env("AWS_ENDPOINT_URL_PRICING", &price_list.uri())
            .run()
    };

    // Two tasks of 1 vCPU and 2 GB, each billed the minimum minute; the role may not read the
    // Price List API, so the kept prices.
    let run = run_with(&[("task-count", "2"), ("cpu", "1024"), ("memory", "2048")]);
    run.assert_code(0);
    run.assert_stdout_has(
        "The cost estimate uses the list prices this project keeps: pricing:GetProducts (AmazonECS in us-east-1): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ci/run is not authorized to perform: pricing:GetProducts (the role needs `pricing:GetProducts` for the region's own)",
    );
    assert_eq!(
        price_list_requests(&price_list).len(),
        1,
        "denied: not retried"
    );
    let cost = &run.results()["cost"];
    assert_eq!(cost["on_demand"]["tasks"], 2, "{cost}");
    assert_eq!(cost["on_demand"]["vcpu_seconds"], 120.0);
    assert_eq!(cost["on_demand"]["gb_seconds"], 240.0);
    assert_eq!(cost["spot"]["tasks"], 0);
    let usd = (120.0 * 0.04048 + 240.0 * 0.004445) / 3600.0;
    assert!(
        (cost["usd"].as_f64().unwrap() - usd).abs() < 1e-12,
        "{cost}"
    );
    let summary = run.summary();
    assert!(
        summary.contains("**Cost (estimate): $0.0016**"),
        "{summary}"
    );
    assert!(summary.contains("| on demand | 2 | 120 | 240 | $0.0016 |"));
    assert!(summary.contains("us-east-1's on-demand list prices: $0.04048/vCPU-hour"));
    run.assert_stdout_has("Cost (estimate): $0.0016 · on demand 120 vCPU-s, 240 GB-s");

    // Spot without its prices: at on-demand rates, said to be an upper bound.
    let run = run_with(&[
        ("capacity-provider", "FARGATE_SPOT"),
        ("cpu", "1024"),
        ("memory", "2048"),
    ]);
    run.assert_code(0);
    let cost = &run.results()["cost"];
    assert_eq!(
        (
            cost["spot"]["tasks"].as_u64(),
            cost["on_demand"]["tasks"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(cost["spot_at_on_demand"], true);
    assert!(
        run.summary()
            .contains("Spot is priced at the on-demand rate, an upper bound")
    );

    // With the input's prices, Spot's own, and the Price List API is not asked.
    let run = run_with(&[
        ("capacity-provider", "FARGATE_SPOT"),
        ("cpu", "1024"),
        ("memory", "2048"),
        (
            "fargate-prices",
            "vcpu=0.05, gb=0.005, spot-vcpu=0.012, spot-gb=0.0013",
        ),
    ]);
    run.assert_code(0);
    let cost = &run.results()["cost"];
    let usd = (60.0 * 0.012 + 120.0 * 0.0013) / 3600.0;
    assert!(
        (cost["usd"].as_f64().unwrap() - usd).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(cost["spot_at_on_demand"], false);
    assert!(
        run.summary()
            .contains("An estimate from the prices of the `fargate-prices` input")
    );
    assert_eq!(price_list_requests(&price_list).len(), 2);

    let run = run_with(&[("fargate-prices", "vcpu=cheap")]);
    run.assert_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn fargate_prices_come_from_the_price_list_api_when_the_role_may_read_it() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": 1.5}), json!({}));
    // Two pages, with products the estimate has no use for among them.
    let price_list = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AWSPriceListService.GetProducts"))
        .and(body_partial_json(json!({"NextToken": "page-2"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "FormatVersion": "aws_v1",
            "PriceList": [
                listed_product("us-east-1", "USE1-Fargate-GB-Hours", "0.0060000000"),
                listed_product("us-east-1", "USE1-SpotUsage-Fargate-vCPU-Hours:perCPU", "0.0150000000"),
                listed_product("us-east-1", "USE1-SpotUsage-Fargate-GB-Hours", "0.0016000000"),
            ]
        })))
        .with_priority(1)
        .mount(&price_list)
        .await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AWSPriceListService.GetProducts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "FormatVersion": "aws_v1",
            "PriceList": [
                listed_product("us-east-1", "USE1-Fargate-vCPU-Hours:perCPU", "0.0500000000"),
                listed_product("us-east-1", "USE1-Fargate-EphemeralStorage-GB-Hours", "0.0001110000"),
                listed_product("us-east-1", "USE1-Fargate-Windows-vCPU-Hours:perCPU", "0.0900000000"),
            ],
            "NextToken": "page-2"
        })))
        .with_priority(2)
        .mount(&price_list)
        .await;

    // Two tasks of 1 vCPU / 2 GB, each billed a minute.
    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[("task-count", "2"), ("cpu", "1024"), ("memory", "2048")],
    )
    .env("AWS_ENDPOINT_URL_PRICING", &price_list.uri())
    .run();
    run.assert_code(0);
    let cost = &run.results()["cost"];
    assert_eq!(cost["on_demand"]["tasks"], 2, "{cost}");
    let usd = (120.0 * 0.05 + 240.0 * 0.006) / 3600.0;
    assert!(
        (cost["usd"].as_f64().unwrap() - usd).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(cost["spot_at_on_demand"], false);
    let summary = run.summary();
    assert!(
        summary.contains(
            "us-east-1's on-demand prices from the AWS Price List API (published 2026-10-14): $0.05/vCPU-hour and $0.006/GB-hour on x86"
        ),
        "{summary}"
    );
    assert!(summary.contains("Spot $0.015/vCPU-hour and $0.0016/GB-hour on x86"));

    // What was asked: Fargate's products in the run's region, page by page.
    let asked = price_list_requests(&price_list);
    assert_eq!(asked.len(), 2, "{asked:?}");
    for request in &asked {
        assert_eq!(request["ServiceCode"], "AmazonECS");
        assert_eq!(request["FormatVersion"], "aws_v1");
        assert_eq!(
            request["Filters"],
            json!([
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
                {"Type": "CONTAINS", "Field": "usagetype", "Value": "Fargate"}
            ])
        );
    }
    assert_eq!(asked[0].get("NextToken"), None);
    assert_eq!(asked[1]["NextToken"], "page-2");
}
