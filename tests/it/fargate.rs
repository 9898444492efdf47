//! The real binary against the moto server, run as the GitHub runner runs the action.

use std::process::Command;
use std::time::Duration;

use crate::common::{ActionRun, Finished, Harness, env_of, saved_state, signal, wait_until};
use serde_json::{Value, json};

fn tag_of(task: &Value, key: &str) -> Option<String> {
    task["tags"]
        .as_array()?
        .iter()
        .find(|tag| tag["key"] == key)
        .map(|tag| tag["value"].as_str().unwrap().to_string())
}

#[test]
fn a_successful_task_passes_with_its_outputs() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({}), json!({}));
    let setup_requests = harness.requests().len();

    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[
            ("target-url", "https://staging.example.com/"),
            ("vus", "10"),
            ("duration", "2m"),
            ("environment", "MODE=smoke"),
        ],
    )
    .run();

    run.assert_code(0);
    assert_eq!(run.output("passed"), "true");
    assert_eq!(run.output("exit-code"), "0");
    let revision = run.output("task-definition-arn");
    assert!(revision.ends_with("task-definition/tester:2"), "{revision}");
    run.assert_stdout_has("AWS account 123456789012 as arn:aws:sts::123456789012:user/moto");
    run.assert_stdout_has("Task 1/1 · ");
    run.assert_stdout_has("· succeeded · exit 0 ·");
    run.assert_stdout_has("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/load/tasks/");
    run.assert_stdout_has("Verdict: PASSED");

    let state = harness.state("load");
    let tasks = harness.assert_none_running("load");
    assert_eq!(run.task_arns(), [tasks[0]["arn"].as_str().unwrap()]);
    let task = &tasks[0];
    assert_eq!(task["taskDefinitionArn"], revision);
    assert_eq!(task["startedBy"], "ecs-loadtest-9876543210-1");
    assert_eq!(task["launchType"], "FARGATE");
    assert_eq!(
        env_of(task, "TARGET_URL").as_deref(),
        Some("https://staging.example.com/")
    );
    assert_eq!(env_of(task, "VUS").as_deref(), Some("10"));
    assert_eq!(env_of(task, "DURATION").as_deref(), Some("120"));
    assert_eq!(env_of(task, "MODE").as_deref(), Some("smoke"));
    assert_eq!(
        tag_of(task, "ecs-loadtest:repository").as_deref(),
        Some("acme/shop")
    );
    assert_eq!(
        tag_of(task, "ecs-loadtest:run-id").as_deref(),
        Some("9876543210")
    );
    assert_eq!(
        tag_of(task, "ecs-loadtest:commit").as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(
        task["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"],
        json!([setup.security_group])
    );

    // The new revision is the old one with the image replaced, tags kept.
    let definitions = state["task_definitions"].as_array().unwrap();
    let registered = definitions
        .iter()
        .find(|definition| definition["arn"] == revision)
        .unwrap();
    assert_eq!(
        registered["images"],
        json!(["123456789012.dkr.ecr.us-east-1.amazonaws.com/tester:abc1234"])
    );
    assert_eq!(
        registered["tags"],
        json!([{"key": "team", "value": "perf"}])
    );
    // The first AWS call checks the credentials.
    assert_eq!(
        state["requests"][setup_requests], "GetCallerIdentity",
        "{:?}",
        state["requests"]
    );
}

#[test]
fn the_container_exit_code_is_the_exit_status() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"containers": {"tester": {"exit_code": 3}}}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(3);
    assert_eq!(run.output("passed"), "false");
    assert_eq!(run.output("exit-code"), "3");
    run.assert_stdout_has("· failed · exit 3 · container `tester` exited with 3");
    run.assert_stdout_has("::error::task 1/1");
    harness.assert_none_running("load");
}

#[test]
fn a_missing_exit_code_is_a_failure() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"containers": {"tester": {"exit_code": null}}}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(1);
    assert_eq!(run.output("passed"), "false");
    run.assert_stdout_has("container `tester` has no exit code");
}

#[test]
fn out_of_memory_is_named() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({"containers": {"tester": {
            "exit_code": 137,
            "reason": "OutOfMemoryError: Container killed due to memory usage"
        }}}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(137);
    run.assert_stdout_has("· out of memory · exit 137 ·");
    run.assert_stdout_has("OutOfMemoryError: Container killed due to memory usage");
}

#[test]
fn an_image_that_cannot_be_pulled_fails_to_start() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({
            "start_failure": true,
            "stopped_reason": "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
        }),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(1);
    run.assert_stdout_has(
        "· failed to start · no exit code · CannotPullContainerError: pull image manifest",
    );
    // The task went from PROVISIONING/PENDING to STOPPED without RUNNING, which is normal.
    assert!(!run.stdout.contains("· RUNNING"), "{run}");
}

#[test]
fn runtask_failures_are_reported_and_started_tasks_stopped() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    // Tasks that start would run until stopped.
    harness.script(
        "load",
        json!({"run_seconds": null}),
        json!({"1": {"launch_failure": {"reason": "RESOURCE:MEMORY", "detail": "no Fargate capacity"}}}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "3")]).run();

    run.assert_code(1);
    run.assert_stdout_has(
        "RunTask refused task 2/3: arn:aws:ecs:us-east-1:123456789012:container-instance/",
    );
    run.assert_stdout_has("reason RESOURCE:MEMORY, detail no Fargate capacity");
    run.assert_stdout_has("1 of 3 tasks could not be started (2 started and will be stopped)");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 2);
    assert_eq!(run.task_arns().len(), 2);
    for task in &tasks {
        assert_eq!(task["stopCode"], "UserInitiated");
        assert!(
            task["stoppedReason"]
                .as_str()
                .unwrap()
                .contains("could not be started"),
            "{task:#}"
        );
    }
}

#[test]
fn one_failing_task_of_three_fails_the_run() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script(
        "load",
        json!({}),
        json!({"2": {"containers": {"tester": {"exit_code": 4}}, "run_seconds": 1.5}}),
    );

    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[("task-count", "3"), ("vus", "10"), ("rate", "7")],
    )
    .run();

    run.assert_code(4);
    run.assert_stdout_has("Verdict: FAILED (exit status 4) · none of 3 tasks reported results\n  - 1 of 3 tasks failed");
    // One line for each task as it ends.
    assert_eq!(
        run.stdout.matches("· succeeded · exit 0").count(),
        2,
        "{run}"
    );
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 3);
    let mut shares: Vec<(String, String, String)> = tasks
        .iter()
        .map(|task| {
            (
                env_of(task, "TASK_INDEX").unwrap(),
                env_of(task, "VUS").unwrap(),
                env_of(task, "RATE").unwrap(),
            )
        })
        .collect();
    shares.sort();
    let expected = [("0", "4", "3"), ("1", "3", "2"), ("2", "3", "2")];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(shares, expected);
    for task in &tasks {
        assert_eq!(env_of(task, "TASK_COUNT").as_deref(), Some("3"));
    }
}

#[test]
fn a_non_essential_sidecar_exiting_1_does_not_fail_the_run() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true), ("log-router", false)]);
    harness.script(
        "load",
        json!({"containers": {"log-router": {"exit_code": 1}}}),
        json!({}),
    );

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(0);
    run.assert_stdout_has("for container `tester`");
}

#[test]
fn sigterm_stops_every_task() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));

    let (child, dir) = ActionRun::for_setup(&harness, &setup, &[("task-count", "3")]).spawn();
    let running = wait_until(Duration::from_secs(30), || {
        let tasks = harness.tasks("load");
        tasks.len() == 3 && tasks.iter().all(|task| task["lastStatus"] == "RUNNING")
    });
    assert!(running, "tasks never ran: {:#?}", harness.tasks("load"));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let run = Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    assert_eq!(run.output("passed"), "false");
    run.assert_stdout_has("::error::cancelled by SIGTERM");
    run.assert_stdout_has("Stopped 3 of 3 task(s)");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 3);
    for task in &tasks {
        let reason = task["stoppedReason"].as_str().unwrap();
        assert!(
            reason.contains("cancelled by SIGTERM")
                && reason.contains("acme/shop run 9876543210 attempt 1"),
            "{reason}"
        );
    }
}

#[test]
fn the_timeout_stops_every_task_and_fails() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));

    // 0.05 minutes: three seconds.
    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[("task-count", "2"), ("timeout-minutes", "0.05")],
    )
    .run();

    run.assert_code(1);
    run.assert_stdout_has("timeout-minutes (0.05) reached");
    assert_eq!(
        run.stdout.matches("· timed out · no exit code").count(),
        2,
        "{run}"
    );
    run.assert_stdout_has("Verdict: FAILED (exit status 1)");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 2);
}

#[test]
fn invalid_inputs_exit_2_before_any_request() {
    let harness = Harness::start();
    let run = ActionRun::new(
        &harness,
        &[
            ("cluster", "load"),
            ("task-definition", "tester"),
            ("task-count", "ten"),
            ("duration", "5 minutes"),
            ("environment", "NOEQUALS"),
            ("timeout-minutes", "0"),
        ],
    )
    .run();

    run.assert_code(2);
    assert_eq!(run.output("passed"), "false");
    assert_eq!(run.output("exit-code"), "2");
    for expected in [
        "::error title=Invalid input::input `subnets` is required",
        "::error title=Invalid input::input `ecr-repository` is required: an ECR repository name, to push the built image to (or give `image` to run an image as it is)",
        "::error title=Invalid input::input `task-count`: got `ten`; expected a whole number from 1 to 1000",
        "::error title=Invalid input::input `duration`: got `5 minutes`",
        "::error title=Invalid input::input `environment`: got `<8 characters, not shown>`",
        "::error title=Invalid input::input `timeout-minutes`: got `0`",
    ] {
        run.assert_stdout_has(expected);
    }
    assert_eq!(harness.requests(), Vec::<String>::new());
}

#[test]
fn missing_credentials_are_one_clear_error() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);

    let run = ActionRun::for_setup(&harness, &setup, &[])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .run();

    run.assert_code(1);
    run.assert_stdout_has(
        "::error::checking AWS credentials with STS GetCallerIdentity: no usable AWS credentials",
    );
    assert!(harness.tasks("load").is_empty());
}

#[test]
fn an_ambiguous_container_is_an_error_that_lists_the_candidates() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true), ("proxy", true)]);

    let run = ActionRun::for_setup(&harness, &setup, &[]).run();

    run.assert_code(1);
    run.assert_stdout_has("has 2 essential containers (`tester`, `proxy`); set `container-name`");
    assert!(harness.tasks("load").is_empty());

    let run = ActionRun::for_setup(&harness, &setup, &[("container-name", "k6")]).run();
    run.assert_code(1);
    run.assert_stdout_has(
        "input `container-name`: got `k6`; the task definition has `tester`, `proxy`",
    );
}

#[test]
fn without_wait_the_run_starts_tasks_and_exits_0() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": 1}), json!({}));

    let run =
        ActionRun::for_setup(&harness, &setup, &[("wait", "false"), ("task-count", "2")]).run();

    run.assert_code(0);
    assert_eq!(run.task_arns().len(), 2);
    run.assert_stdout_has("not waiting for them (`wait: false`)");
    // The tasks go on without us and end by themselves.
    assert!(wait_until(Duration::from_secs(10), || harness
        .tasks("load")
        .iter()
        .all(|task| task["lastStatus"] == "STOPPED")));
}

#[test]
fn fargate_spot_uses_the_capacity_provider() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({}), json!({}));

    let run =
        ActionRun::for_setup(&harness, &setup, &[("capacity-provider", "FARGATE_SPOT")]).run();

    run.assert_code(0);
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks[0]["capacityProvider"], "FARGATE_SPOT");
    assert_eq!(tasks[0]["launchType"], "");
}

#[test]
fn cleanup_stops_what_a_killed_step_left_running_and_not_a_sibling_jobs_tasks() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));
    // Another job of the same workflow run (a matrix leg) testing in the same cluster: its task
    // has the same `startedBy`.
    let (mut sibling, _sibling_dir) = ActionRun::for_setup(&harness, &setup, &[]).spawn();
    assert!(wait_until(Duration::from_secs(30), || harness
        .tasks("load")
        .len()
        == 1));
    let sibling_task = harness.tasks("load")[0]["arn"].clone();
    // A task of another workflow run in the same cluster.
    let (mut other, _other_dir) = ActionRun::for_setup(&harness, &setup, &[])
        .env("GITHUB_RUN_ID", "1111")
        .spawn();

    let (mut child, dir) = ActionRun::for_setup(&harness, &setup, &[("task-count", "2")]).spawn();
    // The step's own two tasks running, found by the invocation it saved before starting them
    // (the other runs' tasks may come up at any moment around them).
    let own_running = |invocation: &str| {
        harness
            .tasks("load")
            .iter()
            .filter(|task| {
                task["lastStatus"] == "RUNNING"
                    && tag_of(task, "ecs-loadtest:invocation").as_deref() == Some(invocation)
            })
            .count()
    };
    assert!(wait_until(Duration::from_secs(30), || {
        saved_state(&dir)
            .get("invocation")
            .is_some_and(|invocation| own_running(invocation) == 2)
    }));
    // SIGKILL: the step gets no chance to stop its tasks.
    child.kill().unwrap();
    child.wait().unwrap();
    let state = saved_state(&dir);
    let invocation = &state["invocation"];
    assert_eq!(invocation.len(), 12, "{state:?}");

    // The post step gets what the main step saved.
    let cleanup = || {
        ActionRun::for_setup(&harness, &setup, &[("task-count", "2")])
            .env("STATE_invocation", invocation)
            .arg("cleanup")
    };
    let run = cleanup().run();

    run.assert_code(0);
    run.assert_stdout_has("::warning::cleanup stopped 2 of 2 task(s) that the step left running");
    let tasks = harness.tasks("load");
    let of_run = |task: &&Value| task["startedBy"] == "ecs-loadtest-9876543210-1";
    assert_eq!(tasks.iter().filter(of_run).count(), 3);
    for task in tasks.iter().filter(of_run) {
        if task["arn"] == sibling_task {
            assert_eq!(
                task["lastStatus"], "RUNNING",
                "a sibling job's task was stopped: {task:#}"
            );
            continue;
        }
        assert_eq!(task["lastStatus"], "STOPPED");
        assert!(
            task["stoppedReason"]
                .as_str()
                .unwrap()
                .starts_with("ecs-loadtest cleanup")
        );
    }
    let other_task = tasks.iter().find(|task| !of_run(task)).unwrap();
    assert_eq!(other_task["lastStatus"], "RUNNING");

    // A second cleanup finds nothing to do.
    let again = cleanup().run();
    again.assert_code(0);
    again.assert_stdout_has(&format!(
        "No task of this step (invocation {invocation}, started by `ecs-loadtest-9876543210-1`) is running"
    ));

    // A post step whose main step saved nothing (killed before it could) looks after the whole
    // run attempt: the sibling's task too, and still not the other run's.
    let unsaved = ActionRun::for_setup(&harness, &setup, &[])
        .arg("cleanup")
        .run();
    unsaved.assert_code(0);
    unsaved
        .assert_stdout_has("::warning::cleanup stopped 1 of 1 task(s) that the step left running");
    sibling.wait().unwrap();
    let tasks = harness.tasks("load");
    assert!(
        tasks
            .iter()
            .filter(of_run)
            .all(|task| task["lastStatus"] == "STOPPED")
    );
    let other_task = tasks.iter().find(|task| !of_run(task)).unwrap();
    assert_eq!(other_task["lastStatus"], "RUNNING");

    let kill = Command::new("kill")
        .args(["-TERM", &other.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    other.wait().unwrap();
    harness.assert_none_running("load");
}

#[test]
fn a_re_run_stops_what_a_killed_earlier_attempt_left_running() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));
    let (mut first, _first_dir) =
        ActionRun::for_setup(&harness, &setup, &[("task-count", "2")]).spawn();
    assert!(wait_until(Duration::from_secs(30), || harness
        .tasks("load")
        .iter()
        .filter(|task| task["lastStatus"] == "RUNNING")
        .count()
        == 2));
    // SIGKILL, and no post step either: the runner itself went away.
    first.kill().unwrap();
    first.wait().unwrap();

    harness.script("load", json!({}), json!({}));
    let rerun = ActionRun::for_setup(&harness, &setup, &[])
        .env("GITHUB_RUN_ATTEMPT", "2")
        .run();

    rerun.assert_code(0);
    rerun.assert_stdout_has(
        "::warning::stopped 2 of 2 task(s) started by `ecs-loadtest-9876543210-1` (an earlier attempt of this workflow run) that were still running in cluster",
    );
    let tasks = harness.assert_none_running("load");
    let of_first: Vec<&Value> = tasks
        .iter()
        .filter(|task| task["startedBy"] == "ecs-loadtest-9876543210-1")
        .collect();
    assert_eq!(of_first.len(), 2);
    for task in of_first {
        assert!(
            task["stoppedReason"]
                .as_str()
                .unwrap()
                .starts_with("ecs-loadtest: left running by an earlier attempt"),
            "{task:#}"
        );
    }
    assert_eq!(
        tasks
            .iter()
            .filter(|task| task["startedBy"] == "ecs-loadtest-9876543210-2")
            .count(),
        1
    );
}

#[test]
fn a_signal_while_start_requests_are_in_flight_still_stops_what_they_start() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));
    // ECS applies each RunTask 3 s after it arrives: when the signal comes, no task exists yet,
    // and listing the run's tasks finds none.
    harness.delay("RunTask", 3.0);

    let (child, dir) = ActionRun::for_setup(&harness, &setup, &[("task-count", "3")]).spawn();
    let sent = wait_until(Duration::from_secs(60), || {
        harness.requests().iter().any(|action| action == "RunTask")
    });
    assert!(sent, "no RunTask was sent: {:?}", harness.requests());
    signal(&child, "TERM");
    let run = Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    run.assert_stdout_has("::error::cancelled by SIGTERM");
    run.assert_stdout_has("Stopped 3 of 3 task(s)");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 3, "{tasks:#?}");
    for task in &tasks {
        let reason = task["stoppedReason"].as_str().unwrap();
        assert!(reason.contains("cancelled by SIGTERM"), "{reason}");
    }
}

#[test]
fn a_signal_while_the_last_lines_are_drained_ends_the_run_at_once() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    // The tasks stop after 1 s; their last lines would come 20 s later.
    harness.script(
        "load",
        json!({"run_seconds": 1, "logs": {"lines": ["running"], "after_stop": ["last"], "after_stop_delay": 20}}),
        json!({}),
    );

    let (child, dir) = ActionRun::for_setup(&harness, &setup, &[("task-count", "2")]).spawn();
    let stopped = wait_until(Duration::from_secs(60), || {
        let tasks = harness.tasks("load");
        tasks.len() == 2 && tasks.iter().all(|task| task["lastStatus"] == "STOPPED")
    });
    assert!(
        stopped,
        "the tasks never stopped: {:#?}",
        harness.tasks("load")
    );
    // Inside the drain: DescribeTasks has seen both stopped, the follower waits for lines.
    std::thread::sleep(Duration::from_secs(2));
    signal(&child, "INT");
    let run = Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    assert_eq!(run.output("passed"), "false");
    run.assert_stdout_has("::error::cancelled by SIGINT");
    assert!(!run.stdout.contains("\nlast\n"), "{run}");
    harness.assert_none_running("load");
}
