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
