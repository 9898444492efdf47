//! The local backend against the real Docker engine (scripts/setup-docker-env.sh starts it): tasks
//! as containers of a busybox tester, and the built-in generator run in this process against a
//! server on 127.0.0.1. Every run has its own workflow run ID, so that tests running at once never
//! see each other's containers.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::common::{
    ActionRun, Finished, group_of, log_groups, result_line, saved_state, signal, wait_until,
};
use crate::generate::{histogram, result_in};
use crate::server::{Behaviour, Server};

const TESTER: &str = "ecs-loadtest-test/tester:local";

/// A tester image with nothing but a static busybox, built once for all tests.
fn tester() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        busybox_context(dir.path());
        let output = Command::new("docker")
            .args(["build", "-q", "-t", TESTER])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("the docker client");
        assert!(
            output.status.success(),
            "building {TESTER}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    TESTER
}

fn busybox_context(dir: &Path) {
    std::fs::copy("/bin/busybox", dir.join("busybox"))
        .expect("busybox-static is installed by scripts/setup-docker-env.sh");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n",
    )
    .unwrap();
}

/// A workflow run ID of its own for each run of this test process.
fn run_id() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}{:04}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// The local backend with `inputs`, as workflow run `run_id`.
fn local(run_id: &str, inputs: &[(&str, &str)]) -> ActionRun {
    let mut all = vec![("backend", "local")];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all).env("GITHUB_RUN_ID", run_id)
}

/// A shell script as the container command, for the busybox entry point.
fn shell(script: &str) -> String {
    serde_json::to_string(&["sh", "-c", script]).unwrap()
}

/// The containers of workflow run `run_id`, in any state.
fn containers_of(run_id: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=ecs-loadtest.run=ecs-loadtest-{run_id}-1"))
        .output()
        .expect("the docker client");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn running_of(run_id: &str) -> usize {
    let output = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=ecs-loadtest.run=ecs-loadtest-{run_id}-1"))
        .output()
        .expect("the docker client");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .count()
}

#[test]
fn containers_get_their_environment_and_report_and_are_removed() {
    let id = run_id();
    let first = result_line(100, 0, 1000, &[10_000; 100]);
    let second = result_line(300, 3, 1000, &[20_000; 300]);
    let script = format!(
        "echo \"task $TASK_INDEX of $TASK_COUNT at $TARGET_URL\"; \
         if [ \"$TASK_INDEX\" = 0 ]; then echo '{first}'; else echo '{second}'; fi"
    );
    let command = shell(&script);
    let run = local(
        &id,
        &[
            ("image", tester()),
            ("command", &command),
            ("task-count", "2"),
            ("target-url", "http://127.0.0.1:9/"),
            ("thresholds", "p95 < 50ms\nerror_rate < 2%"),
        ],
    )
    .run();

    run.assert_code(0);
    let groups = log_groups(&run.stdout);
    assert!(
        group_of(&groups, 1, 2).contains(&"task 0 of 2 at http://127.0.0.1:9/".to_string()),
        "{groups:?}"
    );
    assert!(group_of(&groups, 2, 2).contains(&"task 1 of 2 at http://127.0.0.1:9/".to_string()));
    let results = run.results();
    assert_eq!(results["merged"]["tasks_reporting"], 2);
    assert_eq!(results["merged"]["requests"], 400);
    assert_eq!(results["merged"]["errors"], 3);
    run.assert_stdout_has("Removed 2 container(s) of this run");
    assert_eq!(containers_of(&id), Vec::<String>::new());

    // The same tasks against a threshold they miss: every task succeeded, the test did not.
    let again = local(
        &id,
        &[
            ("image", tester()),
            ("command", &command),
            ("task-count", "2"),
            ("thresholds", "p95 < 15ms"),
        ],
    )
    .run();
    again.assert_code(99);
    again.assert_stdout_has("::error::threshold `p95 < 15ms` failed");
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn the_context_is_built_on_the_engine_and_run_without_a_registry() {
    let id = run_id();
    let context = tempfile::tempdir().unwrap();
    busybox_context(context.path());
    let line = result_line(50, 0, 1000, &[5_000; 50]);
    let run = local(
        &id,
        &[
            ("context", &context.path().display().to_string()),
            ("command", &shell(&format!("echo '{line}'"))),
        ],
    )
    .run();

    run.assert_code(0);
    assert_eq!(
        run.output("image"),
        "ecs-loadtest-local:0123456789abcdef0123456789abcdef01234567",
        "tagged by the commit's whole SHA"
    );
    assert_eq!(run.results()["merged"]["requests"], 50);
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn a_failing_or_out_of_memory_container_fails_the_run_and_says_why() {
    let id = run_id();
    let line = result_line(10, 0, 1000, &[1_000; 10]);
    let script = format!("echo '{line}'; [ \"$TASK_INDEX\" = 0 ] || exit 3");
    let run = local(
        &id,
        &[
            ("image", tester()),
            ("command", &shell(&script)),
            ("task-count", "2"),
        ],
    )
    .run();
    // The failing task's own exit code, though both reported results.
    run.assert_code(3);
    run.assert_stdout_has("the container exited with 3");
    assert_eq!(run.results()["merged"]["tasks_reporting"], 2);
    assert_eq!(containers_of(&id), Vec::<String>::new());

    // 50 MB in a shell variable, in a container limited to 8 MiB.
    let hungry = "a=$(head -c 50000000 /dev/zero | tr '\\0' x); echo done";
    let run = local(
        &id,
        &[
            ("image", tester()),
            ("command", &shell(hungry)),
            ("memory", "8"),
        ],
    )
    .run();
    run.assert_code(137);
    run.assert_stdout_has("the container was killed for using more than its memory limit (8 MiB)");
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn a_cancelled_run_stops_and_removes_its_containers() {
    let id = run_id();
    let (child, _dir) = local(
        &id,
        &[
            ("image", tester()),
            ("command", &shell("sleep 120")),
            ("task-count", "2"),
        ],
    )
    .spawn();
    assert!(
        wait_until(Duration::from_secs(60), || running_of(&id) == 2),
        "the containers did not start"
    );
    // As the runner cancels a step.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Removed 2 container(s) of this run"),
        "{stdout}"
    );
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn cleanup_removes_what_a_killed_step_left_and_nothing_else() {
    let id = run_id();
    let other = run_id();
    let sleeper = shell("sleep 120");
    let inputs = [("image", tester()), ("command", sleeper.as_str())];
    let (mut other_child, _other_dir) = local(&other, &inputs).spawn();
    // Another job of the same workflow run on the same engine.
    let (mut sibling, _sibling_dir) = local(&id, &inputs).spawn();
    assert!(
        wait_until(Duration::from_secs(60), || running_of(&id) == 1),
        "the sibling's container did not start"
    );
    let (mut child, dir) = local(&id, &[inputs[0], inputs[1], ("task-count", "2")]).spawn();
    assert!(
        wait_until(Duration::from_secs(60), || running_of(&id) == 3
            && running_of(&other) == 1),
        "the containers did not start"
    );
    // SIGKILL: the step gets no chance to stop its containers.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(running_of(&id), 3);
    let invocation = saved_state(&dir)["invocation"].clone();

    let post_step = || local(&id, &inputs).env("STATE_invocation", &invocation);
    let run = post_step().arg("cleanup").run();

    run.assert_code(0);
    run.assert_stdout_has("::warning::cleanup stopped 2 of 2 task(s) that the step left running");
    assert_eq!(
        containers_of(&id).len(),
        1,
        "the sibling's container was touched"
    );
    assert_eq!(running_of(&id), 1);
    assert_eq!(running_of(&other), 1, "another run's container was touched");

    let again = post_step().arg("cleanup").run();
    again.assert_code(0);
    again.assert_stdout_has(&format!("No task of this step (invocation {invocation}"));

    // Without the main step's invocation, the post step looks after the whole run.
    let unsaved = local(&id, &inputs).arg("cleanup").run();
    unsaved.assert_code(0);
    unsaved
        .assert_stdout_has("::warning::cleanup stopped 1 of 1 task(s) that the step left running");
    assert_eq!(containers_of(&id), Vec::<String>::new());
    sibling.wait().unwrap();
    assert_eq!(running_of(&other), 1, "another run's container was touched");

    other_child.kill().unwrap();
    other_child.wait().unwrap();
    local(&other, &inputs).arg("cleanup").run().assert_code(0);
    assert_eq!(containers_of(&other), Vec::<String>::new());
}

#[test]
fn the_generator_runs_in_this_process_one_run_a_task() {
    let server = Server::start(Behaviour {
        delay: Duration::from_millis(2),
        ..Default::default()
    });
    let id = run_id();
    let empty = tempfile::tempdir().unwrap();
    let run = local(
        &id,
        &[
            ("context", &empty.path().display().to_string()),
            ("target-url", &server.url()),
            ("rate", "150"),
            ("duration", "2s"),
            ("task-count", "3"),
            ("thresholds", "p99 < 500ms\nerror_rate < 1%"),
        ],
    )
    .run();

    run.assert_code(0);
    run.assert_stdout_has("The built-in generator runs in this process");
    let merged = &run.results()["merged"];
    assert_eq!(merged["tasks_reporting"], 3);
    assert_eq!(merged["requests"], server.requests());
    assert_eq!(merged["errors"], 0);
    // 150 a second for 2 s, split 50 a task: every request sent or counted as dropped.
    let dropped = merged["dropped"].as_u64().unwrap_or(0);
    assert_eq!(server.requests() + dropped, 300, "{merged}");
    // Each task's output reached its own group, and the merge is exact: one histogram of all.
    let groups = log_groups(&run.stdout);
    let mut all = Histogram::<u64>::new(3).unwrap();
    for number in 1..=3 {
        all.add(histogram(
            &result_in(group_of(&groups, number, 3).iter().map(String::as_str))["latency_hdr"],
        ))
        .unwrap();
    }
    assert_eq!(merged["requests"], all.len());
    for (name, quantile) in [("p50_us", 0.5), ("p95_us", 0.95), ("p99_us", 0.99)] {
        assert_eq!(
            merged["latency"][name],
            all.value_at_quantile(quantile) as f64,
            "{name}"
        );
    }
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn a_re_run_stops_and_removes_what_a_killed_earlier_attempt_left() {
    let id = run_id();
    let sleeper = shell("sleep 120");
    let (mut first, _first_dir) =
        local(&id, &[("image", tester()), ("command", sleeper.as_str())]).spawn();
    assert!(
        wait_until(Duration::from_secs(60), || running_of(&id) == 1),
        "the container did not start"
    );
    // SIGKILL, and no post step either.
    first.kill().unwrap();
    first.wait().unwrap();

    let quick = shell("echo done");
    let rerun = local(&id, &[("image", tester()), ("command", quick.as_str())])
        .env("GITHUB_RUN_ATTEMPT", "2")
        .run();

    rerun.assert_code(0);
    rerun.assert_stdout_has(&format!(
        "::warning::stopped 1 of 1 task(s) started by `ecs-loadtest-{id}-1` (an earlier attempt of this workflow run) that were still running on the local Docker engine"
    ));
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

/// Whether a process whose command line ends with `args` runs on this machine (a build step's
/// process runs under the engine, outside any container the test can list).
fn process_running(args: &[&str]) -> bool {
    let tail = format!("{}\0", args.join("\0"));
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).ends_with(&tail))
    })
}

#[test]
fn a_signal_during_the_build_cancels_it_on_the_engine() {
    let id = run_id();
    let context = tempfile::tempdir().unwrap();
    busybox_context(context.path());
    let dockerfile = context.path().join("Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).unwrap();
    text.push_str("RUN [\"/bin/busybox\", \"sleep\", \"617\"]\n");
    std::fs::write(&dockerfile, text).unwrap();
    let step = ["/bin/busybox", "sleep", "617"];

    let context = context.path().display().to_string();
    let (child, dir) = local(&id, &[("context", &context)]).spawn();
    assert!(
        wait_until(Duration::from_secs(120), || process_running(&step)),
        "the build's RUN step never ran"
    );
    signal(&child, "TERM");
    let run = Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    run.assert_stdout_has("cancelled by SIGTERM before any task was started");
    assert!(
        wait_until(Duration::from_secs(20), || !process_running(&step)),
        "the build's RUN step still runs after the step ended"
    );
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn more_signals_while_stopping_never_abort_it() {
    let id = run_id();
    // `sleep` as the container's first process ignores SIGTERM: stopping takes the engine's
    // 10 s grace period, then SIGKILL.
    let (child, dir) = local(
        &id,
        &[
            ("image", tester()),
            ("command", r#"["sleep", "120"]"#),
            ("task-count", "2"),
        ],
    )
    .spawn();
    assert!(
        wait_until(Duration::from_secs(60), || running_of(&id) == 2),
        "the containers did not start"
    );
    signal(&child, "INT");
    std::thread::sleep(Duration::from_secs(2));
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, "INT");
    let run = Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    run.assert_stdout_has("::error::cancelled by SIGINT");
    run.assert_stdout_has("Removed 2 container(s) of this run");
    assert_eq!(containers_of(&id), Vec::<String>::new());
}

#[test]
fn cleanup_without_a_docker_engine_finds_nothing_to_stop() {
    // A terminal run of the built-in generator needs no engine, and neither does its cleanup.
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("unix://{}", dir.path().join("no-engine.sock").display());
    let run = local(&run_id(), &[("target-url", "http://127.0.0.1:9/")])
        .env("DOCKER_HOST", &nowhere)
        .arg("cleanup")
        .run();

    run.assert_code(0);
    run.assert_stdout_has("No task started by `ecs-loadtest-");
}

/// The report says what the errors said: a TLS failure names its reason in the console and the
/// job summary, and `insecure-tls` is named in the report when it is on.
#[test]
fn a_run_whose_requests_fail_says_why_and_insecure_tls_is_named() {
    let server = Server::start(Behaviour {
        tls: true,
        tls_certificate_is_a_ca: true,
        ..Default::default()
    });
    let certificate = server.certificate.clone().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let inputs = |insecure: &'static str| {
        local(
            &run_id(),
            &[
                ("context", &empty.path().display().to_string()),
                ("target-url", &server.tls_url()),
                ("vus", "2"),
                ("duration", "1s"),
                ("thresholds", "error_rate < 1%"),
                ("insecure-tls", insecure),
            ],
        )
        .env("SSL_CERT_FILE", certificate.to_str().unwrap())
        .run()
    };
    let run = inputs("false");
    run.assert_code(99);
    let errors = run
        .stdout
        .lines()
        .find(|line| line.starts_with("Errors: tls: "))
        .unwrap_or_else(|| panic!("no errors line\n{run}"));
    assert!(
        errors.contains("none reached the server: invalid peer certificate: a CA certificate was used as the server's (CaUsedAsEndEntity)"),
        "{errors}"
    );
    assert!(
        run.summary().contains("(CaUsedAsEndEntity)"),
        "{}",
        run.summary()
    );
    assert_eq!(server.requests(), 0);

    let run = inputs("true");
    run.assert_code(0);
    run.assert_stdout_has("insecure-tls: the target's TLS certificate was not verified");
    assert!(
        run.summary()
            .contains("TLS `certificate not verified (insecure-tls)`"),
        "{}",
        run.summary()
    );
    assert_eq!(run.results()["merged"]["requests"], server.requests());
}
