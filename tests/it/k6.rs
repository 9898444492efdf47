//! k6 scripts, run unchanged on several tasks with real k6 (`.venv/bin/k6`, installed by
//! scripts/setup-test-env.sh) on the local backend, against the project's loopback server.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{ActionRun, project_dir};
use crate::server::{Behaviour, Server};

/// The PATH with the test setup's k6 first.
fn path_with_k6() -> String {
    crate::common::path_with(".venv/bin", "k6")
}

/// A script in a folder of its own, which is the run's working directory (the workspace).
fn workspace(script: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.js");
    std::fs::write(&path, script).unwrap();
    (dir, path)
}

fn k6_run(dir: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    let mut all = vec![("backend", "local"), ("script", "load.js")];
    all.extend_from_slice(inputs);
    ActionRun::without_aws(&all)
        .env("PATH", &path_with_k6())
        .in_dir(dir)
}

const ARRIVAL_RATE: &str = r#"
import http from 'k6/http';
export const options = {
  scenarios: {
    load: { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '5s',
            preAllocatedVUs: 20 },
  },
};
export default function () {
  http.get(`${__ENV.BASE_URL}/home`, { tags: { name: 'home' } });
}
"#;

#[test]
fn a_script_on_four_tasks_sends_its_load_once_in_exact_shares_and_merges_to_the_servers_count() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(ARRIVAL_RATE);
    let base_url = format!("BASE_URL={}", server.url().trim_end_matches('/'));
    let run = k6_run(
        dir.path(),
        &[
            ("task-count", "4"),
            ("environment", &base_url),
            ("start-delay", "4s"),
        ],
    )
    .run();

    run.assert_code(0);
    let sent = server.requests();
    // 200 a second for 5 s, as one k6 would send it: k6 starts the first iteration at 0 s.
    assert!((990..=1010).contains(&sent), "the server saw {sent}\n{run}");
    let results = run.results();
    let merged = &results["merged"];
    assert_eq!(merged["tasks_reporting"], 4, "{results:#}");
    assert_eq!(merged["requests"], sent, "{results:#}");
    let shares = crate::common::task_shares(&results);
    assert_eq!(shares.iter().sum::<u64>(), sent, "{shares:?}");
    assert!(shares.iter().all(|share| *share > 0), "{shares:?}");
    // Paused until START_AT and resumed together, within the report's own rule (a task that began
    // more than 1 s after START_AT is named late). A tighter bound would time this shared
    // machine, not the wrapper.
    let skew = merged["start_skew_ms"].as_u64().unwrap();
    assert!(skew < 1000, "start skew {skew} ms\n{run}");
    run.assert_stdout_has("execution segment 3/4:1");
}

#[test]
fn the_scripts_thresholds_are_judged_on_every_tasks_results_together() {
    let server = Server::start(Behaviour::default());
    let script = |thresholds: &str| {
        format!(
            r#"
import http from 'k6/http';
export const options = {{
  scenarios: {{ load: {{ executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s',
                          duration: '2s', preAllocatedVUs: 5 }} }},
  thresholds: {{ {thresholds} }},
}};
export default function () {{ http.get(__ENV.BASE_URL, {{ tags: {{ name: 'home' }} }}); }}
"#
        )
    };
    let base_url = format!("BASE_URL={}", server.url());
    let inputs = [("task-count", "2"), ("environment", base_url.as_str())];

    let (dir, _) = workspace(&script(
        "http_req_duration: ['p(95)<0.001'], 'http_req_duration{status:200}': ['p(95)<500']",
    ));
    let failing = k6_run(dir.path(), &inputs).run();
    failing.assert_code(99);
    failing.assert_stdout_has("threshold `http_req_duration: p(95)<0.001` failed");
    failing.assert_stdout_has(
        "the script's threshold `http_req_duration{status:200}: p(95)<500` is not applied",
    );
    let sent = server.requests();

    // With `strict-thresholds`, a threshold that cannot be judged fails the run before any load.
    let strict_inputs = [inputs[0], inputs[1], ("strict-thresholds", "true")];
    let strict = k6_run(dir.path(), &strict_inputs).run();
    assert_ne!(strict.code(), 0, "{strict}");
    strict.assert_stdout_has("`strict-thresholds` is true and the script's thresholds `http_req_duration{status:200}: p(95)<500`");
    assert_eq!(server.requests(), sent, "no load was sent");
    assert!(
        !strict.stdout.contains("Task 1/2"),
        "a task started\n{strict}"
    );

    let tasks = failing.results()["tasks"].clone();
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|task| task["exit_code"] == 0),
        "every task exits 0 while the merged threshold fails: {tasks:#}"
    );

    let (dir, _) = workspace(&script(
        "http_req_duration: ['p(95)<5000'], http_req_failed: ['rate<0.01'], http_reqs: ['count>=70'], 'http_req_duration{name:home}': ['p(95)<5000']",
    ));
    let passing = k6_run(dir.path(), &inputs).run();
    passing.assert_code(0);
    let thresholds = passing.results()["thresholds"].clone();
    assert_eq!(thresholds.as_array().unwrap().len(), 4, "{thresholds:#}");
    assert!(
        thresholds
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["held"] == Value::Bool(true)),
        "{thresholds:#}"
    );
}

#[test]
fn a_script_k6_refuses_fails_before_any_load_naming_k6s_message() {
    let server = Server::start(Behaviour::default());
    let (dir, _) =
        workspace("import http from 'k6/http';\nexport default function () {\n  http.get(;\n}\n");
    let base_url = format!("BASE_URL={}", server.url());
    let run = k6_run(dir.path(), &[("environment", &base_url)]).run();

    assert_ne!(run.code(), 0, "{run}");
    run.assert_stdout_has("k6 refused the script load.js");
    assert_eq!(server.requests(), 0);
    assert!(!run.stdout.contains("Task 1/1"), "a task started\n{run}");
}

#[test]
fn request_names_and_checks_are_merged_exactly_across_tasks() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(
        r#"
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: { load: { executor: 'shared-iterations', vus: 4, iterations: 60, maxDuration: '30s' } },
  thresholds: { checks: ['rate>0.99'] },
};
export default function () {
  const home = http.get(`${__ENV.BASE_URL}/home`, { tags: { name: 'home' } });
  check(home, { 'home answers 200': (r) => r.status === 200 });
  http.get(`${__ENV.BASE_URL}/cart/${__VU}-${__ITER}`, { tags: { name: 'cart' } });
}
"#,
    );
    let base_url = format!("BASE_URL={}", server.url().trim_end_matches('/'));
    let run = k6_run(
        dir.path(),
        &[
            ("task-count", "2"),
            ("environment", &base_url),
            (
                "thresholds",
                "requests{name=cart} == 60\np95{name=home} < 5s\nerror_rate{name=home} < 1%",
            ),
        ],
    )
    .run();

    run.assert_code(0);
    assert_eq!(server.requests(), 120, "{run}");
    let merged = run.results()["merged"].clone();
    assert_eq!(merged["requests"], 120, "{merged:#}");
    let rows: Vec<(String, u64)> = merged["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap().to_string(),
                row["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("cart".to_string(), 60), ("home".to_string(), 60)],
        "{merged:#}"
    );
    assert_eq!(merged["checks"]["passed"], 60, "{merged:#}");
    assert_eq!(merged["checks"]["failed"], 0, "{merged:#}");
    run.assert_stdout_has("Checks: 60 of 60 passed (100.00%)");
    // Rules on one request name, read from that name's samples of both tasks together.
    let thresholds = run.results()["thresholds"].clone();
    let checked: Vec<(String, bool, String)> = thresholds
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            (
                check["rule"].as_str().unwrap().to_string(),
                check["held"].as_bool().unwrap(),
                check["measured"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(checked.len(), 4, "{thresholds:#}");
    assert_eq!(
        checked[0],
        (
            "requests{name=cart} == 60".to_string(),
            true,
            "60".to_string()
        )
    );
    assert!(checked.iter().all(|(_, held, _)| *held), "{thresholds:#}");
    assert_eq!(checked[3].0, "checks: rate>0.99", "{thresholds:#}");
}

#[test]
fn without_k6_on_the_path_a_script_is_refused_by_name_before_anything_starts() {
    let (dir, _) = workspace(ARRIVAL_RATE);
    let run = ActionRun::without_aws(&[("backend", "local"), ("script", "load.js")])
        .env("PATH", "/usr/bin:/bin")
        .in_dir(dir.path())
        .run();

    run.assert_code(2);
    run.assert_stdout_has("input `script`: got `load.js`; expected `k6` on the PATH");
}

/// A k6 image such as `grafana/k6` (none can be pulled here): the test setup's static k6 on an
/// empty base with a `/tmp`, built once per test binary. It also holds the dynamic loader and
/// libraries of the binary under test, which the action's test image carries beside it (the
/// release build is one static file, which runs on grafana/k6 as it is).
pub fn k6_image() -> &'static str {
    const IMAGE: &str = "ecs-loadtest-test/k6:pypi-with-libraries";
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let context = tempfile::tempdir().unwrap();
        let root = context.path().join("root");
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::set_permissions(
            root.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        std::fs::copy(
            project_dir().join(".venv/bin/k6"),
            root.join("usr/bin/k6"),
        )
        .expect("k6 from scripts/setup-test-env.sh");
        crate::action::copy_linked_libraries(
            Path::new(env!("CARGO_BIN_EXE_ecs-loadtest")),
            &root,
        );
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY root/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nENTRYPOINT [\"k6\"]\n",
        )
        .unwrap();
        crate::common::docker_build(context.path(), IMAGE);
    });
    IMAGE
}

/// What a task of the composed image prints: the wrapper run here with that task's index, as the
/// image's command runs it, against `server`.
pub fn task_output(dir: &Path, index: usize, count: usize, base_url: &str) -> Vec<String> {
    crate::common::wrapped_task_lines(
        dir,
        &["k6", "--", "k6", "run", "load/checkout.js"],
        &[
            ("PATH", path_with_k6()),
            ("TASK_INDEX", index.to_string()),
            ("TASK_COUNT", count.to_string()),
            ("BASE_URL", base_url.to_string()),
        ],
    )
}

/// On Fargate a script's tasks run an image made for it: the k6 image, this action's binary from
/// the action's image, and the script's folder (what `.dockerignore` keeps), tagged by its
/// content. `k6 inspect` runs in that image before it is pushed, so a script k6 refuses (or an
/// import the folder lacks) stops the run before anything is pushed or started.
#[test]
fn on_fargate_a_script_runs_in_an_image_composed_for_it_and_its_tasks_merge_exactly() {
    let harness = crate::common::Harness::start();
    let setup = harness.setup_with_repository("load", "tester", "tester");
    let server = Server::start(Behaviour::default());
    let base_url = server.url().trim_end_matches('/').to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("load")).unwrap();
    // The run's own mark in the script: the test registry keeps what earlier runs pushed.
    let script = format!(
        r#"// {}
import http from 'k6/http';
import {{ check }} from 'k6';
import {{ path }} from './lib.js';
export const options = {{
  scenarios: {{ load: {{ executor: 'shared-iterations', vus: 4, iterations: 40, maxDuration: '20s' }} }},
  thresholds: {{ http_req_duration: ['p(95)<5000'], checks: ['rate>0.99'] }},
}};
export default function () {{
  const res = http.get(`${{__ENV.BASE_URL}}${{path}}`, {{ tags: {{ name: 'home' }} }});
  check(res, {{ 'status 200': (r) => r.status === 200 }});
}}
"#,
        crate::common::unique_tag()
    );
    std::fs::write(dir.path().join("load/checkout.js"), &script).unwrap();
    std::fs::write(
        dir.path().join("load/lib.js"),
        "export const path = '/home';\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("load/big.har"), vec![b'x'; 4 << 20]).unwrap();
    std::fs::write(dir.path().join("load/.dockerignore"), "*.har\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "not in the image\n").unwrap();

    let lines: Vec<Vec<String>> = (0..2)
        .map(|index| task_output(dir.path(), index, 2, &base_url))
        .collect();
    assert_eq!(server.requests(), 40);
    harness.log_per_task("load", &lines);
    let run = || {
        ActionRun::for_setup(
            &harness,
            &setup,
            &[
                ("image", ""),
                ("script", "load/checkout.js"),
                ("task-count", "2"),
                ("ecr-repository", "tester"),
                ("tester-image", k6_image()),
                ("generator-image", crate::action::action_image()),
                ("environment", &format!("BASE_URL={base_url}")),
            ],
        )
        .in_dir(dir.path())
        .run()
    };

    let first = run();
    first.assert_code(0);
    let registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    first.assert_stdout_has(&format!("Pushed {registry}/tester:k6-"));
    first.assert_stdout_has("1 left out by .dockerignore");
    first.assert_stdout_has(
        "The script's thresholds, judged on every task's results together: `checks: rate>0.99`, `http_req_duration: p(95)<5000`",
    );
    let image = first.output("image").to_string();
    assert!(
        image.starts_with(&format!("{registry}/tester@sha256:")),
        "{image}"
    );
    let tasks = harness.tasks("load");
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        let container = &task["overrides"]["containerOverrides"][0];
        assert_eq!(
            container["command"],
            serde_json::json!(["wrap", "k6", "--", "k6", "run", "load/checkout.js"]),
            "{task:#}"
        );
        let environment = container["environment"].to_string();
        assert!(environment.contains("\"TASK_COUNT\""), "{environment}");
    }
    let results = first.results();
    assert_eq!(results["merged"]["requests"], 40, "{results:#}");
    assert_eq!(results["merged"]["tasks_reporting"], 2, "{results:#}");
    let shares = crate::common::task_shares(&results);
    assert_eq!(shares, [20, 20], "{results:#}");
    assert!(
        results["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|check| check["held"] == Value::Bool(true)),
        "{results:#}"
    );

    // The same content: the same tag, found in ECR, nothing pushed over it.
    let again = run();
    again.assert_code(0);
    assert_eq!(again.output("image"), image);
    again.assert_stdout_has("is in ECR already");

    // k6 refuses the script in the image: no push, no task.
    std::fs::write(
        dir.path().join("load/checkout.js"),
        script.replace("check(res,", "check(res,,"),
    )
    .unwrap();
    let refused = run();
    assert_ne!(refused.code(), 0, "{refused}");
    refused.assert_stdout_has("k6 refused the script load/checkout.js");
    assert!(!refused.stdout.contains("Pushed"), "{refused}");
    assert_eq!(
        harness.tasks("load").len(),
        4,
        "no third run's task started"
    );
}

/// Without k6 on the PATH (as in the action's own container), the local backend runs a script's
/// tasks as containers of the image made for it: the wrapper, k6 and the script run in there,
/// on the host's network, and merge to the server's count.
#[test]
fn without_k6_here_the_local_backend_runs_the_scripts_image_as_containers() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(
        r#"
import http from 'k6/http';
export const options = {
  scenarios: { load: { executor: 'shared-iterations', vus: 3, iterations: 30, maxDuration: '20s' } },
  thresholds: { http_reqs: ['count>=30'] },
};
export default function () { http.get(__ENV.BASE_URL); }
"#,
    );
    let base_url = format!("BASE_URL={}", server.url());
    let run = ActionRun::without_aws(&[
        ("backend", "local"),
        ("script", "load.js"),
        ("task-count", "3"),
        ("environment", &base_url),
        ("tester-image", k6_image()),
        ("generator-image", crate::action::action_image()),
    ])
    .env("PATH", "/usr/bin:/bin")
    .in_dir(dir.path())
    .run();

    run.assert_code(0);
    run.assert_stdout_has("Tasks run ecs-loadtest-local:k6-");
    run.assert_stdout_has("execution segment 2/3:1");
    assert_eq!(server.requests(), 30, "{run}");
    let results = run.results();
    assert_eq!(results["merged"]["requests"], 30, "{results:#}");
    assert_eq!(
        results["thresholds"][0]["rule"], "http_reqs: count>=30",
        "{results:#}"
    );
    assert_eq!(results["thresholds"][0]["held"], true, "{results:#}");
}

/// The files of an image, from `docker export` of a container made of it (never started).
fn files_in_image(image: &str) -> Vec<String> {
    let created = std::process::Command::new("docker")
        .args(["create", image])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let container = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let exported = std::process::Command::new("sh")
        .args(["-c", &format!("docker export {container} | tar -t")])
        .output()
        .unwrap();
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &container])
        .output();
    assert!(exported.status.success(), "{exported:?}");
    String::from_utf8(exported.stdout)
        .unwrap()
        .lines()
        .map(|line| line.trim_end_matches('/').to_string())
        .collect()
}

/// An image made for a script carries the script's folder, but never `.git/` or the files that
/// commonly hold credentials, wherever they are in it: each is named once in the log, and a `!`
/// line of the folder's own `.dockerignore` brings one back.
#[test]
fn an_image_made_for_a_script_leaves_the_workspaces_credentials_out() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(&format!(
        "// {}\nimport http from 'k6/http';\nexport const options = {{ iterations: 1 }};\nexport default function () {{ http.get(__ENV.BASE_URL); }}\n",
        crate::common::unique_tag()
    ));
    let root = dir.path();
    for (path, text) in [
        (
            ".git/config",
            "[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldA==\n",
        ),
        (".env", "API_TOKEN=secret\n"),
        ("api/.env.production", "DB_PASSWORD=secret\n"),
        ("gha-creds-0a1b2c3d.json", "{}\n"),
        ("tools/.npmrc", "//registry.npmjs.org/:_authToken=secret\n"),
        (".aws/credentials", "[default]\n"),
        (".docker/config.json", "{}\n"),
        ("certs/client.pem", "-----BEGIN PRIVATE KEY-----\n"),
        ("certs/public.key", "ssh-ed25519 AAAA\n"),
        ("data/users.csv", "alice\n"),
        (".dockerignore", "!certs/public.key\n"),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    let run = ActionRun::without_aws(&[
        ("backend", "local"),
        ("script", "load.js"),
        ("environment", &format!("BASE_URL={}", server.url())),
        ("tester-image", k6_image()),
        ("generator-image", crate::action::action_image()),
    ])
    .env("PATH", "/usr/bin:/bin")
    .in_dir(root)
    .run();
    run.assert_code(0);
    let image = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("Tasks run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no image named\n{run}"));
    let files = files_in_image(image);
    for kept in [
        "work/load.js",
        "work/data/users.csv",
        "work/certs/public.key",
    ] {
        assert!(
            files.iter().any(|file| file == kept),
            "{kept} missing: {files:?}"
        );
    }
    for left_out in [
        ".git",
        ".env",
        "api/.env.production",
        "gha-creds-0a1b2c3d.json",
        "tools/.npmrc",
        ".aws",
        ".docker/config.json",
        "certs/client.pem",
    ] {
        assert!(
            !files
                .iter()
                .any(|file| file.starts_with(&format!("work/{left_out}"))),
            "{left_out} is in the image: {files:?}"
        );
        let said = format!("Left out of the image, as it commonly holds credentials: {left_out} ");
        assert_eq!(run.stdout.matches(&said).count(), 1, "{said}\n{run}");
    }
    assert!(!run.stdout.contains("credentials: .git/config"), "{run}");
}

/// `abortOnFail`: the threshold is checked on every task's progress during the run, and when it
/// fails every task is stopped, their results merged, and the run fails with 99 as k6 would.
#[test]
fn an_abort_on_fail_threshold_stops_every_task_when_the_merged_progress_fails_it() {
    let server = Server::start(Behaviour::default());
    let (dir, _) = workspace(
        r#"
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: { load: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s',
                        duration: '60s', preAllocatedVUs: 5 } },
  thresholds: { checks: [{ threshold: 'rate>0.99', abortOnFail: true, delayAbortEval: '5s' }] },
};
export default function () {
  const res = http.get(__ENV.BASE_URL);
  check(res, { 'is a teapot': (r) => r.status === 418 });
}
"#,
    );
    let base_url = format!("BASE_URL={}", server.url());
    let began = std::time::Instant::now();
    let run = k6_run(
        dir.path(),
        &[("task-count", "2"), ("environment", &base_url)],
    )
    .run();
    let took = began.elapsed();

    run.assert_code(99);
    run.assert_stdout_has("stops every task when it fails (abortOnFail) from 5 s into the load");
    run.assert_stdout_has("threshold `checks: rate>0.99` failed at ");
    assert!(
        took < std::time::Duration::from_secs(45),
        "the 60 s test was stopped early: {took:?}\n{run}"
    );
    let results = run.results();
    let sent = server.requests();
    assert!(sent < 1000, "{sent} of 1,200 requests were sent");
    // What the stopped tasks recorded is merged, and the rule failed as it stopped them. A request
    // in flight when k6 is stopped reached the server, but k6 interrupts its iteration and
    // records no sample of it: at most one a virtual user (5 in all) may be missing.
    let merged = results["merged"]["requests"].as_u64().unwrap();
    assert!(
        merged <= sent && sent - merged <= 5,
        "merged {merged} of the {sent} the server saw\n{results:#}"
    );
    let check = &results["thresholds"][0];
    assert_eq!(check["held"], false, "{results:#}");
    assert!(
        check["measured"].as_str().unwrap().contains("abortOnFail"),
        "{results:#}"
    );
    for task in results["tasks"].as_array().unwrap() {
        assert_eq!(task["outcome"], "stopped at a threshold", "{results:#}");
    }
}

/// `insecure-tls` reaches a script's tester too: k6 runs `--insecure-skip-tls-verify`, so a
/// target whose certificate no one trusts is load-tested; without it every request is a TLS
/// error, with k6's reason.
#[test]
fn insecure_tls_makes_k6_skip_certificate_verification() {
    let server = Server::start(Behaviour {
        tls: true,
        tls_certificate_is_a_ca: true,
        ..Behaviour::default()
    });
    let (dir, _) = workspace(
        "import http from 'k6/http';\nexport const options = { iterations: 10, vus: 1 };\nexport default function () { http.get(`${__ENV.TARGET_URL}`); }\n",
    );
    let run = |insecure: &str| {
        k6_run(
            dir.path(),
            &[
                ("target-url", &server.tls_url()),
                ("insecure-tls", insecure),
            ],
        )
        .run()
    };
    let refused = run("false");
    let merged = &refused.results()["merged"];
    assert_eq!(merged["requests"], 10, "{refused}");
    assert_eq!(merged["errors"], 10, "{refused}");
    assert_eq!(server.requests(), 0);

    let insecure = run("true");
    insecure.assert_code(0);
    insecure.assert_stdout_has("k6: --insecure-skip-tls-verify (insecure-tls)");
    let merged = &insecure.results()["merged"];
    assert_eq!(merged["errors"], 0, "{insecure}");
    assert_eq!(merged["requests"], server.requests(), "{insecure}");
    assert_eq!(server.requests(), 10);
}
