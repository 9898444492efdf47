//! Following the tasks' CloudWatch Logs: the real binary against moto, with log lines written by
//! the harness while the tasks run and after they stop.

use std::collections::BTreeMap;

use crate::common::{
    ActionRun, Harness, assert_exact_sequence, generated_numbers, group_of, log_groups,
};
use serde_json::json;

#[test]
fn lines_while_running_and_after_the_stop_are_printed_inert_and_the_result_is_captured() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({
            "run_seconds": 1,
            "logs": {
                "lines": ["starting", "::add-mask::secret", "::set-output name=passed::true", "::error::fake"],
                // The awslogs driver's last flush lands after ECS reports STOPPED.
                "after_stop": ["done", "ECS_LOADTEST_RESULT {\"v\":1,\"requests\":10,\"errors\":0,\"duration_ms\":1000}"],
                "after_stop_delay": 3
            }
        }),
        json!({}),
    );

    // The default quiet span, as for awslogs: the last lines come 3 s after the stop.
    let run = ActionRun::for_setup(&harness, &setup, &[])
        .env("ECS_LOADTEST_LOG_QUIET", "6s")
        .run();

    run.assert_code(0);
    let groups = log_groups(&run.stdout);
    assert_eq!(groups.len(), 1, "{run}");
    let lines: Vec<&String> = group_of(&groups, 1, 1)
        .iter()
        .filter(|line| !line.starts_with("Task "))
        .collect();
    assert_eq!(
        lines,
        [
            "starting",
            "::add-mask::secret",
            "::set-output name=passed::true",
            "::error::fake",
            "done",
            "ECS_LOADTEST_RESULT {\"v\":1,\"requests\":10,\"errors\":0,\"duration_ms\":1000}",
        ]
    );
    // The result line printed after the stop was read and counted.
    let results: serde_json::Value = serde_json::from_str(run.output("results")).unwrap();
    assert_eq!(results["merged"]["tasks_reporting"], 1);
    assert_eq!(results["merged"]["requests"], 10);
    // The tester could not set an output through its log.
    assert_eq!(run.output("passed"), "true");
    assert!(!run.outputs.contains_key("secret"));
}

#[test]
fn a_stream_that_appears_late_is_followed() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"run_seconds": 4, "logs": {"lines": ["late but here"], "stream_delay": 3}}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(0);
    let groups = log_groups(&run.stdout);
    assert!(
        group_of(&groups, 1, 1).contains(&"late but here".to_string()),
        "{run}"
    );
    assert!(!run.stdout.contains("::warning::reading the logs"), "{run}");
}

#[test]
fn five_tasks_of_20000_lines_each_print_every_line_once_in_order() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"run_seconds": 1, "logs": {"generate": {"count": 20000, "per_second": 8000}}}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "5")]).run();

    run.assert_code(0);
    let groups = log_groups(&run.stdout);
    assert_eq!(groups.len(), 5);
    for index in 0..5 {
        let numbers = generated_numbers(group_of(&groups, index + 1, 5), index);
        assert_exact_sequence(&numbers, 20000, &format!("task {index}"));
    }
    // Five streams are read with FilterLogEvents, many streams a request.
    let requests = harness.requests();
    assert!(requests.iter().any(|action| action == "FilterLogEvents"));
    assert!(!requests.iter().any(|action| action == "GetLogEvents"));
}

#[test]
fn interleaved_mode_prints_every_line_live_with_its_task() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"run_seconds": 1, "logs": {"generate": {"count": 300, "per_second": 300}}}),
        json!({}),
    );

    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[("task-count", "2"), ("log-mode", "interleaved")],
    )
    .run();

    run.assert_code(0);
    assert!(!run.stdout.contains("::group::"), "{run}");
    let mut per_task: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for line in run.stdout.lines() {
        for task in 1..=2 {
            if let Some(rest) = line.strip_prefix(&format!("[{task}/2] ")) {
                per_task.entry(task).or_default().push(rest.to_string());
            }
        }
    }
    for task in 1..=2 {
        let numbers = generated_numbers(&per_task[&task], task - 1);
        assert_exact_sequence(&numbers, 300, &format!("task {task}"));
    }
    // Printed with workflow commands off.
    let first_log = run
        .stdout
        .find("[1/2] ")
        .unwrap()
        .min(run.stdout.find("[2/2] ").unwrap());
    assert!(
        run.stdout[..first_log].contains("::stop-commands::"),
        "{run}"
    );
}

#[test]
fn throttled_log_requests_lose_and_repeat_nothing() {
    for (task_count, lines) in [(1, 6000), (5, 1500)] {
        let harness = Harness::start();
        let setup = harness.setup("load", "tester", &[("tester", true)]);
        harness.script(
            "load",
            json!({"run_seconds": 2, "logs": {"generate": {"count": lines, "per_second": 2000}}}),
            json!({}),
        );
        harness.throttle(0.3, &["GetLogEvents", "FilterLogEvents"]);

        let run =
            ActionRun::for_setup(&harness, &setup, &[("task-count", &task_count.to_string())])
                .run();

        run.assert_code(0);
        let groups = log_groups(&run.stdout);
        for index in 0..task_count {
            let numbers = generated_numbers(group_of(&groups, index + 1, task_count), index);
            assert_exact_sequence(
                &numbers,
                lines,
                &format!("{task_count} tasks, task {index}"),
            );
        }
        let throttled = harness.state("load")["throttled"].as_u64().unwrap();
        assert!(throttled > 0, "no request was throttled");
    }
}

#[test]
fn a_container_without_awslogs_gets_a_warning_and_the_run_goes_on() {
    let harness = Harness::start();
    let setup = harness.setup_with("load", "tester", json!([{"name": "tester", "logs": false}]));
    harness.script("load", json!({}), json!({}));

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(0);
    run.assert_stdout_has(
        "::warning::the tasks' logs cannot be followed: container `tester` has no logConfiguration",
    );
    assert!(!run.stdout.contains("::group::"), "{run}");
}

#[test]
fn without_a_temp_directory_or_a_writable_summary_every_line_and_the_verdict_arrive() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"run_seconds": 1, "logs": {"generate": {"count": 3000, "per_second": 3000}}}),
        json!({}),
    );
    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "3")])
        // An empty base image has no /tmp; a read-only one cannot be written.
        .env("TMPDIR", "/nonexistent/tmp");
    // A summary path that cannot be written (a directory).
    let summary = run.dir.path().join("summary-dir");
    std::fs::create_dir(&summary).unwrap();
    let run = run
        .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
        .run();

    run.assert_code(0);
    run.assert_stdout_has("::warning::task logs are held in memory (up to 64 MiB");
    run.assert_stdout_has("::warning::the job summary was not written: writing the job summary to");
    let groups = log_groups(&run.stdout);
    assert_eq!(groups.len(), 3);
    for index in 0..3 {
        let numbers = generated_numbers(group_of(&groups, index + 1, 3), index);
        assert_exact_sequence(&numbers, 3000, &format!("task {index}"));
    }
    let results: serde_json::Value = serde_json::from_str(run.output("results")).unwrap();
    assert_eq!(results["passed"], true);
    assert_eq!(run.output("passed"), "true");
}

#[test]
fn lines_that_become_searchable_behind_later_ones_are_found_by_the_final_check() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    // Five tasks: FilterLogEvents. Each writes 60 lines over 6 s; 4.5 s in, a batch arrives
    // stamped 4 s earlier, far behind every cursor by then. It holds the task's result line.
    let samples: Vec<u64> = (0..100).map(|i| 20_000 + i * 100).collect();
    let result = crate::common::result_line(100, 0, 5_000, &samples);
    harness.script(
        "load",
        json!({"run_seconds": 1, "logs": {
            "generate": {"count": 60, "per_second": 10},
            "late": {"after_seconds": 4.5, "backdate_seconds": 4,
                     "lines": ["a late line", result]},
        }}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "5")]).run();

    run.assert_code(0);
    let groups = log_groups(&run.stdout);
    for index in 0..5 {
        let group = group_of(&groups, index + 1, 5);
        let numbers = generated_numbers(group, index);
        assert_exact_sequence(&numbers, 60, &format!("task {index}"));
        let late = group.iter().filter(|line| *line == "a late line").count();
        assert_eq!(late, 1, "task {index}: {group:#?}");
        run.assert_stdout_has(&format!(
            "::warning::task {}: 2 log line(s) became searchable in CloudWatch after later ones; the final check found them",
            index + 1
        ));
    }
    let merged: serde_json::Value = serde_json::from_str(run.output("results")).unwrap();
    assert_eq!(merged["merged"]["requests"], 500, "{merged:#}");
}
