//! Locust files, run unchanged on several tasks with real Locust (`.venv-locust/bin/locust`,
//! installed by scripts/setup-test-env.sh) on the local backend, against the project's loopback
//! server.

use std::path::Path;
use std::time::Duration;

use crate::common::{ActionRun, project_dir};
use crate::server::{Behaviour, Server};

/// The PATH with the test setup's Locust first.
fn path_with_locust() -> String {
    let bin = project_dir().join(".venv-locust/bin");
    assert!(
        bin.join("locust").is_file(),
        "no Locust in {}: run scripts/setup-test-env.sh",
        bin.display()
    );
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn locust_run(dir: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    let mut all = vec![("backend", "local"), ("script", "locustfile.py")];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all)
        .env("PATH", &path_with_locust())
        .in_dir(dir)
}

fn workspace(locustfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("locustfile.py"), locustfile).unwrap();
    dir
}

const SHOP: &str = r#"
from locust import HttpUser, task, constant_throughput

class Shopper(HttpUser):
    wait_time = constant_throughput(10)

    @task(3)
    def home(self):
        self.client.get("/", name="home")

    @task(1)
    def cart(self):
        self.client.get("/cart/1", name="cart")
"#;

/// Every request Locust records reaches the merge with its own response time: the server's count
/// is the merged count, the tasks' shares add up, the names are rows, and a 1 s stall of the
/// server shows in the tail as a second, not as Locust's rounded buckets.
#[test]
fn a_locust_file_on_two_tasks_merges_every_request_to_the_servers_count() {
    let server = Server::start(Behaviour {
        stall_at_request: Some(60),
        stall: Duration::from_secs(1),
        ..Behaviour::default()
    });
    let dir = workspace(SHOP);
    let run = locust_run(
        dir.path(),
        &[
            ("task-count", "2"),
            ("vus", "4"),
            ("duration", "5s"),
            ("environment", &format!("LOCUST_HOST={}", server.url())),
        ],
    )
    .run();

    run.assert_code(0);
    run.assert_stdout_has("Each task runs locust under `ecs-loadtest wrap locust`");
    let sent = server.requests();
    let results = run.results();
    let merged = &results["merged"];
    assert_eq!(merged["requests"], sent, "{results:#}");
    assert!(sent > 60, "the stall came: {sent} requests");
    let shares: Vec<u64> = results["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(shares.iter().sum::<u64>(), sent, "{shares:?}");
    assert!(shares.iter().all(|share| *share > 0), "{shares:?}");
    let names: Vec<&str> = merged["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["home", "cart"], "{results:#}");
    // The requests held by the stall waited about a second, as measured, not rounded.
    let max_ms = merged["latency"]["max_us"].as_f64().unwrap() / 1000.0;
    assert!(
        (900.0..2500.0).contains(&max_ms),
        "max {max_ms} ms\n{results:#}"
    );
    assert_eq!(merged["errors"], 0, "{results:#}");
}

/// `locust --list` reads the file before any task starts: one that does not load sends nothing.
#[test]
fn a_locust_file_that_does_not_load_fails_before_any_task_naming_locusts_error() {
    let dir = workspace("from locust import HttpUser\nclass Broken(HttpUser:\n    pass\n");
    let run = locust_run(
        dir.path(),
        &[
            ("vus", "1"),
            ("duration", "2s"),
            ("environment", "LOCUST_HOST=http://127.0.0.1:9"),
        ],
    )
    .run();
    assert_ne!(run.code(), 0, "{run}");
    run.assert_stdout_has("Locust refused the locustfile locustfile.py");
    run.assert_stdout_has("SyntaxError");
    assert!(!run.stdout.contains("Task 1/1"), "a task started\n{run}");
}

#[test]
fn a_load_test_shape_is_refused_as_it_would_run_whole_on_every_task() {
    let dir = workspace(&format!(
        "{SHOP}\nfrom locust import LoadTestShape\n\nclass Ramp(LoadTestShape):\n    def tick(self):\n        return (10, 10) if self.get_run_time() < 2 else None\n"
    ));
    let run = locust_run(
        dir.path(),
        &[
            ("vus", "2"),
            ("duration", "2s"),
            ("environment", "LOCUST_HOST=http://127.0.0.1:9"),
        ],
    )
    .run();
    assert_ne!(run.code(), 0, "{run}");
    run.assert_stdout_has("a LoadTestShape sets the users of each task as if it were alone");
}

#[test]
fn a_locust_file_needs_users_and_a_duration() {
    let dir = workspace(SHOP);
    let run = locust_run(dir.path(), &[("rate", "10")]).run();
    run.assert_code(2);
    run.assert_stdout_has("input `vus`");
    run.assert_stdout_has("input `duration`");
    run.assert_stdout_has("no `rate` beside a locust script");
}
