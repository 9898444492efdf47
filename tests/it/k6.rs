//! k6 scripts, run unchanged on several tasks with real k6 (`.venv/bin/k6`, installed by
//! scripts/setup-test-env.sh) on the local backend, against the project's loopback server.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{ActionRun, project_dir};
use crate::server::{Behaviour, Server};

/// The PATH with the test setup's k6 first.
fn path_with_k6() -> String {
    let k6 = project_dir().join(".venv/bin");
    assert!(
        k6.join("k6").is_file(),
        "no k6 in {}: run scripts/setup-test-env.sh",
        k6.display()
    );
    format!(
        "{}:{}",
        k6.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A script in a folder of its own, which is the run's working directory (the workspace).
fn workspace(script: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.js");
    std::fs::write(&path, script).unwrap();
    (dir, path)
}

fn k6_run(dir: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    let mut all = vec![("backend", "local"), ("script", "load.js")];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all)
        .env("PATH", &path_with_k6())
        .in_dir(dir)
}

const ARRIVAL_RATE: &str = r#"
import http from 'k6/http';
export const options = {
  scenarios: {
    load: { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '5s',
            preAllocatedVUs: 20 },
  },
};
export default function () {
  http.get(`${__ENV.BASE_URL}/home`, { tags: { name: 'home' } });
}
"#;

#[test]
fn a_script_on_four_tasks_sends_its_load_once_in_exact_shares_and_merges_to_the_servers_count() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(ARRIVAL_RATE);
    let base_url = format!("BASE_URL={}", server.url().trim_end_matches('/'));
    let run = k6_run(
        dir.path(),
        &[
            ("task-count", "4"),
            ("environment", &base_url),
            ("start-delay", "4s"),
        ],
    )
    .run();

    run.assert_code(0);
    let sent = server.requests();
    // 200 a second for 5 s, as one k6 would send it: k6 starts the first iteration at 0 s.
    assert!((990..=1010).contains(&sent), "the server saw {sent}\n{run}");
    let results = run.results();
    let merged = &results["merged"];
    assert_eq!(merged["tasks_reporting"], 4, "{results:#}");
    assert_eq!(merged["requests"], sent, "{results:#}");
    let shares: Vec<u64> = results["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(shares.iter().sum::<u64>(), sent, "{shares:?}");
    assert!(shares.iter().all(|share| *share > 0), "{shares:?}");
    // Paused until START_AT and resumed together.
    let skew = merged["start_skew_ms"].as_u64().unwrap();
    assert!(skew < 200, "start skew {skew} ms\n{run}");
    run.assert_stdout_has("execution segment 3/4:1");
}

#[test]
fn the_scripts_thresholds_are_judged_on_every_tasks_results_together() {
    let server = Server::start(Behaviour::default());
    let script = |thresholds: &str| {
        format!(
            r#"
import http from 'k6/http';
export const options = {{
  scenarios: {{ load: {{ executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s',
                          duration: '2s', preAllocatedVUs: 5 }} }},
  thresholds: {{ {thresholds} }},
}};
export default function () {{ http.get(__ENV.BASE_URL); }}
"#
        )
    };
    let base_url = format!("BASE_URL={}", server.url());
    let inputs = [("task-count", "2"), ("environment", base_url.as_str())];

    let (dir, _) = workspace(&script(
        "http_req_duration: ['p(95)<0.001'], 'http_req_duration{name:home}': ['p(95)<500']",
    ));
    let failing = k6_run(dir.path(), &inputs).run();
    failing.assert_code(99);
    failing.assert_stdout_has("threshold `http_req_duration: p(95)<0.001` failed");
    failing.assert_stdout_has(
        "the script's threshold `http_req_duration{name:home}: p(95)<500` is not applied",
    );
    let tasks = failing.results()["tasks"].clone();
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|task| task["exit_code"] == 0),
        "every task exits 0 while the merged threshold fails: {tasks:#}"
    );

    let (dir, _) = workspace(&script(
        "http_req_duration: ['p(95)<5000'], http_req_failed: ['rate<0.01'], http_reqs: ['count>=70']",
    ));
    let passing = k6_run(dir.path(), &inputs).run();
    passing.assert_code(0);
    let thresholds = passing.results()["thresholds"].clone();
    assert_eq!(thresholds.as_array().unwrap().len(), 3, "{thresholds:#}");
    assert!(
        thresholds
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["held"] == Value::Bool(true)),
        "{thresholds:#}"
    );
}

#[test]
fn a_script_k6_refuses_fails_before_any_load_naming_k6s_message() {
    let server = Server::start(Behaviour::default());
    let (dir, _) =
        workspace("import http from 'k6/http';\nexport default function () {\n  http.get(;\n}\n");
    let base_url = format!("BASE_URL={}", server.url());
    let run = k6_run(dir.path(), &[("environment", &base_url)]).run();

    assert_ne!(run.code(), 0, "{run}");
    run.assert_stdout_has("k6 refused the script load.js");
    assert_eq!(server.requests(), 0);
    assert!(!run.stdout.contains("Task 1/1"), "a task started\n{run}");
}

#[test]
fn request_names_and_checks_are_merged_exactly_across_tasks() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(
        r#"
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: { load: { executor: 'shared-iterations', vus: 4, iterations: 60, maxDuration: '30s' } },
  thresholds: { checks: ['rate>0.99'] },
};
export default function () {
  const home = http.get(`${__ENV.BASE_URL}/home`, { tags: { name: 'home' } });
  check(home, { 'home answers 200': (r) => r.status === 200 });
  http.get(`${__ENV.BASE_URL}/cart/${__VU}-${__ITER}`, { tags: { name: 'cart' } });
}
"#,
    );
    let base_url = format!("BASE_URL={}", server.url().trim_end_matches('/'));
    let run = k6_run(
        dir.path(),
        &[("task-count", "2"), ("environment", &base_url)],
    )
    .run();

    run.assert_code(0);
    assert_eq!(server.requests(), 120, "{run}");
    let merged = run.results()["merged"].clone();
    assert_eq!(merged["requests"], 120, "{merged:#}");
    let rows: Vec<(String, u64)> = merged["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap().to_string(),
                row["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("cart".to_string(), 60), ("home".to_string(), 60)],
        "{merged:#}"
    );
    assert_eq!(merged["checks"]["passed"], 60, "{merged:#}");
    assert_eq!(merged["checks"]["failed"], 0, "{merged:#}");
    run.assert_stdout_has("Checks: 60 of 60 passed (100.00%)");
    let thresholds = run.results()["thresholds"].clone();
    assert_eq!(thresholds[0]["rule"], "checks: rate>0.99", "{thresholds:#}");
    assert_eq!(thresholds[0]["held"], true, "{thresholds:#}");
}

#[test]
fn without_k6_on_the_path_a_script_is_refused_by_name_before_anything_starts() {
    let (dir, _) = workspace(ARRIVAL_RATE);
    let run = ActionRun::without_aws(&[("backend", "local"), ("script", "load.js")])
        .env("PATH", "/usr/bin:/bin")
        .in_dir(dir.path())
        .run();

    run.assert_code(2);
    run.assert_stdout_has("input `script`: got `load.js`; expected `k6` on the PATH");
}
