//! Building the tester image and pushing it to ECR: the real binary against a real Docker engine
//! and a real registry (TLS, basic auth) that answers under moto's ECR host name, set up by
//! scripts/setup-docker-env.sh.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{ActionRun, Harness, Setup, unique_tag};
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

/// The action building the image in `context_dir` and pushing it to `repository` under `tag`.
fn build_action(
    harness: &Harness,
    setup: &Setup,
    context_dir: &str,
    repository: &str,
    tag: &str,
    extra: &[(&str, &str)],
) -> ActionRun {
    let mut inputs = vec![
        ("image", ""),
        ("context", context_dir),
        ("ecr-repository", repository),
        ("image-tag", tag),
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

/// Logs a docker client with its own `config` into the test registry as moto's ECR login.
fn registry_login(config: &Path) {
    let login = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(["login", "-u", "AWS", "--password-stdin", REGISTRY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
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
    let tag = unique_tag();

    let run = build_action(
        &harness,
        &setup,
        &context_dir,
        "tester",
        &tag,
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
    run.assert_stdout_has(&format!("Pushed {REGISTRY}/tester:{tag}"));
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
    let registered = harness.task_definition("load", run.output("task-definition-arn"));
    assert_eq!(registered["images"][0], image);

    // Pulled back from the registry, the image has that digest and holds what was built.
    let config = tempfile::tempdir().unwrap();
    registry_login(config.path());
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

    let run = build_action(&harness, &setup, &context_dir, "tester", &unique_tag(), &[]).run();

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
    let run = build_action(
        &harness,
        &setup,
        &context_dir,
        "missing",
        &unique_tag(),
        &[],
    )
    .run();
    run.assert_code(1);
    run.assert_stdout_has("the ECR repository `missing` does not exist in us-east-1");

    // A missing Dockerfile.
    let run = build_action(
        &harness,
        &setup,
        &context_dir,
        "tester",
        &unique_tag(),
        &[("dockerfile", "nope/Dockerfile")],
    )
    .run();
    run.assert_code(1);
    run.assert_stdout_has("input `dockerfile`: `nope/Dockerfile` is not a file in the context");

    // No Docker engine.
    let run = build_action(&harness, &setup, &context_dir, "tester", &unique_tag(), &[])
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
    run.assert_stdout_has("input `build-args`: got `<8 characters, not shown>`");
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

    let run = build_action(&harness, &setup, &context_dir, "tester", &unique_tag(), &[]).run();

    run.assert_code(0);
    run.assert_stdout_has("RUN --mount=type=cache,target=/cache");
    assert!(!run.stdout.contains("classic builder"), "{run}");
    assert!(
        run.output("image")
            .starts_with(&format!("{REGISTRY}/tester@sha256:"))
    );
}

/// A re-run of the same commit on a fresh runner builds an image with another digest, and ECR
/// refuses to push it over the immutable tag our Terraform makes. The tag's image, already in the
/// registry, is what runs; nothing is built or pushed, and the tag still names the first image.
#[test]
fn a_re_run_runs_the_image_its_tag_names_and_never_pushes_over_it() {
    let harness = Harness::start();
    let setup = setup_with_repository(&harness, "tester");
    let tag = unique_tag();
    let first_dir = tempfile::tempdir().unwrap();
    context(first_dir.path(), "RUN [\"/bin/busybox\", \"true\"]");
    let first = build_action(
        &harness,
        &setup,
        &first_dir.path().display().to_string(),
        "tester",
        &tag,
        &[],
    )
    .run();
    first.assert_code(0);
    let pushed = first.output("image").to_string();

    // The same commit built again elsewhere: other bytes, so another digest.
    let second_dir = tempfile::tempdir().unwrap();
    context(
        second_dir.path(),
        "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox date > /built-at\"]",
    );
    let again = build_action(
        &harness,
        &setup,
        &second_dir.path().display().to_string(),
        "tester",
        &tag,
        &[],
    )
    .run();

    again.assert_code(0);
    assert_eq!(again.output("image"), pushed);
    again.assert_stdout_has(&format!(
        "`tester:{tag}` is in ECR already (a re-run of the same commit): the tasks run it, {pushed}; a tag is never pushed over"
    ));
    assert!(
        !again.stdout.contains("::group::Build image"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("Pushed "), "{}", again.stdout);
    // The registry's tag still names the first image.
    let config = tempfile::tempdir().unwrap();
    registry_login(config.path());
    let reference = format!("{REGISTRY}/tester:{tag}");
    docker(config.path(), &["pull", "-q", &reference]);
    let digests = docker(
        config.path(),
        &[
            "inspect",
            "--format",
            "{{ range .RepoDigests }}{{ . }} {{ end }}",
            &reference,
        ],
    );
    assert!(
        digests.split_whitespace().any(|digest| digest == pushed),
        "{digests} / {pushed}"
    );
}

/// An image found under the tag is run only when its revision label names this run's commit: a
/// reused `image-tag` (or a tag someone else pushed) is not taken for this commit's image.
#[test]
fn an_image_of_another_commit_under_the_tag_is_refused_not_run() {
    let harness = Harness::start();
    let setup = setup_with_repository(&harness, "tester");
    let tag = unique_tag();
    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "RUN [\"/bin/busybox\", \"true\"]");
    let context_dir = dir.path().display().to_string();
    let first = build_action(&harness, &setup, &context_dir, "tester", &tag, &[]).run();
    first.assert_code(0);
    let tasks = harness.tasks("load").len();

    let next_commit = "89abcdef0123456789abcdef0123456789abcdef";
    let again = build_action(&harness, &setup, &context_dir, "tester", &tag, &[])
        .env("GITHUB_SHA", next_commit)
        .run();
    assert_ne!(again.code(), 0, "{again}");
    let said = format!("{}{}", again.stdout, again.stderr);
    assert!(
        said.contains(&format!(
            "`{REGISTRY}/tester:{tag}` is in the registry already and was built from commit `0123456789abcdef0123456789abcdef01234567`, not from this run's commit `{next_commit}`"
        )),
        "{again}"
    );
    assert!(said.contains("Leave `image-tag` unset"), "{again}");
    assert_eq!(
        harness.tasks("load").len(),
        tasks,
        "a task started: {again}"
    );
    assert!(!again.stdout.contains("Pushed "), "{again}");
}

/// The built-in generator's image copied to ECR (for tasks in private subnets) is tagged with
/// its own image ID, so that a re-run, or another version of the action, never meets a tag that
/// names another image.
#[test]
fn the_generator_image_is_copied_to_ecr_once_under_its_own_id() {
    let harness = Harness::start();
    let setup = setup_with_repository(&harness, "tester");
    // An image only this run has, standing for the action's own.
    let dir = tempfile::tempdir().unwrap();
    fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
    fs::write(dir.path().join("marker"), unique_tag()).unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY marker /marker\n",
    )
    .unwrap();
    let source = format!("ecs-loadtest-test/generator:{}", unique_tag());
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &source])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let id = String::from_utf8_lossy(&built.stdout).trim().to_string();
    let run = || {
        ActionRun::for_setup(
            &harness,
            &setup,
            &[
                ("image", ""),
                ("tester", "generate"),
                ("generator-image", &source),
                ("ecr-repository", "tester"),
                ("target-url", "https://staging.example.com/"),
                ("rate", "10"),
                ("duration", "10s"),
                ("fail-on-under-delivery", "false"),
            ],
        )
        .run()
    };

    let first = run();
    first.assert_code(0);
    let tag = format!("ecs-loadtest-{}", id.replace(':', "-"));
    first.assert_stdout_has(&format!("Pushed {REGISTRY}/tester:{tag}"));
    let pushed = first.output("image").to_string();
    assert!(
        pushed.starts_with(&format!("{REGISTRY}/tester@sha256:")),
        "{pushed}"
    );

    let again = run();
    again.assert_code(0);
    assert_eq!(again.output("image"), pushed);
    again.assert_stdout_has(&format!("`tester:{tag}` is in ECR already"));
    let _ = Command::new("docker").args(["rmi", "-f", &source]).output();
}
