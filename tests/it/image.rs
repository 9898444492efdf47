//! Building the tester image and pushing it to ECR: the real binary against a real Docker engine
//! and a real registry (TLS, basic auth) that answers under moto's ECR host name, set up by
//! scripts/setup-docker-env.sh.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{ActionRun, Harness, Setup};
use serde_json::json;

const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn setup(harness: &Harness) -> Setup {
    let setup = harness.setup_with("load", "tester", json!([{"name": "tester"}]));
    harness.script("load", json!({}), json!({}));
    setup
}

fn setup_with_repository(harness: &Harness, repository: &str) -> Setup {
    let setup = harness.setup_with_repository("load", "tester", repository);
    harness.script("load", json!({}), json!({}));
    setup
}

/// A multi-step context: a static busybox, an app directory, a large file that .dockerignore
/// leaves out, and a `!` exception that brings one ignored file back.
fn context(dir: &Path, run_step: &str) {
    fs::copy("/bin/busybox", dir.join("busybox"))
        .expect("busybox-static is installed by scripts/setup-docker-env.sh");
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(dir.join("app/main.sh"), "echo hello\n").unwrap();
    fs::write(dir.join("app/scratch.tmp"), "left out\n").unwrap();
    fs::write(dir.join("app/keep.tmp"), "brought back\n").unwrap();
    fs::write(dir.join("big.bin"), vec![7u8; 20 * 1024 * 1024]).unwrap();
    fs::write(
        dir.join(".dockerignore"),
        "big.bin\napp/*.tmp\n!app/keep.tmp\n",
    )
    .unwrap();
    fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY app/ /app/\n{run_step}\nARG GREETING=none\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo $GREETING > /greeting\"]\nCMD [\"/bin/busybox\", \"ls\", \"/app\"]\n"
        ),
    )
    .unwrap();
}

/// The action building the image in `context_dir` and pushing it to `repository`.
fn build_action(
    harness: &Harness,
    setup: &Setup,
    context_dir: &str,
    repository: &str,
    extra: &[(&str, &str)],
) -> ActionRun {
    let mut inputs = vec![
        ("image", ""),
        ("context", context_dir),
        ("ecr-repository", repository),
    ];
    inputs.extend_from_slice(extra);
    ActionRun::for_setup(harness, setup, &inputs)
}

fn docker(config: &Path, args: &[&str]) -> String {
    let output = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("the docker client");
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn builds_pushes_and_runs_the_pushed_digest() {
    let harness = Harness::start();
    let setup = setup_with_repository(&harness, "tester");
    let dir = tempfile::tempdir().unwrap();
    context(
        dir.path(),
        "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo built > /built.txt\"]",
    );
    let context_dir = dir.path().display().to_string();

    let run = build_action(
        &harness,
        &setup,
        &context_dir,
        "tester",
        &[("build-args", "GREETING=hi")],
    )
    .run();

    run.assert_code(0);
    let image = run.output("image");
    assert!(
        image.starts_with(&format!("{REGISTRY}/tester@sha256:")),
        "{image}"
    );
    run.assert_stdout_has("::group::Build image");
    // Built with the engine's BuildKit builder.
    run.assert_stdout_has(
        "#5 [3/4] RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo built > /built.txt\"]",
    );
    run.assert_stdout_has(&format!("Pushed {REGISTRY}/tester:0123456"));
    // The context left out the 20 MiB file and the ignored .tmp file.
    let built = run
        .stdout
        .lines()
        .find(|line| line.starts_with("Built "))
        .unwrap();
    assert!(built.contains("left out by .dockerignore"), "{built}");
    let bytes: u64 = built
        .rsplit(", ")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes < 5 * 1024 * 1024, "{built}");
    // The ECR password was masked before anything else.
    run.assert_stdout_has("::add-mask::123456789012-auth-token");

    // The registered revision runs exactly the pushed digest.
    let state = harness.state("load");
    let revision = run.output("task-definition-arn");
    let registered = state["task_definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["arn"] == revision)
        .unwrap();
    assert_eq!(registered["images"][0], image);

    // Pulled back from the registry, the image has that digest and holds what was built.
    let config = tempfile::tempdir().unwrap();
    let login = Command::new("docker")
        .arg("--config")
        .arg(config.path())
        .args(["login", "-u", "AWS", "--password-stdin", REGISTRY])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"123456789012-auth-token")?;
            child.wait()
        })
        .unwrap();
    assert!(login.success());
    let _ = Command::new("docker").args(["rmi", "-f", image]).output();
    docker(config.path(), &["pull", image]);
    let listing = docker(config.path(), &["run", "--rm", image]);
    assert_eq!(
        listing.split_whitespace().collect::<Vec<_>>(),
        ["keep.tmp", "main.sh"]
    );
    let greeting = docker(
        config.path(),
        &["run", "--rm", image, "/bin/busybox", "cat", "/greeting"],
    );
    assert_eq!(greeting, "hi");
    let labels = docker(
        config.path(),
        &[
            "inspect",
            "--format",
            "{{ index .Config.Labels \"org.opencontainers.image.revision\" }}",
            image,
        ],
    );
    assert_eq!(labels, "0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn a_failing_run_step_fails_with_the_step_in_the_annotation() {
    let harness = Harness::start();
    let setup = setup_with_repository(&harness, "tester");
    let dir = tempfile::tempdir().unwrap();
    context(
        dir.path(),
        "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo compiling; exit 3\"]",
    );
    let context_dir = dir.path().display().to_string();

    let run = build_action(&harness, &setup, &context_dir, "tester", &[]).run();

    run.assert_code(1);
    run.assert_stdout_has("compiling");
    let dockerfile = dir.path().join("Dockerfile").display().to_string();
    run.assert_stdout_has(&format!(
        "::error file={dockerfile},line=4,title=Build failed at [3/4] RUN [\"/bin/busybox\"%2C \"sh\"%2C \"-c\"%2C \"echo compiling; exit 3\"]::executor failed running"
    ));
    assert!(
        harness.tasks("load").is_empty(),
        "no task may start after a failed build"
    );
}

#[test]
fn bad_build_inputs_are_clear_errors_before_anything_is_pushed() {
    let harness = Harness::start();
    let setup = setup(&harness);
    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "");
    let context_dir = dir.path().display().to_string();

    // No such repository in ECR: nothing is created silently.
    let run = build_action(&harness, &setup, &context_dir, "missing", &[]).run();
    run.assert_code(1);
    run.assert_stdout_has("the ECR repository `missing` does not exist in us-east-1");

    // A missing Dockerfile.
    let run = build_action(
        &harness,
        &setup,
        &context_dir,
        "tester",
        &[("dockerfile", "nope/Dockerfile")],
    )
    .run();
    run.assert_code(1);
    run.assert_stdout_has("input `dockerfile`: `nope/Dockerfile` is not a file in the context");

    // No Docker engine.
    let run = build_action(&harness, &setup, &context_dir, "tester", &[])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run();
    run.assert_code(1);
    run.assert_stdout_has("no Docker engine at unix:///nonexistent/docker.sock");

    // A build-args line without `=`, and no repository: input errors, exit 2.
    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[("image", ""), ("build-args", "JUSTAKEY")],
    )
    .run();
    run.assert_code(2);
    run.assert_stdout_has("input `build-args`: got `JUSTAKEY`");
    run.assert_stdout_has("input `ecr-repository` is required");

    // `image` wins over build inputs, with a notice.
    let run = ActionRun::for_setup(
        &harness,
        &setup,
        &[("ecr-repository", "tester"), ("dockerfile", "Other")],
    )
    .run();
    run.assert_code(0);
    run.assert_stdout_has(
        "::notice::`image` is given, so nothing is built: `dockerfile`, `ecr-repository` ignored",
    );
}

#[test]
fn a_dockerfile_with_buildkit_syntax_builds() {
    let harness = Harness::start();
    let setup = setup_with_repository(&harness, "tester");
    let dir = tempfile::tempdir().unwrap();
    // A cache mount is BuildKit-only syntax: the classic builder refuses it.
    context(
        dir.path(),
        "RUN --mount=type=cache,target=/cache [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo cached > /cache/x && /bin/busybox cp /cache/x /from-cache\"]",
    );
    let context_dir = dir.path().display().to_string();

    let run = build_action(&harness, &setup, &context_dir, "tester", &[]).run();

    run.assert_code(0);
    run.assert_stdout_has("RUN --mount=type=cache,target=/cache");
    assert!(!run.stdout.contains("classic builder"), "{run}");
    assert!(
        run.output("image")
            .starts_with(&format!("{REGISTRY}/tester@sha256:"))
    );
}
