//! JMeter plans, run unchanged on several tasks with real JMeter (Debian's 2.13, installed by
//! scripts/setup-test-env.sh with the type shim its XStream needs) on the local backend, against
//! the project's loopback server.

use std::path::Path;
use std::time::Duration;

use crate::common::{ActionRun, project_dir};
use crate::server::{Behaviour, Server};

/// `tests/fixtures/jmeter/shop.jmx`: a thread group of `${__P(threads,1)}` threads, each looping
/// 10 times over two samplers, `home` (`/`) and `cart, full` (`/cart/1`, a name with a comma).
fn workspace(port: u16) -> tempfile::TempDir {
    let plan = std::fs::read_to_string(project_dir().join("tests/fixtures/jmeter/shop.jmx"))
        .unwrap()
        .replace("PORT", &port.to_string());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.jmx"), plan).unwrap();
    dir
}

fn jmeter_run(dir: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    assert!(
        Path::new("/usr/share/jmeter/lib/ext/ApacheJMeter_http.jar").is_file(),
        "no JMeter with its HTTP sampler: run scripts/setup-test-env.sh"
    );
    let shim = project_dir().join(".jmeter/allow-types.jar");
    assert!(
        shim.is_file(),
        "no {}: run scripts/setup-test-env.sh",
        shim.display()
    );
    let mut all = vec![("backend", "local"), ("script", "shop.jmx")];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all)
        .env(
            "JAVA_ARGS",
            &format!("-Xbootclasspath/a:{}", shim.display()),
        )
        .in_dir(dir)
}

/// `vus` becomes each task's `threads`: 4 over 2 tasks is 2 threads each, 2 × 10 loops × 2
/// samplers = 40 samples a task. The server's count is the merged count, the names (one with a
/// comma, quoted in the CSV) are rows, and a 1 s stall shows in the tail.
#[test]
fn a_jmeter_plan_on_two_tasks_gets_its_threads_split_and_merges_to_the_servers_count() {
    let server = Server::start(Behaviour {
        stall_at_request: Some(50),
        stall: Duration::from_secs(1),
        ..Behaviour::default()
    });
    let dir = workspace(server.address.port());
    let run = jmeter_run(dir.path(), &[("task-count", "2"), ("vus", "4")]).run();

    run.assert_code(0);
    run.assert_stdout_has("Each task runs jmeter under `ecs-loadtest wrap jmeter`");
    run.assert_stdout_has("JMeter measures latency in whole milliseconds");
    let sent = server.requests();
    let results = run.results();
    let merged = &results["merged"];
    assert_eq!(sent, 80, "{run}");
    assert_eq!(merged["requests"], sent, "{results:#}");
    let shares = crate::common::task_shares(&results);
    assert_eq!(shares, [40, 40], "{results:#}");
    crate::common::assert_request_names(&results, &["home", "cart, full"]);
    crate::common::assert_the_stall_shows(&results);
    assert_eq!(merged["errors"], 0, "{results:#}");
    // The report says the figures are whole milliseconds.
    assert_eq!(merged["latency_whole_ms"], true, "{results:#}");
    run.assert_stdout_has("whole milliseconds, as the tester measures them");
}

/// JMeter exits 0 when it cannot load a plan: the task still fails, with JMeter's reason.
#[test]
fn a_plan_jmeter_cannot_load_fails_its_tasks_with_jmeters_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shop.jmx"),
        "<?xml version=\"1.0\"?>\n<jmeterTestPlan><hashTree><nope/></hashTree>\n",
    )
    .unwrap();
    let run = jmeter_run(dir.path(), &[]).run();
    assert_ne!(run.code(), 0, "{run}");
    run.assert_stdout_has("JMeter did not start the test plan and still exited 0");
    run.assert_stdout_has("Error in NonGUIDriver");
}

#[test]
fn on_fargate_a_jmeter_plan_needs_tester_image_as_jmeter_publishes_none() {
    let dir = workspace(9);
    let run = ActionRun::without_aws(&[("script", "shop.jmx"), ("vus", "2")])
        .in_dir(dir.path())
        .run();
    run.assert_code(2);
    run.assert_stdout_has("input `tester-image`");
    run.assert_stdout_has("JMeter's project publishes none");
}
