//! The whole action as the GitHub runner runs it: the action image, started with `docker run`
//! with every declared input as `INPUT_*`, the `GITHUB_*` variables, the file commands and the
//! workspace mounted under `/github`, and the runner's Docker socket. Inside, it builds and pushes
//! a tester image through the socket, runs two tasks in moto, follows their logs, merges their
//! results, writes outputs and the job summary and posts the PR comment to a GitHub stub.
//!
//! The image is built `FROM scratch` from a statically linked binary, as no base image can be
//! pulled here; scripts/test.sh builds that binary and names it in ECS_LOADTEST_ACTION_BINARY.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{Harness, declared_inputs, read_outputs, result_line, wait_until};
use crate::server::{Behaviour, Server};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IMAGE: &str = "ecs-loadtest-action:test";

fn static_binary() -> PathBuf {
    let binary = std::env::var_os("ECS_LOADTEST_ACTION_BINARY")
        .map(PathBuf::from)
        .expect("ECS_LOADTEST_ACTION_BINARY names the static binary: run scripts/test.sh, which builds it");
    assert!(binary.is_file(), "{} is missing", binary.display());
    binary
}

/// Builds the action image once per test binary: the final stage of the project's Dockerfile,
/// from a binary built on this machine.
fn action_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let context = tempfile::tempdir().unwrap();
        let root = context.path().join("root");
        std::fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
        // As in the project's Dockerfile: an empty base has no /tmp, and the log spools live there.
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::set_permissions(
            root.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        std::fs::copy(static_binary(), root.join("ecs-loadtest")).unwrap();
        std::os::unix::fs::symlink("ecs-loadtest", root.join("ecs-loadtest-cleanup")).unwrap();
        std::fs::copy(
            "/etc/ssl/certs/ca-certificates.crt",
            root.join("etc/ssl/certs/ca-certificates.crt"),
        )
        .unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY root/ /\nENTRYPOINT [\"/ecs-loadtest\"]\n",
        )
        .unwrap();
        let status = Command::new("docker")
            .args(["build", "-q", "-t", IMAGE])
            .arg(context.path())
            .env("DOCKER_BUILDKIT", "0")
            .status()
            .unwrap();
        assert!(status.success(), "building the action image");
    });
    IMAGE
}

/// The directories the runner mounts under /github.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["workspace", "file_commands", "workflow", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Runner { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The `docker run` the runner would issue for this step, with moto and a GitHub stub on
    /// 127.0.0.1 (the action's container shares the host's network to reach them).
    fn docker_run(&self, harness: &Harness, github: &str, inputs: &[(&str, &str)]) -> Command {
        let mut environment = vec![
            ("GITHUB_API_URL", github.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ];
        environment.push(("AWS_ENDPOINT_URL", harness.endpoint()));
        // As `ActionRun::new`: moto has no Price List API.
        environment.push(("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:9".to_string()));
        self.docker_run_on("host", &environment, inputs)
    }

    /// The `docker run` for this step on `network` (the runner's own is a bridge network of the
    /// job), with `extra` variables.
    fn docker_run_on(
        &self,
        network: &str,
        extra: &[(&str, String)],
        inputs: &[(&str, &str)],
    ) -> Command {
        let mut command = Command::new("docker");
        command.args([
            "run",
            "--rm",
            "--network",
            network,
            "--workdir",
            "/github/workspace",
        ]);
        command.args(["-v", "/var/run/docker.sock:/var/run/docker.sock"]);
        for (host, container) in [
            ("workspace", "/github/workspace"),
            ("file_commands", "/github/file_commands"),
            ("workflow", "/github/workflow"),
            ("home", "/github/home"),
        ] {
            command
                .arg("-v")
                .arg(format!("{}:{container}", self.path(host).display()));
        }
        let mut environment: Vec<(String, String)> = declared_inputs()
            .iter()
            .map(|name| {
                let value = inputs
                    .iter()
                    .find(|(input, _)| input == name)
                    .map_or("", |(_, value)| value);
                (format!("INPUT_{}", name.to_uppercase()), value.to_string())
            })
            .collect();
        for (name, value) in [
            ("HOME", "/github/home"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_RUN_ID", "555"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_JOB", "load-test"),
            ("GITHUB_WORKSPACE", "/github/workspace"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", "/github/workflow/event.json"),
            ("GITHUB_OUTPUT", "/github/file_commands/set_output_1"),
            (
                "GITHUB_STEP_SUMMARY",
                "/github/file_commands/step_summary_1",
            ),
        ] {
            environment.push((name.to_string(), value.to_string()));
        }
        environment.retain(|(name, _)| !extra.iter().any(|(replaced, _)| replaced == name));
        for (name, value) in extra {
            environment.push((name.to_string(), value.clone()));
        }
        for (name, value) in environment {
            command.arg("-e").arg(format!("{name}={value}"));
        }
        command.arg(action_image());
        command
    }
}

/// The tester the workspace holds: a static busybox that prints a result line.
fn tester_context(workspace: &Path) {
    let tester = workspace.join("loadtest");
    std::fs::create_dir_all(&tester).unwrap();
    std::fs::copy("/bin/busybox", tester.join("busybox")).unwrap();
    std::fs::write(
        tester.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\", \"echo\", \"ECS_LOADTEST_RESULT\"]\n",
    )
    .unwrap();
}

fn scripted_harness(run_seconds: Value) -> (Harness, crate::common::Setup) {
    let harness = Harness::start();
    let setup = harness.setup_with_repository("load", "tester", "tester");
    let samples: Vec<u64> = (0..50).map(|i| 20_000 + i * 100).collect();
    harness.script(
        "load",
        json!({"run_seconds": run_seconds, "logs": {
            "lines": ["load running"],
            "after_stop": [result_line(500, 0, 5_000, &samples)]
        }}),
        json!({}),
    );
    (harness, setup)
}

fn inputs<'a>(setup: &'a crate::common::Setup, subnets: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("cluster", "load"),
        ("task-definition", "tester"),
        ("subnets", subnets),
        ("security-groups", &setup.security_group),
        ("assign-public-ip", "true"),
        ("capacity-provider", "FARGATE"),
        ("platform-version", "LATEST"),
        ("task-count", "2"),
        ("vus", "20"),
        ("target-url", "https://staging.example.com/"),
        ("duration", "1m"),
        ("context", "loadtest"),
        ("dockerfile", "Dockerfile"),
        ("ecr-repository", "tester"),
        ("timeout-minutes", "10"),
        ("wait", "true"),
        ("log-mode", "grouped"),
        ("thresholds", "requests >= 1000\nerror_rate < 1%"),
        ("github-token", "ghs_e2e_token"),
        ("comment", "true"),
    ]
}

fn comment_json(id: u64) -> Value {
    json!({
        "id": id, "node_id": "IC_1", "html_url": format!("https://github.com/acme/shop/pull/7#issuecomment-{id}"),
        "url": format!("https://api.github.com/repos/acme/shop/issues/comments/{id}"),
        "body": "posted", "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
        "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:00:00Z"
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_action_container_runs_the_whole_test() {
    let (harness, setup) = scripted_harness(json!(1));
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment_json(77)))
        .expect(1)
        .mount(&github)
        .await;
    let runner = Runner::new();
    tester_context(&runner.path("workspace"));
    std::fs::write(
        runner.path("workflow/event.json"),
        r#"{"pull_request": {"number": 7}}"#,
    )
    .unwrap();
    let subnets = setup.subnets.join(",");
    let mut command = runner.docker_run(&harness, &github.uri(), &inputs(&setup, &subnets));

    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let outputs = read_outputs(&runner.path("file_commands/set_output_1"));
    assert!(
        outputs["image"].starts_with("123456789012.dkr.ecr.us-east-1.amazonaws.com/tester@sha256:"),
        "{outputs:?}"
    );
    let task_arns: Vec<String> = serde_json::from_str(&outputs["task-arns"]).unwrap();
    assert_eq!(task_arns.len(), 2);
    assert_eq!(outputs["passed"], "true");
    assert_eq!(
        outputs["comment-url"],
        "https://github.com/acme/shop/pull/7#issuecomment-77"
    );
    let results: Value = serde_json::from_str(&outputs["results"]).unwrap();
    assert_eq!(results["merged"]["requests"], 1000);
    assert!(stdout.contains("::group::Build image"), "{stdout}");
    assert!(stdout.contains("::add-mask::ghs_e2e_token"), "{stdout}");
    assert!(stdout.contains("load running"), "{stdout}");
    let summary = std::fs::read_to_string(runner.path("file_commands/step_summary_1")).unwrap();
    assert!(summary.starts_with("### ✅ Load test passed"), "{summary}");
    harness.assert_none_running("load");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_to_the_docker_client_stops_every_task() {
    // Tasks that run until stopped.
    let (harness, setup) = scripted_harness(Value::Null);
    let runner = Runner::new();
    tester_context(&runner.path("workspace"));
    std::fs::write(runner.path("workflow/event.json"), "{}").unwrap();
    let subnets = setup.subnets.join(",");
    let mut command = runner.docker_run(&harness, "http://127.0.0.1:9", &inputs(&setup, &subnets));
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child: Child = command.spawn().unwrap();

    let running = wait_until(Duration::from_secs(120), || {
        let tasks = harness.tasks("load");
        tasks.len() == 2 && tasks.iter().all(|task| task["lastStatus"] == "RUNNING")
    });
    assert!(running, "the tasks never ran: {:#?}", harness.tasks("load"));
    // The runner cancels a step by signalling the `docker run` client, which passes it on.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_ne!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("cancelled by SIGINT"), "{stdout}");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 2);
}

/// On a runner, the action's container is on the job's bridge network, where 127.0.0.1 is the
/// container itself. With the local backend the generator runs in containers of the action's own
/// image on the host's network, so a server the job started on the runner's loopback is reached.
#[test]
fn with_the_local_backend_the_generator_reaches_the_runners_localhost() {
    let server = Server::start(Behaviour::default());
    let runner = Runner::new();
    std::fs::write(runner.path("workflow/event.json"), "{}").unwrap();
    let url = server.url();
    let mut command = runner.docker_run_on(
        "bridge",
        &[
            ("ECS_LOADTEST_IMAGE", action_image().to_string()),
            ("GITHUB_RUN_ID", "556".to_string()),
        ],
        &[
            ("backend", "local"),
            ("task-count", "2"),
            ("target-url", &url),
            ("rate", "100"),
            ("duration", "2s"),
            ("thresholds", "requests >= 200"),
        ],
    );

    let output = command.output().unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("Tasks run {IMAGE} on the local Docker engine")),
        "{stdout}"
    );
    let outputs = read_outputs(&runner.path("file_commands/set_output_1"));
    let results: Value = serde_json::from_str(&outputs["results"]).unwrap();
    assert_eq!(results["merged"]["requests"], 200);
    assert_eq!(server.requests(), 200);
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=ecs-loadtest.run=ecs-loadtest-556-1",
        ])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "containers left behind");
}
