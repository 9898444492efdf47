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
    let shares = crate::common::task_shares(&results);
    assert_eq!(shares.iter().sum::<u64>(), sent, "{shares:?}");
    // 5 a second over 3 tasks is 2, 2 and 1; 7 arrivals are 3, 2 and 2.
    assert_eq!(
        shares,
        [2 * (6 + 3), 2 * (6 + 2), 2 * (3 + 2)],
        "{results:#}"
    );
    crate::common::assert_request_names(&results, &["home", "cart"]);
    crate::common::assert_the_stall_shows(&results);
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

/// An Artillery image such as `artilleryio/artillery` (none can be pulled here): this machine's
/// Node.js and the test setup's `.artillery`, at the same paths, on an empty base. Without the
/// packages an HTTP test never loads (Datadog's and OpenTelemetry's publishers, Playwright's
/// engine: 200 of its 460 MB), so that building and pushing it stays short.
fn artillery_image() -> &'static str {
    crate::common::scratch_image(
        "ecs-loadtest-test/artillery:npm",
        r#"
node="$(readlink -f "$(command -v node)")"
copy "$node"
copy /usr/bin/env
modules="${1#/}/.artillery/node_modules"
tar -rf "$archive" -C / --exclude="$modules/@datadog" --exclude="$modules/@opentelemetry" \
  --exclude="$modules/playwright-core" --exclude="$modules/playwright" \
  --exclude="$modules/@playwright" "${1#/}/.artillery"
[ "$node" = /usr/bin/node ] || ln -s "$node" "$root/usr/bin/node"
ln -s "$1/.artillery/node_modules/.bin/artillery" "$root/usr/local/bin/artillery"
"#,
        "artillery",
    )
}

/// On Fargate a scenario's tasks run an image made for it, as a k6 script's do: the Artillery
/// image, this action's binary and the scenario's folder, tagged by content; Artillery reads the
/// scenario in it before the push, and each task runs the wrapper, which splits the phases.
#[test]
fn on_fargate_an_artillery_scenario_runs_in_an_image_made_for_it_and_its_tasks_merge_exactly() {
    let harness = crate::common::Harness::start();
    let setup = harness.setup_with_repository("load", "tester", "tester");
    let server = Server::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("load")).unwrap();
    let scenario = format!("# {}\n{}", crate::common::unique_tag(), shop(&server.url()));
    std::fs::write(dir.path().join("load/scenario.yml"), &scenario).unwrap();

    // What each task of the image prints: the wrapper run here with that task's index.
    let lines: Vec<Vec<String>> = (0..2)
        .map(|index| {
            crate::common::wrapped_task_lines(
                dir.path(),
                &["artillery", "--", "artillery", "run", "load/scenario.yml"],
                &[
                    ("PATH", path_with_artillery()),
                    ("TASK_INDEX", index.to_string()),
                    ("TASK_COUNT", "2".to_string()),
                ],
            )
        })
        .collect();
    let sent = server.requests();
    assert_eq!(sent, 44, "the phases, split and not multiplied");
    harness.log_per_task("load", &lines);
    let run = || {
        ActionRun::for_setup(
            &harness,
            &setup,
            &[
                ("image", ""),
                ("tester", "artillery"),
                ("script", "load/scenario.yml"),
                ("task-count", "2"),
                ("ecr-repository", "tester"),
                ("tester-image", artillery_image()),
                ("generator-image", crate::action::action_image()),
            ],
        )
        .in_dir(dir.path())
        .run()
    };

    let first = run();
    first.assert_code(0);
    first
        .assert_stdout_has("Pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/tester:artillery-");
    for task in harness.tasks("load") {
        assert_eq!(
            task["overrides"]["containerOverrides"][0]["command"],
            serde_json::json!([
                "wrap",
                "artillery",
                "--",
                "artillery",
                "run",
                "load/scenario.yml"
            ]),
            "{task:#}"
        );
    }
    let results = first.results();
    assert_eq!(results["merged"]["requests"], sent, "{results:#}");
    assert_eq!(results["merged"]["tasks_reporting"], 2, "{results:#}");

    // Artillery cannot read the scenario in the image: nothing pushed, no task.
    std::fs::write(
        dir.path().join("load/scenario.yml"),
        scenario.replace("    - duration: 2\n", "    - duration: 2\n   x\n"),
    )
    .unwrap();
    let refused = run();
    assert_ne!(refused.code(), 0, "{refused}");
    refused.assert_stdout_has("Artillery refused the script load/scenario.yml");
    assert!(!refused.stdout.contains("Pushed"), "{refused}");
    assert_eq!(
        harness.tasks("load").len(),
        2,
        "no second run's task started"
    );
}
