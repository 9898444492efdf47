//! Artillery scenarios, run unchanged on several tasks with real Artillery
//! (`.artillery/node_modules/.bin/artillery`, installed by scripts/setup-test-env.sh) on the
//! local backend, against the project's loopback server.

use std::path::Path;
use std::time::Duration;

use crate::common::ActionRun;
use crate::server::{Behaviour, Server};

fn path_with_artillery() -> String {
    crate::common::path_with(".artillery/node_modules/.bin", "artillery")
}

fn artillery_run(dir: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    let mut all = vec![
        ("backend", "local"),
        ("tester", "artillery"),
        ("script", "scenario.yml"),
    ];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all)
        .env("PATH", &path_with_artillery())
        .in_dir(dir)
}

fn workspace(scenario: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scenario.yml"), scenario).unwrap();
    dir
}

/// Two phases: 5 arrivals a second for 3 s, then 7 arrivals spread over 2 s; each arrival makes
/// two requests. 22 arrivals, 44 requests, whatever the number of tasks.
fn shop(target: &str) -> String {
    format!(
        r#"config:
  target: "{target}"
  phases:
    - duration: 3
      arrivalRate: 5
    - duration: 2
      arrivalCount: 7
scenarios:
  - name: shopper
    flow:
      - get:
          url: "/"
          name: home
      - get:
          url: "/cart/1"
          name: cart
"#
    )
}

/// Every phase is split, not multiplied: three tasks send the script's 44 requests between them,
/// the server's count is the merged count, each name is a row, and a 1 s stall shows in the tail
/// as measured.
#[test]
fn an_artillery_scenario_on_three_tasks_sends_its_phases_once_and_merges_to_the_servers_count() {
    let server = Server::start(Behaviour {
        stall_at_request: Some(20),
        stall: Duration::from_secs(1),
        ..Behaviour::default()
    });
    let dir = workspace(&shop(&server.url()));
    let run = artillery_run(dir.path(), &[("task-count", "3")]).run();

    run.assert_code(0);
    run.assert_stdout_has("Each task runs artillery under `ecs-loadtest wrap artillery`");
    let sent = server.requests();
    let results = run.results();
    let merged = &results["merged"];
    assert_eq!(sent, 44, "the phases' arrivals, once\n{run}");
    assert_eq!(merged["requests"], sent, "{results:#}");
    let shares: Vec<u64> = results["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(shares.iter().sum::<u64>(), sent, "{shares:?}");
    // 5 a second over 3 tasks is 2, 2 and 1; 7 arrivals are 3, 2 and 2.
    assert_eq!(
        shares,
        [2 * (6 + 3), 2 * (6 + 2), 2 * (3 + 2)],
        "{results:#}"
    );
    let names: Vec<&str> = merged["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{results:#}");
    assert!(
        names.contains(&"home") && names.contains(&"cart"),
        "{names:?}"
    );
    let max_ms = merged["latency"]["max_us"].as_f64().unwrap() / 1000.0;
    assert!(
        (900.0..2500.0).contains(&max_ms),
        "max {max_ms} ms\n{results:#}"
    );
    assert_eq!(merged["errors"], 0, "{results:#}");
}

/// The scenario is read by Artillery before any task starts: one it cannot read sends nothing.
#[test]
fn an_artillery_scenario_that_does_not_parse_fails_before_any_task_naming_the_error() {
    let dir = workspace(
        "config:\n  target: http://127.0.0.1:9\n  phases:\n    - duration: 1\n     arrivalRate: 1\nscenarios: []\n",
    );
    let run = artillery_run(dir.path(), &[]).run();
    assert_ne!(run.code(), 0, "{run}");
    run.assert_stdout_has("Artillery refused the script scenario.yml");
    run.assert_stdout_has("bad indentation");
    assert!(!run.stdout.contains("Task 1/1"), "a task started\n{run}");
}

#[test]
fn a_yaml_script_needs_tester_artillery_and_its_load_comes_from_its_phases() {
    let dir = workspace(&shop("http://127.0.0.1:9"));
    let run = ActionRun::without_aws(&[("backend", "local"), ("script", "scenario.yml")])
        .env("PATH", &path_with_artillery())
        .in_dir(dir.path())
        .run();
    run.assert_code(2);
    run.assert_stdout_has("give `tester: artillery` too");

    let run = artillery_run(dir.path(), &[("vus", "10"), ("duration", "5s")]).run();
    run.assert_code(2);
    run.assert_stdout_has("an Artillery scenario's load is its `config.phases`");
}
