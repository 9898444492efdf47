//! The whole action as the GitHub runner runs it: the action image, started with `docker run`
//! with every declared input as `INPUT_*`, the `GITHUB_*` variables, the file commands and the
//! workspace mounted under `/github`, and the runner's Docker socket. Inside, it builds and pushes
//! a tester image through the socket, runs two tasks in moto, follows their logs, merges their
//! results, writes outputs and the job summary and posts the PR comment to a GitHub stub.
//!
//! The image is built `FROM scratch` (no base image can be pulled here) around the binary the
//! other tests run, with the dynamic loader and the libraries it links: the same final stage as
//! the project's Dockerfile, whose musl build makes one static file of the same code.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{
    Harness, action_metadata, input_environment, read_outputs, result_line, wait_until,
};
use crate::server::{Behaviour, Server};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IMAGE: &str = "ecs-loadtest-action:test";

/// Copies the binary's dynamic loader and shared libraries (as `ldd` lists them) into `root`, at
/// the same paths, so that it runs on an empty base.
pub fn copy_linked_libraries(binary: &Path, root: &Path) {
    let listed = Command::new("ldd").arg(binary).output().unwrap();
    assert!(listed.status.success(), "ldd {}", binary.display());
    for library in String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let inside = root.join(library.trim_start_matches('/'));
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::copy(library, &inside).unwrap();
    }
}

/// Builds the action image once per test binary: the final stage of the project's Dockerfile,
/// from a binary built on this machine.
pub fn action_image() -> &'static str {
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
        let binary = Path::new(env!("CARGO_BIN_EXE_ecs-loadtest"));
        std::fs::copy(binary, root.join("ecs-loadtest")).unwrap();
        copy_linked_libraries(binary, &root);
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

/// The directories the runner mounts under /github, and the name of the step's container.
struct Runner {
    dir: tempfile::TempDir,
    container: String,
}

/// The image `runs.image` names: `docker://REF` as it is (a release); `Dockerfile`, which the
/// runner builds, stands for the image the project's Dockerfile makes, built here from the static
/// binary (its build stage needs a base image that cannot be pulled here).
fn runs_image() -> String {
    let metadata = action_metadata();
    assert_eq!(
        metadata.runs.get("using").map(String::as_str),
        Some("docker"),
        "action.yml runs a Docker container action"
    );
    match metadata.runs.get("image").map(String::as_str) {
        Some("Dockerfile") => action_image().to_string(),
        Some(image) if image.starts_with("docker://") => image["docker://".len()..].to_string(),
        other => panic!("the test support cannot run runs.image {other:?}"),
    }
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["workspace", "file_commands", "workflow", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let container = format!(
            "ecs-loadtest-step-{}",
            dir.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
        );
        Runner { dir, container }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The variables that reach moto and a GitHub stub on 127.0.0.1 (the action's container
    /// shares the host's network to reach them).
    fn aws_and_github(harness: &Harness, github: &str) -> Vec<(String, String)> {
        [
            ("GITHUB_API_URL", github.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_ENDPOINT_URL", harness.endpoint()),
            // As `ActionRun::new`: moto has no Price List API.
            ("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:9".to_string()),
        ]
        .map(|(name, value)| (name.to_string(), value))
        .into()
    }

    /// The `docker run` the runner would issue for this step against moto and a GitHub stub.
    fn docker_run(&self, harness: &Harness, github: &str, inputs: &[(&str, &str)]) -> Command {
        self.main_step("host", Runner::aws_and_github(harness, github), inputs)
    }

    /// The main step on `network` (the runner's own is a bridge network of the job), with
    /// `extra` variables: the image, entrypoint and arguments `action.yml` declares.
    fn main_step(
        &self,
        network: &str,
        extra: Vec<(String, String)>,
        inputs: &[(&str, &str)],
    ) -> Command {
        let metadata = action_metadata();
        let entrypoint = metadata.runs.get("entrypoint").map(String::as_str);
        self.docker_step(network, extra, inputs, entrypoint, &metadata.args)
    }

    /// The action's post step as the runner runs it once the main step has ended: `post-if`
    /// evaluated for a job whose main step failed or was cancelled (the case cleanup is for),
    /// the same inputs, `post-entrypoint` as the entrypoint and no arguments, and what the main
    /// step saved in `GITHUB_STATE` as `STATE_*`. `None` when `post-if` skips it.
    fn post_step(
        &self,
        network: &str,
        mut extra: Vec<(String, String)>,
        inputs: &[(&str, &str)],
    ) -> Option<Command> {
        let runs = &action_metadata().runs;
        let post_entrypoint = runs
            .get("post-entrypoint")
            .expect("action.yml declares a post-entrypoint");
        match runs.get("post-if").map(String::as_str) {
            Some("always()" | "failure()" | "!cancelled()") => {}
            // The runner's default, `success()`, skips it after a failure.
            Some("success()") | None => return None,
            Some(other) => panic!("the test support cannot evaluate post-if {other:?}"),
        }
        for (name, value) in read_outputs(&self.path("file_commands/save_state_1")) {
            extra.push((format!("STATE_{name}"), value));
        }
        Some(self.docker_step(network, extra, inputs, Some(post_entrypoint), &[]))
    }

    fn docker_step(
        &self,
        network: &str,
        extra: Vec<(String, String)>,
        inputs: &[(&str, &str)],
        entrypoint: Option<&str>,
        args: &[String],
    ) -> Command {
        let mut command = Command::new("docker");
        command.args([
            "run",
            "--rm",
            "--name",
            &self.container,
            "--network",
            network,
            "--workdir",
            "/github/workspace",
        ]);
        if let Some(entrypoint) = entrypoint {
            command.args(["--entrypoint", entrypoint]);
        }
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
        let mut environment = input_environment(inputs);
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
            ("GITHUB_STATE", "/github/file_commands/save_state_1"),
            (
                "GITHUB_STEP_SUMMARY",
                "/github/file_commands/step_summary_1",
            ),
        ] {
            environment.push((name.to_string(), value.to_string()));
        }
        environment.retain(|(name, _)| !extra.iter().any(|(replaced, _)| replaced == name));
        environment.extend(extra);
        for (name, value) in environment {
            command.arg("-e").arg(format!("{name}={value}"));
        }
        command.arg(runs_image());
        command.args(args);
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

fn inputs<'a>(
    setup: &'a crate::common::Setup,
    subnets: &'a str,
    tag: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("image-tag", tag),
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
    let tag = crate::common::unique_tag();
    let mut command = runner.docker_run(&harness, &github.uri(), &inputs(&setup, &subnets, &tag));

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

/// The main step, started as the runner starts it with `inputs`, its two tasks running until
/// stopped; returns once both run.
fn main_step_running(harness: &Harness, runner: &Runner, inputs: &[(&str, &str)]) -> Child {
    tester_context(&runner.path("workspace"));
    std::fs::write(runner.path("workflow/event.json"), "{}").unwrap();
    let mut command = runner.docker_run(harness, "http://127.0.0.1:9", inputs);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child: Child = command.spawn().unwrap();
    let running = wait_until(Duration::from_secs(120), || {
        let tasks = harness.tasks("load");
        tasks.len() == 2 && tasks.iter().all(|task| task["lastStatus"] == "RUNNING")
    });
    assert!(running, "the tasks never ran: {:#?}", harness.tasks("load"));
    child
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_to_the_docker_client_stops_every_task() {
    let (harness, setup) = scripted_harness(Value::Null);
    let runner = Runner::new();
    let (subnets, tag) = (setup.subnets.join(","), crate::common::unique_tag());
    let child = main_step_running(&harness, &runner, &inputs(&setup, &subnets, &tag));
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
    let mut command = runner.main_step(
        "bridge",
        vec![
            ("ECS_LOADTEST_IMAGE".into(), action_image().to_string()),
            ("GITHUB_RUN_ID".into(), "556".to_string()),
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

/// A k6 script through `uses:`: the action's image holds no k6, so with the local backend the
/// tasks are containers of an image made for the script from the k6 image and the action's own
/// image (which a release names), built through the runner's Docker socket from the workspace.
#[test]
fn with_the_local_backend_a_k6_script_runs_in_an_image_made_from_the_actions_own() {
    let server = Server::start(Behaviour::default());
    let runner = Runner::new();
    std::fs::write(runner.path("workflow/event.json"), "{}").unwrap();
    std::fs::create_dir_all(runner.path("workspace/load")).unwrap();
    std::fs::write(
        runner.path("workspace/load/smoke.js"),
        format!(
            "// {}\nimport http from 'k6/http';\nexport const options = {{ scenarios: {{ load: {{ executor: 'shared-iterations', vus: 2, iterations: 20 }} }}, thresholds: {{ http_reqs: ['count==20'] }} }};\nexport default function () {{ http.get('{}'); }}\n",
            crate::common::unique_tag(),
            server.url()
        ),
    )
    .unwrap();
    let mut command = runner.main_step(
        "bridge",
        vec![
            ("ECS_LOADTEST_IMAGE".into(), action_image().to_string()),
            ("GITHUB_RUN_ID".into(), "557".to_string()),
        ],
        &[
            ("backend", "local"),
            ("task-count", "2"),
            ("script", "load/smoke.js"),
            ("tester-image", crate::k6::k6_image()),
        ],
    );

    let output = command.output().unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Tasks run ecs-loadtest-local:k6-"),
        "{stdout}"
    );
    let outputs = read_outputs(&runner.path("file_commands/set_output_1"));
    let results: Value = serde_json::from_str(&outputs["results"]).unwrap();
    assert_eq!(results["merged"]["requests"], 20, "{results:#}");
    assert_eq!(results["thresholds"][0]["held"], true, "{results:#}");
    assert_eq!(server.requests(), 20);
}

/// A main step that dies without a word (the runner kills the container, or the machine under it
/// goes) leaves its tasks running: the post step that action.yml declares, run as the runner runs
/// it, stops them from what the main step saved.
#[tokio::test(flavor = "multi_thread")]
async fn the_post_step_action_yml_declares_stops_what_a_killed_main_step_left() {
    let (harness, setup) = scripted_harness(Value::Null);
    let runner = Runner::new();
    let (subnets, tag) = (setup.subnets.join(","), crate::common::unique_tag());
    let inputs = inputs(&setup, &subnets, &tag);
    let child = main_step_running(&harness, &runner, &inputs);

    let killed = Command::new("docker")
        .args(["kill", "--signal", "KILL", &runner.container])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap();
    let left = harness.tasks("load");
    assert!(
        left.iter().all(|task| task["lastStatus"] == "RUNNING"),
        "a killed main step stopped nothing: {left:#?}"
    );

    let mut post = runner
        .post_step(
            "host",
            Runner::aws_and_github(&harness, "http://127.0.0.1:9"),
            &inputs,
        )
        .expect("the post step runs after a failed main step");
    let output = tokio::task::spawn_blocking(move || post.output())
        .await
        .unwrap()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let tasks = harness.assert_none_running("load");
    assert_eq!(tasks.len(), 2, "{stdout}");
}

/// The runner loads action.yml with a strict YAML parser before anything runs; so does the test
/// support, which refuses what the runner refuses.
#[test]
fn action_yml_loads_as_the_runner_loads_it() {
    let metadata = action_metadata();
    assert!(metadata.inputs.len() > 40);
    assert_eq!(metadata.runs["post-if"], "always()");
    // The form that once made the whole action fail to load: `: ` inside a plain scalar.
    let broken = "name: x\ndescription: y\ninputs:\n  headers:\n    description: one `Name: value` a line\nruns:\n  using: docker\n  image: Dockerfile\n";
    let refused = crate::common::parse_action_metadata(broken);
    assert!(refused.is_err(), "a plain scalar holding `: ` was accepted");
}
