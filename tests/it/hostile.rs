//! What a tester, a target server or a result line sends is data: the action's log, summary and
//! HTML report show it without the runner obeying it or a browser running it, and a result line
//! that declares huge histograms is refused before it takes the runner's memory.

use base64::Engine;
use serde_json::json;

use crate::common::{ActionRun, Harness};

/// A request name and error messages the way a hostile tester or target server could send them.
const NAMES: [&str; 4] = [
    "::set-output name=passed::true",
    "@org/team ![pixel](https://evil.example/p.png)",
    "GET /a ##[group]forged group",
    "<img src=x onerror=alert(1)> [click](javascript:alert(1))",
];
const MESSAGE: &str = "502 Bad Gateway\r::add-mask::secret ##[error]forged error";

fn histogram_of(samples_us: &[u64]) -> String {
    let mut histogram =
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for sample in samples_us {
        histogram.record(*sample).unwrap();
    }
    let mut bytes = Vec::new();
    hdrhistogram::serialization::Serializer::serialize(
        &mut hdrhistogram::serialization::V2DeflateSerializer::new(),
        &histogram,
        &mut bytes,
    )
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What the runner would act on in `stdout`, as actions/runner reads it: commands are on until a
/// `::stop-commands::TOKEN` and off until `::TOKEN::`; a line is a command when its trimmed start
/// is `::` or it holds `##[` anywhere; .NET's reader also ends a line at a lone `\r`.
fn obeyed(stdout: &str) -> Vec<String> {
    let mut resume: Option<String> = None;
    let mut obeyed = Vec::new();
    for line in stdout.split(['\n', '\r']) {
        if let Some(token) = resume.as_deref() {
            if line == token {
                resume = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            resume = Some(format!("::{token}::"));
        } else if line.trim_start().starts_with("::") || line.contains("##[") {
            obeyed.push(line.to_string());
        }
    }
    obeyed
}

fn run_with_task_lines(
    cluster: &str,
    lines: Vec<String>,
    extra: &[(&str, &str)],
) -> (crate::common::Finished, Harness) {
    let harness = Harness::start();
    let setup = harness.setup(cluster, "tester", &[("tester", true)]);
    harness.log_per_task(cluster, &[lines]);
    let run = ActionRun::for_setup(&harness, &setup, extra).run();
    harness.assert_none_running(cluster);
    (run, harness)
}

#[test]
fn what_a_tester_and_a_target_say_reaches_the_log_summary_and_report_as_data() {
    let names: serde_json::Map<String, serde_json::Value> = NAMES
        .iter()
        .map(|name| {
            (
                name.to_string(),
                json!({"requests": 10, "errors": 1, "latency_hdr": histogram_of(&[1_000; 10])}),
            )
        })
        .collect();
    let result = json!({
        "v": 1, "requests": 40, "errors": 4, "duration_ms": 10_000,
        "status": {"200": 36, "502": 4},
        "latency_hdr": histogram_of(&[1_000; 40]),
        "error_classes": {"status": 3, "::error::class ##[x]": 1},
        "error_examples": [
            {"class": "status", "message": MESSAGE, "count": 3},
            {"class": "::error::class ##[x]", "message": "@org/team <script>alert(1)</script>", "count": 1}
        ],
        "names": names,
    });
    let report = tempfile::tempdir().unwrap();
    let html = report.path().join("report.html");
    let (run, _harness) = run_with_task_lines(
        "hostile",
        vec![
            "::warning::a tester's own line, fenced".to_string(),
            format!("ECS_LOADTEST_RESULT {result}"),
        ],
        &[("report-file", &html.display().to_string())],
    );
    // 4 errors of 40: no threshold, the task succeeded.
    run.assert_code(0);

    // The log: every name and message is shown, none is obeyed.
    let obeyed = obeyed(&run.stdout);
    for line in &obeyed {
        for word in [
            "set-output",
            "add-mask::secret",
            "forged",
            "::error::class",
            "fenced",
        ] {
            assert!(
                !line.contains(word),
                "the runner would obey {line:?}\n{run}"
            );
        }
    }
    for shown in [
        "set-output name=passed::true",
        "forged group",
        "502 Bad Gateway\\r::add-mask::secret",
    ] {
        assert!(run.stdout.contains(shown), "{shown:?} is not shown\n{run}");
    }

    // The summary: rendered as GitHub renders it, no image, no link out, no mention outside code.
    let summary = run.summary();
    let mut rendered = String::new();
    pulldown_cmark::html::push_html(
        &mut rendered,
        pulldown_cmark::Parser::new_ext(&summary, pulldown_cmark::Options::ENABLE_TABLES),
    );
    for refused in [
        "<img",
        "href=\"https://evil",
        "href=\"javascript",
        "<script",
    ] {
        assert!(!rendered.contains(refused), "{refused}: {rendered}");
    }
    let outside_code: String = rendered
        .split("<code>")
        .map(|part| part.split_once("</code>").map_or(part, |(_, rest)| rest))
        .collect();
    assert!(
        !outside_code.contains("@org"),
        "a mention outside code: {rendered}"
    );
    assert!(
        rendered.contains("<code>@org/team ![pixel](https://evil.example/p.png)</code>"),
        "{rendered}"
    );

    // The HTML report: offline, inert.
    let page = std::fs::read_to_string(&html).unwrap();
    for refused in [
        "<img",
        "<script",
        "href=\"javascript",
        "href=\"https://evil",
    ] {
        assert!(!page.contains(refused), "{refused}: {page}");
    }
}

/// A V2 histogram header (no counts) that declares these bounds, base64.
fn declared_histogram(significant_figures: u32, highest: u64) -> String {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0x1c84_9313u32.to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes()); // no counts
    bytes.extend_from_slice(&0u32.to_be_bytes()); // normalizing offset
    bytes.extend_from_slice(&significant_figures.to_be_bytes());
    bytes.extend_from_slice(&1u64.to_be_bytes());
    bytes.extend_from_slice(&highest.to_be_bytes());
    bytes.extend_from_slice(&1f64.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The peak resident memory of `child` so far, in KiB, read until it ends.
fn peak_rss_kib(child: &mut std::process::Child) -> u64 {
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            let high_water = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0);
            peak = peak.max(high_water);
        }
        if child.try_wait().unwrap().is_some() {
            return peak;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_result_line_that_declares_huge_histograms_is_refused_within_the_runners_memory() {
    // 200 request names (the most a result may hold), each declaring 5 significant figures up to
    // 2^62: 48 MiB a histogram if it were decoded, 9.4 GiB in all, from a line of 20 KB.
    let huge = declared_histogram(5, 1 << 62);
    let names: serde_json::Map<String, serde_json::Value> = (0..200)
        .map(|index| {
            (
                format!("name {index}"),
                json!({"requests": 1, "errors": 0, "latency_hdr": huge}),
            )
        })
        .collect();
    let line = format!(
        "ECS_LOADTEST_RESULT {}",
        json!({"v": 1, "requests": 200, "errors": 0, "duration_ms": 1000, "names": names})
    );
    assert!(line.len() < 32 * 1024, "{}", line.len());
    let harness = Harness::start();
    let setup = harness.setup("huge", "tester", &[("tester", true)]);
    harness.log_per_task("huge", &[vec![line]]);
    let (mut child, dir) = ActionRun::for_setup(&harness, &setup, &[]).spawn();
    let peak = peak_rss_kib(&mut child);
    let output = child.wait_with_output().unwrap();
    let run = crate::common::Finished::new(output, dir);
    harness.assert_none_running("huge");
    assert!(
        peak < 200 * 1024,
        "the runner's peak RSS was {} MiB\n{run}",
        peak / 1024
    );
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(
            "request name `name 0`: latency_hdr declares 5 significant figures; at most 3"
        ),
        "{run}"
    );
    assert!(
        said.contains("task 1/1 (") && said.contains("printed an invalid result line"),
        "the refusal names the task: {run}"
    );
    assert!(said.contains("none of 1 tasks reported results"), "{run}");
    eprintln!("the runner's peak RSS: {} MiB", peak / 1024);
}
