//! Secrets never echoed: the values of `headers`, `environment`, `body` and `build-args` appear
//! in no error and no plan, and a credential-looking one is masked before anything is printed.

use crate::common::ActionRun;

const BEARER: &str = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.s1gn4tur3";
const PASSWORD: &str = "correct-horse-battery-staple";
const BODY: &str = "{\"card\": \"4111111111111111\"}";
const BUILD_TOKEN: &str = "npm_0123456789abcdefghij";

fn secrets() -> [&'static str; 4] {
    [BEARER, PASSWORD, BODY, BUILD_TOKEN]
}

#[test]
fn a_plan_shows_no_secret_value() {
    let headers = format!("Authorization: Bearer {BEARER}\nAccept: application/json");
    let environment = format!("DB_PASSWORD={PASSWORD}\nREGION=eu-west-1");
    let workspace = tempfile::tempdir().unwrap();
    let finished = ActionRun::without_aws(&[
        ("backend", "local"),
        ("target-url", "http://127.0.0.1:9/"),
        ("rate", "10"),
        ("duration", "5s"),
        ("headers", &headers),
        ("environment", &environment),
        ("body", BODY),
        ("method", "POST"),
    ])
    .arg("plan")
    .in_dir(workspace.path())
    .run();
    finished.assert_code(0);
    for secret in secrets() {
        assert!(
            !finished.stdout.contains(secret) && !finished.stderr.contains(secret),
            "{secret} printed:\n{}",
            finished.stdout
        );
    }
    // The plan still names what is there; every value of these inputs is hidden, not only the
    // ones whose names look secret.
    assert!(
        finished.stdout.contains("\"DB_PASSWORD\""),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("\"REGION\""),
        "{}",
        finished.stdout
    );
    assert!(
        !finished.stdout.contains("eu-west-1"),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.matches("<not shown>").count() >= 4,
        "{}",
        finished.stdout
    );
}

#[test]
fn input_errors_name_the_input_but_never_echo_a_secret_value() {
    // Each of the four is malformed around its secret.
    let headers = format!("Authorization Bearer {BEARER}");
    let environment = format!("DB PASSWORD={PASSWORD}");
    let build_args = format!("NPM TOKEN={BUILD_TOKEN}");
    let finished = ActionRun::without_aws(&[
        ("backend", "local"),
        ("target-url", "http://127.0.0.1:9/"),
        ("rate", "10"),
        ("duration", "5s"),
        ("headers", &headers),
        ("environment", &environment),
        ("build-args", &build_args),
        ("dockerfile", "load/Dockerfile"),
        ("method", "GET"),
        ("body", BODY),
    ])
    .run();
    finished.assert_code(2);
    // Masks are what hide a secret; everything else must not hold one.
    let everything: String = format!("{}{}", finished.stdout, finished.stderr)
        .lines()
        .filter(|line| !line.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in secrets() {
        assert!(
            !everything.contains(secret),
            "{secret} printed:\n{everything}"
        );
    }
    // Each named, by the line's name where it has one.
    for shown in [
        "input `headers`: got `<",
        "input `environment`: got `DB PASSWORD=<28 characters, not shown>`",
        "input `build-args`: got `NPM TOKEN=<24 characters, not shown>`",
    ] {
        assert!(
            everything.contains(shown),
            "{shown} not said:\n{everything}"
        );
    }
}

#[test]
fn a_credential_header_is_masked_before_anything_else_is_printed() {
    let headers = format!("Authorization: Bearer {BEARER}");
    let environment = format!("DB_PASSWORD={PASSWORD}");
    let finished = ActionRun::without_aws(&[
        ("backend", "local"),
        ("target-url", "http://127.0.0.1:9/"),
        ("rate", "fast"),
        ("headers", &headers),
        ("environment", &environment),
    ])
    .run();
    finished.assert_code(2);
    let lines: Vec<&str> = finished.stdout.lines().collect();
    let masks: Vec<&str> = lines
        .iter()
        .take_while(|line| line.starts_with("::add-mask::"))
        .copied()
        .collect();
    let token_mask = format!("::add-mask::{}", crate::common::JOB_TOKEN);
    let bearer_whole = format!("::add-mask::Bearer {BEARER}");
    let bearer = format!("::add-mask::{BEARER}");
    let password = format!("::add-mask::{PASSWORD}");
    for expected in [&token_mask, &bearer_whole, &bearer, &password] {
        assert!(
            masks.contains(&expected.as_str()),
            "{expected} is not among the first lines:\n{}",
            finished.stdout
        );
    }
}

const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:loadtest/api-AbCdEf";

/// A run on Fargate (moto) of one task that ends at once, with a load and `extra` inputs.
fn fargate_run(extra: &[(&str, &str)]) -> (crate::common::Finished, crate::common::Harness) {
    let harness = crate::common::Harness::start();
    let setup = harness.setup("load", "tester", &[("tester", true)]);
    harness.script("load", serde_json::json!({}), serde_json::json!({}));
    let mut inputs = vec![
        ("target-url", "https://staging.example.com/"),
        ("rate", "10"),
        ("duration", "30s"),
    ];
    inputs.extend_from_slice(extra);
    let run = ActionRun::for_setup(&harness, &setup, &inputs).run();
    (run, harness)
}

/// `secrets` on Fargate: the registered revision references each secret (`valueFrom`), the
/// RunTask request carries only the `${NAME}` placeholder, and no warning is given for it.
#[test]
fn a_secret_reaches_the_task_definition_and_never_a_request() {
    let (run, harness) = fargate_run(&[
        ("headers", "Authorization: Bearer ${API_TOKEN}\nAccept: */*"),
        ("secrets", &format!("API_TOKEN={SECRET_ARN}")),
    ]);
    run.assert_code(0);
    assert!(!run.stdout.contains("::warning::input `headers`"), "{run}");

    let registered = harness.task_definition("load", run.output("task-definition-arn"));
    assert_eq!(
        registered["containers"][0]["secrets"],
        serde_json::json!([{"name": "API_TOKEN", "valueFrom": SECRET_ARN}]),
        "{registered:#}"
    );
    let tasks = harness.assert_none_running("load");
    assert_eq!(
        crate::common::env_of(&tasks[0], "HEADERS").as_deref(),
        Some("Authorization: Bearer ${API_TOKEN}\nAccept: */*")
    );
    assert_eq!(crate::common::env_of(&tasks[0], "API_TOKEN"), None);
}

/// What a run printed, but for the masks it registered (which hold the values, for the runner).
fn printed_but_masks(finished: &crate::common::Finished) -> String {
    format!("{}\n{}", finished.stdout, finished.stderr)
        .lines()
        .filter(|line| !line.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A credential written in `headers` or `environment` travels in every RunTask request: the run
/// warns of it by the header's or variable's name, never its value, and points to `secrets`.
#[test]
fn a_credential_written_in_the_workflow_is_warned_of_by_name() {
    let headers = format!("Authorization: Bearer {BEARER}");
    let environment = format!("DB_PASSWORD={PASSWORD}");
    let finished = ActionRun::without_aws(&[
        ("target-url", "https://staging.example.com/"),
        ("rate", "10"),
        ("duration", "30s"),
        ("cluster", "load"),
        ("task-definition", "tester"),
        ("subnets", "subnet-0123abcd"),
        ("image", "registry.example/tester:1"),
        ("headers", &headers),
        ("environment", &environment),
        ("secrets", "API_TOKEN=hunter2"),
    ])
    .run();
    // `secrets` names no ARN: an input error, which stops the run before anything starts.
    finished.assert_code(2);
    let said = printed_but_masks(&finished);
    assert!(
        said.contains("input `secrets`: got `API_TOKEN=hunter2`; expected lines `NAME=ARN`"),
        "{finished}"
    );
    for secret in secrets() {
        assert!(!said.contains(secret), "{secret} shown: {finished}");
    }
    let (run, _harness) = fargate_run(&[("headers", &headers), ("environment", &environment)]);
    run.assert_code(0);
    for name in [
        "headers`: the value of `Authorization`",
        "environment`: the value of `DB_PASSWORD`",
    ] {
        assert!(
            run.stdout.contains(&format!("::warning::input `{name}")),
            "{name}: {run}"
        );
    }
    let said = printed_but_masks(&run);
    for secret in [BEARER, PASSWORD] {
        assert!(!said.contains(secret), "{secret} shown: {run}");
    }
}

/// `ecs-loadtest generate` as a task runs it, with `environment` only.
fn generate_in_a_task(target: &str, environment: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ecs-loadtest"))
        .arg("generate")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TARGET_URL", target)
        .env("RATE", "20")
        .env("DURATION", "1")
        .envs(environment.iter().copied())
        .output()
        .unwrap()
}

/// In the task the built-in generator expands `${NAME}` in `headers` from the variable ECS put in
/// its environment: the target receives the secret, and nothing the generator prints holds it.
#[test]
fn the_generator_sends_the_secret_its_task_was_given() {
    use crate::server::{Behaviour, Server};
    let server = Server::start(Behaviour::default());
    let output = generate_in_a_task(
        &server.url(),
        &[
            ("HEADERS", "Authorization: Bearer ${API_TOKEN}"),
            ("API_TOKEN", BEARER),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        *server.seen.authorizations.lock().unwrap(),
        [format!("Bearer {BEARER}")]
    );
    assert!(!stdout.contains(BEARER), "{stdout}");

    // A task whose definition does not give the variable: it says which, and sends nothing.
    let output = generate_in_a_task(
        &server.url(),
        &[("HEADERS", "Authorization: Bearer ${SESSION}")],
    );
    assert!(!output.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("the task's environment has no `SESSION`"),
        "{said}"
    );
}
