//! `ecs-loadtest generate` against a server on 127.0.0.1, and the action running it. Every load
//! is bounded: a few hundred to a few thousand requests over a few seconds.

use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use serde_json::{Value, json};

use crate::common::{ActionRun, Harness};
use crate::server::{Behaviour, Canned, Server};

fn generate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-loadtest"));
    command.arg("generate").args(args);
    for name in [
        "TARGET_URL",
        "RATE",
        "VUS",
        "DURATION",
        "STAGES",
        "START_AT",
        "TASK_INDEX",
        "TASK_COUNT",
        "METHOD",
        "HEADERS",
        "BODY",
        "REQUEST_TIMEOUT",
        "HTTP_VERSION",
        "HTTP2_STREAMS",
        "SUCCESS_STATUSES",
        "INSECURE_TLS",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("running ecs-loadtest generate");
    assert!(
        output.status.success(),
        "generate failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The result the generator printed, its chunks put together.
fn result_of(output: &Output) -> Value {
    result_in(stdout(output).lines())
}

/// The result in a generator's output lines, its chunks put together.
pub fn result_in<'a>(lines: impl IntoIterator<Item = &'a str>) -> Value {
    let lines: Vec<&str> = lines.into_iter().collect();
    let mut pieces: Vec<(usize, String)> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("ECS_LOADTEST_RESULT_CHUNK "))
        .map(|rest| {
            let parts: Vec<&str> = rest.splitn(4, ' ').collect();
            (parts[1].parse().unwrap(), parts[3].to_string())
        })
        .collect();
    assert!(!pieces.is_empty(), "no result chunks in {lines:?}");
    pieces.sort();
    let json: String = pieces.into_iter().map(|(_, piece)| piece).collect();
    serde_json::from_str(&json).unwrap()
}

pub fn histogram(encoded: &Value) -> Histogram<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_str().unwrap())
        .unwrap();
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap()
}

fn p99_ms(result: &Value) -> f64 {
    histogram(&result["latency_hdr"]).value_at_quantile(0.99) as f64 / 1000.0
}

#[test]
fn the_open_model_reports_a_stall_that_the_closed_model_hides() {
    // The server stalls every request for 1 s once the 300th has arrived.
    let stalled = || Behaviour {
        stall_at_request: Some(300),
        stall: Duration::from_secs(1),
        ..Default::default()
    };
    let server = Server::start(stalled());
    let open = result_of(&generate(
        &[
            "--target-url",
            &server.url(),
            "--rate",
            "200",
            "--vus",
            "50",
            "--duration",
            "4s",
        ],
        &[],
    ));
    let server = Server::start(stalled());
    let closed = result_of(&generate(
        &[
            "--target-url",
            &server.url(),
            "--vus",
            "10",
            "--duration",
            "4s",
        ],
        &[],
    ));
    // Open: the requests due during the stall waited for it, measured from their schedule.
    assert!(p99_ms(&open) >= 500.0, "open p99 {} ms", p99_ms(&open));
    assert!(open["dropped"].as_u64().unwrap() > 0, "{open}");
    // Closed: only the 10 requests in flight saw the stall, among thousands.
    assert!(closed["requests"].as_u64().unwrap() > 2000, "{closed}");
    assert!(p99_ms(&closed) < 100.0, "closed p99 {} ms", p99_ms(&closed));
}

#[test]
fn the_rate_is_held_overall_and_per_stage() {
    let server = Server::start(Behaviour::default());
    let result = result_of(&generate(
        &[
            "--target-url",
            &server.url(),
            "--rate",
            "200",
            "--duration",
            "5s",
        ],
        &[],
    ));
    let received = server.requests();
    assert!((990..=1010).contains(&received), "{received} requests");
    assert_eq!(result["requests"], received);
    assert_eq!(result["dropped"], 0);

    // 100 requests ramping up over 2 s, 200 at 100/s, 100 ramping down.
    let server = Server::start(Behaviour::default());
    let result = result_of(&generate(
        &["--target-url", &server.url()],
        &[("STAGES", "2s:100, 2s:100, 2s:0")],
    ));
    let points: Vec<u64> = result["series"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["requests"].as_u64().unwrap())
        .collect();
    let stage = |range: std::ops::Range<usize>| points[range].iter().sum::<u64>() as f64;
    for (got, expected) in [
        (stage(0..2), 100.0),
        (stage(2..4), 200.0),
        (stage(4..6), 100.0),
    ] {
        assert!((got - expected).abs() <= expected * 0.02, "{points:?}");
    }
    let received = server.requests() as f64;
    assert!((received - 400.0).abs() <= 8.0, "{received}");
}

#[test]
fn a_rate_the_virtual_users_cannot_carry_is_reported_as_dropped() {
    let server = Server::start(Behaviour {
        delay: Duration::from_millis(50),
        ..Default::default()
    });
    let result = result_of(&generate(
        &[
            "--target-url",
            &server.url(),
            "--rate",
            "200",
            "--vus",
            "2",
            "--duration",
            "3s",
        ],
        &[],
    ));
    let (sent, dropped) = (
        result["requests"].as_u64().unwrap(),
        result["dropped"].as_u64().unwrap(),
    );
    // Two slots at 50 ms each carry about 40 requests a second of the 200 asked.
    assert!(
        sent < 150 && dropped > 400,
        "{sent} sent, {dropped} dropped"
    );
    assert_eq!(sent + dropped, 600);
    assert_eq!(server.requests(), sent);
}

/// The server's URL (https when it serves TLS) and the certificate a client must trust for it.
fn url_and_trust(server: &Server) -> (String, Option<String>) {
    match &server.certificate {
        Some(path) => (server.tls_url(), Some(path.to_str().unwrap().to_string())),
        None => (server.url(), None),
    }
}

/// `SSL_CERT_FILE` naming `certificate`, when there is one.
fn trusting(certificate: &Option<String>) -> Vec<(&str, &str)> {
    certificate
        .iter()
        .map(|path| ("SSL_CERT_FILE", path.as_str()))
        .collect()
}

/// The generator's worker threads for this many virtual users: one a core, at most one a user.
fn worker_threads(vus: u64) -> u64 {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get() as u64)
        .min(vus)
}

/// The open model's promises hold on every protocol, as over plain HTTP/1.1: every request due
/// is sent or counted as dropped, the server saw exactly those sent, latency through a stall runs
/// from the schedule, and HTTP/2's virtual users share `http2-streams` a connection.
#[test]
fn every_protocol_keeps_the_schedule_the_counts_and_the_stall() {
    // (case, TLS, http-version, http2-streams, connections the server should see). 40 virtual
    // users: each worker thread groups its own share, and 40 splits into whole groups of 10 on 1,
    // 2 or 4 threads.
    for (case, tls, version, streams, connections) in [
        ("HTTP/1.1", false, "1.1", None, 40),
        ("h2c, 10 streams a connection", false, "2", Some("10"), 4),
        ("HTTP/1.1 over TLS", true, "1.1", None, 40),
        ("HTTP/2 over TLS", true, "2", None, worker_threads(40)),
    ] {
        let server = Server::start(Behaviour {
            stall_at_request: Some(300),
            stall: Duration::from_secs(1),
            tls,
            ..Default::default()
        });
        let (url, certificate) = url_and_trust(&server);
        let mut args = vec![
            "--target-url",
            &url,
            "--rate",
            "200",
            "--vus",
            "40",
            "--duration",
            "4s",
            "--http-version",
            version,
        ];
        if let Some(streams) = streams {
            args.extend(["--http2-streams", streams]);
        }
        let env = trusting(&certificate);
        let result = result_of(&generate(&args, &env));
        let (sent, dropped) = (
            result["requests"].as_u64().unwrap(),
            result["dropped"].as_u64().unwrap(),
        );
        assert_eq!(sent + dropped, 800, "{case}: {result}");
        assert!(dropped > 0, "{case}: nothing dropped through the stall");
        assert_eq!(result["errors"], 0, "{case}: {result}");
        assert_eq!(server.requests(), sent, "{case}");
        assert!(
            p99_ms(&result) >= 500.0,
            "{case}: p99 {} ms",
            p99_ms(&result)
        );
        let http2 = if version == "2" { sent } else { 0 };
        assert_eq!(server.seen.http2.load(Ordering::SeqCst), http2, "{case}");
        assert_eq!(
            server.seen.connections.load(Ordering::SeqCst),
            connections,
            "{case}"
        );
    }
}

/// A server that closes its HTTP/2 connections after a number of requests (nginx does after
/// `keepalive_requests`, 1,000 by default) with a GOAWAY costs no request: one the closing
/// connection would not carry goes out again on a new one, and none is sent twice.
#[test]
fn a_goaway_after_some_requests_costs_no_request() {
    for (case, tls) in [("h2c", false), ("HTTP/2 over TLS", true)] {
        let server = Server::start(Behaviour {
            requests_per_connection: Some(25),
            tls,
            ..Default::default()
        });
        let (url, certificate) = url_and_trust(&server);
        let env = trusting(&certificate);
        let result = result_of(&generate(
            &[
                "--target-url",
                &url,
                "--vus",
                "8",
                "--duration",
                "2s",
                "--http-version",
                "2",
                "--http2-streams",
                "4",
            ],
            &env,
        ));
        let requests = result["requests"].as_u64().unwrap();
        assert_eq!(result["errors"], 0, "{case}: {result}");
        assert_eq!(server.requests(), requests, "{case}");
        // Each connection carried its 25 and at most the 3 other streams in flight then.
        let connections = server.seen.connections.load(Ordering::SeqCst);
        assert!(
            connections > 2 && connections * 28 >= requests,
            "{case}: {requests} requests on {connections} connections"
        );
    }
}

/// `http-version: auto` against a server whose ALPN says HTTP/1.1: every virtual user gets a
/// connection of its own, and once the first has learnt that, the others connect together, not
/// one after another behind the HTTP/2 group's lock.
#[test]
fn auto_against_an_http1_server_connects_every_virtual_user_at_once() {
    let server = Server::start(Behaviour {
        tls: true,
        http1_only: true,
        handshake_delay: Duration::from_millis(200),
        ..Default::default()
    });
    let (url, certificate) = url_and_trust(&server);
    let result = result_of(&generate(
        &["--target-url", &url, "--vus", "40", "--duration", "2s"],
        &trusting(&certificate),
    ));
    assert_eq!(result["errors"], 0, "{result}");
    assert_eq!(server.seen.http2.load(Ordering::SeqCst), 0);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 40);
    // One a worker thread first, then the rest at once (one after another, it would stay at the
    // worker threads' count).
    let at_once = server.seen.most_handshakes_at_once.load(Ordering::SeqCst);
    assert!(
        at_once > worker_threads(40) + 2,
        "{at_once} handshakes at once"
    );
}

/// Over TLS a worker's first handshake goes alone and the others follow it together: rustls then
/// offers every later connection the key exchange the server chose, not the larger post-quantum
/// hybrid and X25519 both.
#[test]
fn tls_connections_follow_their_workers_first_handshake_together() {
    let server = Server::start(Behaviour {
        tls: true,
        handshake_delay: Duration::from_millis(200),
        ..Default::default()
    });
    let (url, certificate) = url_and_trust(&server);
    let result = result_of(&generate(
        &[
            "--target-url",
            &url,
            "--vus",
            "40",
            "--duration",
            "2s",
            "--http-version",
            "1.1",
        ],
        &trusting(&certificate),
    ));
    assert_eq!(result["errors"], 0, "{result}");
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 40);
    let workers = worker_threads(40);
    let at_once = server.seen.most_handshakes_at_once.load(Ordering::SeqCst);
    assert!(
        at_once > workers + 2 && at_once <= 40 - workers,
        "{at_once} handshakes at once, {workers} worker threads"
    );
}

#[test]
fn http2_and_tls_with_a_trusted_self_signed_certificate() {
    let server = Server::start(Behaviour {
        tls: true,
        ..Default::default()
    });
    let certificate = server.certificate.clone().unwrap();
    let certificate = certificate.to_str().unwrap();
    for version in ["2", "auto"] {
        let result = result_of(&generate(
            &[
                "--target-url",
                &server.tls_url(),
                "--vus",
                "4",
                "--duration",
                "1s",
            ],
            &[("SSL_CERT_FILE", certificate), ("HTTP_VERSION", version)],
        ));
        assert_eq!(result["errors"], 0, "{version}: {result}");
        assert!(result["requests"].as_u64().unwrap() > 10, "{result}");
    }
    // Both runs spoke HTTP/2: by ALPN.
    assert_eq!(server.seen.http2.load(Ordering::SeqCst), server.requests());
    // HTTP/1.1 on request, and an untrusted certificate is a TLS error, not a crash.
    let result = result_of(&generate(
        &[
            "--target-url",
            &server.tls_url(),
            "--vus",
            "2",
            "--duration",
            "1s",
            "--http-version",
            "1.1",
        ],
        &[("SSL_CERT_FILE", certificate)],
    ));
    assert_eq!(result["errors"], 0, "{result}");
    let untrusted = result_of(&generate(
        &[
            "--target-url",
            &server.tls_url(),
            "--rate",
            "5",
            "--duration",
            "1s",
        ],
        &[],
    ));
    assert_eq!(
        untrusted["error_classes"]["tls"], untrusted["requests"],
        "{untrusted}"
    );
}

#[test]
fn bad_generator_inputs_exit_2_and_send_nothing() {
    let output = Command::new(env!("CARGO_BIN_EXE_ecs-loadtest"))
        .args([
            "generate",
            "--target-url",
            "ftp://x/",
            "--rate",
            "0",
            "--duration",
            "5 minutes",
        ])
        .env("STAGES", "")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    for input in ["target-url", "rate", "duration"] {
        assert!(text.contains(&format!("input `{input}`")), "{text}");
    }
}

#[test]
fn the_action_merges_three_generator_runs_as_one_histogram() {
    let server = Server::start(Behaviour {
        delay: Duration::from_millis(2),
        ..Default::default()
    });
    let url = server.url();
    let runs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|index| {
                let url = url.clone();
                scope.spawn(move || {
                    let index = index.to_string();
                    generate(
                        &[],
                        &[
                            ("TARGET_URL", &url),
                            ("RATE", "100"),
                            ("DURATION", "2s"),
                            ("TASK_INDEX", &index),
                            ("TASK_COUNT", "3"),
                        ],
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let mut all = Histogram::<u64>::new(3).unwrap();
    for run in &runs {
        all.add(histogram(&result_of(run)["latency_hdr"])).unwrap();
    }

    // Each task prints what one generator run printed: its chunk lines reach the action through
    // CloudWatch Logs and are put back together there.
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    let mut tasks = serde_json::Map::new();
    for (index, run) in runs.iter().enumerate() {
        let lines: Vec<String> = stdout(run).lines().map(str::to_string).collect();
        tasks.insert(index.to_string(), json!({"logs": {"lines": lines}}));
    }
    harness.script("load", json!({}), Value::Object(tasks));
    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "3")]).run();
    run.assert_code(0);
    let results: Value = serde_json::from_str(run.output("results")).unwrap();
    let merged = &results["merged"];
    assert_eq!(merged["tasks_reporting"], 3);
    assert_eq!(merged["requests"], all.len());
    assert_eq!(merged["requests"], server.requests());
    let latency = &merged["latency"];
    for (name, quantile) in [("p50_us", 0.5), ("p95_us", 0.95), ("p99_us", 0.99)] {
        assert_eq!(
            latency[name],
            all.value_at_quantile(quantile) as f64,
            "{name}"
        );
    }
    assert_eq!(latency["max_us"], all.max() as f64);
    let series_requests: u64 = merged["series"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(series_requests, all.len());
}

#[test]
fn the_action_puts_chunked_and_driver_split_results_back_together() {
    let padding = "x".repeat(40_000);
    let json = |requests: u64| {
        format!(
            r#"{{"v":1,"requests":{requests},"errors":0,"duration_ms":1000,"status":{{"200":{requests}}},"note":"{padding}"}}"#
        )
    };
    // Task 0: numbered chunks. Task 1: one 40 KiB line, cut by the log driver into 16 KiB pieces.
    let chunked: Vec<String> = json(5)
        .as_bytes()
        .chunks(8000)
        .enumerate()
        .map(|(index, piece)| {
            format!(
                "ECS_LOADTEST_RESULT_CHUNK t0 {} 6 {}",
                index + 1,
                std::str::from_utf8(piece).unwrap()
            )
        })
        .collect();
    assert_eq!(chunked.len(), 6);
    let line = format!("ECS_LOADTEST_RESULT {}", json(7));
    let split: Vec<String> = line
        .as_bytes()
        .chunks(16 * 1024)
        .map(|piece| std::str::from_utf8(piece).unwrap().to_string())
        .collect();
    assert_eq!(split.len(), 3);

    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({}),
        json!({"0": {"logs": {"lines": chunked}}, "1": {"logs": {"lines": split}}}),
    );
    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "2")]).run();
    run.assert_code(0);
    let results: Value = serde_json::from_str(run.output("results")).unwrap();
    assert_eq!(results["merged"]["tasks_reporting"], 2, "{}", run.stdout);
    assert_eq!(results["merged"]["requests"], 12);
}

#[test]
fn without_image_or_dockerfile_the_tasks_run_generate_from_one_start_time() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({}), json!({}));
    let empty = tempfile::tempdir().unwrap();
    let context = empty.path().to_str().unwrap();
    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[
            ("image", ""),
            ("context", context),
            ("generator-image", "ghcr.io/acme/ecs-loadtest:v1"),
            ("target-url", "https://staging.example.com/"),
            ("rate", "30"),
            ("duration", "1m"),
            ("task-count", "3"),
            ("start-delay", "45s"),
        ],
    )
    .run();
    // The scripted tasks print no result: the run says so, but it ran.
    run.assert_stdout_has("none of 3 tasks reported results");
    run.assert_stdout_has("START_AT is 45 s from now");
    assert_eq!(run.output("image"), "ghcr.io/acme/ecs-loadtest:v1");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 3);
    let start_at: Vec<String> = tasks
        .iter()
        .map(|task| {
            let container = &task["overrides"]["containerOverrides"][0];
            assert_eq!(container["command"], json!(["generate"]), "{task}");
            container["environment"]
                .as_array()
                .unwrap()
                .iter()
                .find(|pair| pair["name"] == "START_AT")
                .map(|pair| pair["value"].as_str().unwrap().to_string())
                .unwrap()
        })
        .collect();
    assert!(start_at.iter().all(|at| at == &start_at[0]), "{start_at:?}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let at: u64 = start_at[0].parse().unwrap();
    assert!(at > now_ms && at < now_ms + 45_000, "{at} against {now_ms}");
}

/// Every way an HTTP/1.1 answer may end, as a bare server writes it (in pieces where `|` is).
const FRAMINGS: [&str; 8] = [
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe|llo",
    "HTTP/1.1 100 Continue\r\n\r\n|HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhe|llo\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n|0\r\nx-trailer: yes\r\n\r\n",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the| end",
    "HTTP/1.1 202 Accepted\r\ncontent-length: 3\r\nCONTENT-LENGTH: 3\r\n\r\nabc",
];

#[test]
fn http1_answers_of_every_framing_are_read_whole() {
    let server = Canned::start(FRAMINGS.to_vec(), None);
    let result = result_of(&generate(
        &[
            "--target-url",
            &server.url(),
            "--vus",
            "3",
            "--duration",
            "1s",
            "--request-timeout",
            "2s",
        ],
        &[],
    ));
    let received = server.received.lock().unwrap().len() as u64;
    let requests = result["requests"].as_u64().unwrap();
    assert!(requests >= 8 * 5, "{result}");
    // Every request sent was answered and counted, and only the 503s are errors.
    assert_eq!(requests, received, "{result}");
    let status = &result["status"];
    let count = |code: &str| status[code].as_u64().unwrap_or(0);
    assert_eq!(result["errors"], count("503"), "{result}");
    assert_eq!(
        result["error_classes"],
        json!({ "status": count("503") }),
        "{result}"
    );
    for code in ["200", "201", "202", "204", "304", "503"] {
        assert!(count(code) > 0, "no {code}: {result}");
    }
    // An answer that ends its connection costs one: the others are kept alive.
    let closing = requests.div_ceil(8) * 2;
    let connections = server.connections.load(Ordering::SeqCst);
    assert!(
        connections <= closing + 3 && connections >= closing - 2,
        "{connections} connections for {requests} requests"
    );
}

#[test]
fn http1_requests_are_sent_as_given_and_connections_the_server_closed_are_not_reused() {
    let server = Canned::start(
        vec!["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        Some(Duration::from_millis(100)),
    );
    let result = result_of(&generate(
        &[
            "--target-url",
            &format!("{}?q=1", server.url()),
            "--rate",
            "4",
            "--vus",
            "1",
            "--duration",
            "2s",
            "--method",
            "post",
            "--headers",
            "X-Test: 1\nAccept: */*",
            "--body",
            "hello",
        ],
        &[],
    ));
    // Each request came 250 ms after the last, on a connection the server had closed after 100
    // ms: none was sent on it.
    assert_eq!(result["requests"], 8, "{result}");
    assert_eq!(result["errors"], 0, "{result}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 8);
    let expected = format!(
        "POST /load?q=1 HTTP/1.1\r\nhost: {}\r\nx-test: 1\r\naccept: */*\r\ncontent-length: 5\r\n\r\nhello",
        server.address
    );
    assert_eq!(*server.received.lock().unwrap(), vec![expected; 8]);

    // A HEAD answer's Content-Length announces a body that is not sent.
    let server = Canned::start(
        vec!["HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"],
        None,
    );
    let result = result_of(&generate(
        &[
            "--target-url",
            &server.url(),
            "--vus",
            "1",
            "--duration",
            "1s",
            "--method",
            "HEAD",
            "--request-timeout",
            "1s",
        ],
        &[],
    ));
    assert_eq!(result["errors"], 0, "{result}");
    assert!(result["requests"].as_u64().unwrap() > 20, "{result}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

/// A self-signed certificate made the usual way (`openssl req -x509`, which marks it a CA) is
/// refused by rustls even when trusted: every attempt is a `tls` error that says why, none
/// reaches the server, a virtual user retries at a bounded pace rather than thousands of times a
/// second, and `insecure-tls` gets through.
#[test]
fn a_certificate_marked_a_ca_is_a_tls_error_that_says_why_and_insecure_tls_gets_through() {
    let server = Server::start(Behaviour {
        tls: true,
        tls_certificate_is_a_ca: true,
        ..Default::default()
    });
    let certificate = server.certificate.clone().unwrap();
    let certificate = certificate.to_str().unwrap();
    let args = [
        "--target-url",
        &server.tls_url(),
        "--vus",
        "4",
        "--duration",
        "2s",
    ];
    let refused = result_of(&generate(&args, &[("SSL_CERT_FILE", certificate)]));
    let attempts = refused["requests"].as_u64().unwrap();
    assert_eq!(refused["error_classes"]["tls"], attempts, "{refused}");
    assert_eq!(server.requests(), 0);
    // 4 users, each waiting 0.1, 0.2, 0.4, 0.8 s … between attempts: a handful in 2 s.
    assert!(
        (4..=40).contains(&attempts),
        "{attempts} attempts\n{refused}"
    );
    let examples = refused["error_examples"].as_array().unwrap();
    assert_eq!(examples.len(), 1, "{refused}");
    assert_eq!(examples[0]["class"], "tls");
    assert_eq!(examples[0]["count"], attempts);
    let said = examples[0]["message"].as_str().unwrap();
    assert!(
        said.contains("a CA certificate was used as the server's (CaUsedAsEndEntity)"),
        "{said}"
    );

    let insecure = result_of(&generate(
        &args,
        &[("SSL_CERT_FILE", certificate), ("INSECURE_TLS", "true")],
    ));
    assert_eq!(insecure["errors"], 0, "{insecure}");
    assert_eq!(insecure["requests"], server.requests(), "{insecure}");
    assert!(server.requests() > 10, "{insecure}");
}
