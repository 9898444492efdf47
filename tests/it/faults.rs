//! Heavy AWS faults: the real binary talks to the moto harness through the fault-injecting proxy
//! (tests/harness/fault_proxy.py), which throttles, fails, and drops connections before and after
//! the harness applied a request.

use serde_json::{Value, json};

use crate::common::{
    ActionRun, FaultProxy, Harness, assert_exact_sequence, generated_numbers, group_of, log_groups,
    result_line,
};

/// The faults the reliability table promises to survive: shares of all requests.
fn heavy_faults(seed: u64) -> Value {
    json!({
        "seed": seed,
        "throttle": 0.5, "throttle_services": ["ecs", "logs"],
        "server_error": 0.1,
        "drop_before": 0.05,
        "drop_after": 0.05,
        // Whatever the draw, every run loses the answer of a RunTask the service applied.
        "lose_first_answer": ["RunTask"],
    })
}

#[test]
fn heavy_faults_on_every_aws_call_start_no_task_twice_and_lose_no_log_line() {
    // More than 4 tasks: the logs are read with FilterLogEvents and its final check.
    const TASKS: usize = 5;
    const LINES: u64 = 300;
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    let tasks: serde_json::Map<String, Value> = (0..TASKS)
        .map(|index| {
            let result = result_line(100, 0, 2000, &[1000 * (index as u64 + 1)]);
            (
                index.to_string(),
                json!({"run_seconds": 2, "logs": {
                    "lines": [result],
                    "generate": {"count": LINES, "per_second": 400},
                }}),
            )
        })
        .collect();
    harness.script("load", json!({}), Value::Object(tasks));
    let proxy = FaultProxy::start(&harness);
    proxy.faults(heavy_faults(11));

    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", &TASKS.to_string())])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint())
        .run();

    let counts = proxy.counts();
    eprintln!("injected faults: {counts:#}");
    run.assert_code(0);
    assert_eq!(run.output("passed"), "true");
    run.assert_stdout_has(&format!("{} requests", 100 * TASKS));
    let state = harness.state("load");
    let started = state["tasks"].as_array().unwrap();
    assert_eq!(started.len(), TASKS, "tasks started: {started:#?}");
    // The RunTask whose answer was lost was sent again and answered from its clientToken.
    assert!(
        state["runTaskRepeats"].as_u64().unwrap() >= 1,
        "no RunTask was repeated: {counts:#}"
    );
    let groups = log_groups(&run.stdout);
    for index in 0..TASKS {
        let numbers = generated_numbers(group_of(&groups, index + 1, TASKS), index);
        assert_exact_sequence(&numbers, LINES, &format!("task {index}"));
    }
    for fault in [
        "throttled",
        "server_error",
        "dropped_before",
        "dropped_after",
    ] {
        assert!(
            counts["faults"][fault].as_u64().unwrap_or(0) > 0,
            "no request was {fault}: {counts:#}"
        );
    }
    harness.assert_none_running("load");
}

#[test]
fn a_fault_that_outlasts_the_retries_fails_the_run_with_the_service_error_and_stops_what_started() {
    let harness = Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", json!({"run_seconds": null}), json!({}));
    let proxy = FaultProxy::start(&harness);
    // The first task starts; every later RunTask is throttled, however often it is sent.
    proxy.faults(json!({
        "always": {"RunTask": {"after": 1, "code": "ThrottlingException", "message": "Rate exceeded"}},
    }));

    // The run repeats a throttled call for this long (60 s by default) before it gives up.
    let run = ActionRun::for_setup(&harness, &setup, &[("task-count", "3")])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint())
        .env("ECS_LOADTEST_AWS_PERSISTENCE", "15s")
        .run();

    run.assert_code(1);
    assert_eq!(run.output("passed"), "false");
    run.assert_stdout_has("ThrottlingException: Rate exceeded (still failing after");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    eprintln!("faults: {:#}", proxy.counts());
}
