//! Locust files, run unchanged on several tasks with real Locust (`.venv-locust/bin/locust`,
//! installed by scripts/setup-test-env.sh) on the local backend, against the project's loopback
//! server.

use std::path::Path;
use std::time::Duration;

use crate::common::ActionRun;
use crate::server::{Behaviour, Server};

/// The PATH with the test setup's Locust first.
fn path_with_locust() -> String {
    crate::common::path_with(".venv-locust/bin", "locust")
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
    let shares = crate::common::task_shares(&results);
    assert_eq!(shares.iter().sum::<u64>(), sent, "{shares:?}");
    assert!(shares.iter().all(|share| *share > 0), "{shares:?}");
    let names = crate::common::request_names(&results);
    assert_eq!(names, ["home", "cart"], "{results:#}");
    // The requests held by the stall waited about a second, as measured, not rounded.
    crate::common::assert_the_stall_shows(&results);
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

/// A LoadTestShape runs on every task with the task's share of its users at each step: 3 users
/// then 5, on 2 tasks, are 2 + 1 then 3 + 2, as each task's hook says, and the shape's end ends
/// the run.
#[test]
fn a_load_test_shape_runs_on_every_task_with_its_share_of_the_users_at_each_step() {
    let server = Server::start(Behaviour::default());
    let dir = workspace(&format!(
        "{SHOP}\nfrom locust import LoadTestShape\n\nclass Steps(LoadTestShape):\n    def tick(self):\n        at = self.get_run_time()\n        return (3, 10) if at < 2 else (5, 10) if at < 4 else None\n"
    ));
    // `target-url` is Locust's host.
    let run = locust_run(
        dir.path(),
        &[("task-count", "2"), ("target-url", &server.url())],
    )
    .run();
    run.assert_code(0);
    for step in [
        "shape step: 3 users in all, 2 on this task (task 1 of 2)",
        "shape step: 3 users in all, 1 on this task (task 2 of 2)",
        "shape step: 5 users in all, 3 on this task (task 1 of 2)",
        "shape step: 5 users in all, 2 on this task (task 2 of 2)",
    ] {
        run.assert_stdout_has(step);
    }
    assert_eq!(run.results()["merged"]["requests"], server.requests());

    // Users given beside a shape would be every task's as well as the shape's.
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
    run.assert_stdout_has("give no `vus` or `duration` beside it");
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

/// A Locust image such as `locustio/locust` (none can be pulled here): the test setup's Python and
/// `.venv-locust`, at the same paths, with the libraries they link, on an empty base. Built once
/// per test binary.
fn locust_image() -> &'static str {
    crate::common::scratch_image(
        "ecs-loadtest-test/locust:venv",
        r#"
venv="$1/.venv-locust"
python="$venv/bin/python"
base=$("$python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))')
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
libdir=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
tar -rf "$archive" -C / -h --exclude=__pycache__ --exclude=site-packages --exclude="${stdlib#/}/test" "${base#/}" "${stdlib#/}"
echo "$base" >> "$root.copied"
# The venv's `python3` names the base interpreter by the path it was made with.
copy "$(readlink "$venv/bin/python3")"
for lib in "$libdir"/libpython3*.so*; do [ -e "$lib" ] && copy "$lib"; done
tar -rf "$archive" -C / --exclude=__pycache__ "${venv#/}"
ln -s "$venv/bin/locust" "$root/usr/local/bin/locust"
"#,
        "locust",
    )
}

/// What a task of the image made for the locustfile prints: the wrapper run here with that
/// task's index and share, as the image's command runs it, against `host`.
fn task_output(dir: &Path, index: usize, users: u64, host: &str) -> Vec<String> {
    crate::common::wrapped_task_lines(
        dir,
        &["locust", "--", "locust", "-f", "load/locustfile.py"],
        &[
            ("PATH", path_with_locust()),
            ("TASK_INDEX", index.to_string()),
            ("TASK_COUNT", "2".to_string()),
            ("VUS", users.to_string()),
            ("DURATION", "2".to_string()),
            ("LOCUST_HOST", host.to_string()),
        ],
    )
}

/// On Fargate a locustfile's tasks run an image made for it, as a k6 script's do: the Locust
/// image, this action's binary and the file's folder, tagged by content; `locust --list` runs in
/// it before the push, and the tasks run the wrapper with their share of the users.
#[test]
fn on_fargate_a_locustfile_runs_in_an_image_made_for_it_and_its_tasks_merge_exactly() {
    let harness = crate::common::Harness::start();
    let setup = harness.setup_with_repository("load", "tester", "tester");
    let server = Server::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("load")).unwrap();
    let file = format!("# {}\n{SHOP}", crate::common::unique_tag());
    std::fs::write(dir.path().join("load/locustfile.py"), &file).unwrap();

    let lines: Vec<Vec<String>> = (0..2)
        .map(|index| task_output(dir.path(), index, 2, &server.url()))
        .collect();
    let sent = server.requests();
    harness.log_per_task("load", &lines);
    let run = |inputs: &[(&str, &str)]| {
        let mut all = vec![
            ("image", ""),
            ("script", "load/locustfile.py"),
            ("task-count", "2"),
            ("vus", "4"),
            ("duration", "2s"),
            ("ecr-repository", "tester"),
            ("tester-image", locust_image()),
            ("generator-image", crate::action::action_image()),
        ];
        all.extend_from_slice(inputs);
        ActionRun::for_setup(&harness, &setup, &all)
            .in_dir(dir.path())
            .run()
    };

    let first = run(&[]);
    first.assert_code(0);
    first.assert_stdout_has("Pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/tester:locust-");
    for task in harness.tasks("load") {
        let container = &task["overrides"]["containerOverrides"][0];
        assert_eq!(
            container["command"],
            serde_json::json!(["wrap", "locust", "--", "locust", "-f", "load/locustfile.py"]),
            "{task:#}"
        );
        assert!(
            container["environment"].to_string().contains("\"VUS\""),
            "{task:#}"
        );
    }
    let results = first.results();
    assert_eq!(results["merged"]["requests"], sent, "{results:#}");
    assert_eq!(results["merged"]["tasks_reporting"], 2, "{results:#}");

    // Locust refuses the file in the image: nothing pushed, no task.
    std::fs::write(
        dir.path().join("load/locustfile.py"),
        file.replace("def home(self):", "def home(self)"),
    )
    .unwrap();
    let refused = run(&[]);
    assert_ne!(refused.code(), 0, "{refused}");
    refused.assert_stdout_has("Locust refused the locustfile load/locustfile.py");
    assert!(!refused.stdout.contains("Pushed"), "{refused}");
    assert_eq!(
        harness.tasks("load").len(),
        2,
        "no second run's task started"
    );
}
