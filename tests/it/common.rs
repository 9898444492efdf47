//! Integration-test support: the moto harness (tests/harness/moto_harness.py) and the real binary
//! run the way the GitHub runner runs it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// `action.yml` as GitHub's runner reads it: through a YAML parser, so a file the runner would
/// refuse to load fails every test that starts the action.
pub struct ActionMetadata {
    /// Every declared input with its default, in the file's order.
    pub inputs: Vec<(String, Option<String>)>,
    /// The `runs` section: `using`, `image`, `entrypoint`, `post-entrypoint`, `post-if`, …
    pub runs: BTreeMap<String, String>,
    /// `runs.args`, when declared.
    pub args: Vec<String>,
}

/// The token the runner gives the job, which `${{ github.token }}` evaluates to.
pub const JOB_TOKEN: &str = "ghs_job_token_of_the_test_runner";

pub fn action_metadata() -> &'static ActionMetadata {
    static METADATA: std::sync::OnceLock<ActionMetadata> = std::sync::OnceLock::new();
    METADATA.get_or_init(|| {
        let path = project_dir().join("action.yml");
        let text = std::fs::read_to_string(&path).unwrap();
        parse_action_metadata(&text).unwrap_or_else(|error| {
            panic!(
                "{}: GitHub's runner would refuse to load it: {error}",
                path.display()
            )
        })
    })
}

pub fn parse_action_metadata(text: &str) -> Result<ActionMetadata, String> {
    use yaml_rust2::{Yaml, YamlLoader};
    let documents = YamlLoader::load_from_str(text).map_err(|error| error.to_string())?;
    let [document] = documents.as_slice() else {
        return Err(format!("{} YAML documents, not one", documents.len()));
    };
    // The runner reads a scalar default as its text.
    let scalar = |value: &Yaml| match value {
        Yaml::String(text) | Yaml::Real(text) => Some(text.clone()),
        Yaml::Integer(number) => Some(number.to_string()),
        Yaml::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    };
    let Some(inputs) = document["inputs"].as_hash() else {
        return Err("no `inputs` mapping".into());
    };
    let mut declared = Vec::new();
    for (name, input) in inputs {
        let name = name.as_str().ok_or("an input name that is not a string")?;
        if input["description"].as_str().is_none() {
            return Err(format!("input `{name}` has no description"));
        }
        declared.push((name.to_string(), scalar(&input["default"])));
    }
    let Some(runs) = document["runs"].as_hash() else {
        return Err("no `runs` mapping".into());
    };
    let mut sections = BTreeMap::new();
    let mut args = Vec::new();
    for (key, value) in runs {
        let key = key.as_str().ok_or("a `runs` key that is not a string")?;
        if key == "args" {
            for arg in value.as_vec().ok_or("`runs.args` is not a list")? {
                args.push(scalar(arg).ok_or("a `runs.args` item that is not a scalar")?);
            }
        } else {
            let value = scalar(value).ok_or_else(|| format!("`runs.{key}` is not a scalar"))?;
            sections.insert(key.to_string(), value);
        }
    }
    Ok(ActionMetadata {
        inputs: declared,
        runs: sections,
        args,
    })
}

/// The `INPUT_*` variables the runner sets for a step `with:` these inputs: every declared input,
/// the value given or else its default (`${{ github.token }}` evaluated to the job's token), an
/// input with neither as "". An input the action does not declare is a mistake in the test.
pub fn input_environment(given: &[(&str, &str)]) -> Vec<(String, String)> {
    let declared = &action_metadata().inputs;
    for (name, _) in given {
        assert!(
            declared.iter().any(|(declared, _)| declared == name),
            "input {name} is not declared in action.yml"
        );
    }
    declared
        .iter()
        .map(|(name, default)| {
            let value = match given.iter().find(|(input, _)| input == name) {
                Some((_, value)) => (*value).to_string(),
                None => evaluate(default.as_deref().unwrap_or("")),
            };
            (format!("INPUT_{}", name.to_uppercase()), value)
        })
        .collect()
}

/// The expressions action.yml's defaults use, as the runner evaluates them for a job.
fn evaluate(default: &str) -> String {
    let evaluated = default.replace("${{ github.token }}", JOB_TOKEN);
    assert!(
        !evaluated.contains("${{"),
        "the test support cannot evaluate the default {default:?}: add it here"
    );
    evaluated
}

/// An image tag no earlier test run pushed: the test registry keeps what was pushed to it, and a
/// tag already there is run, not built again.
pub fn unique_tag() -> String {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t{nanos:x}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("ECS_LOADTEST_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = project_dir().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `scripts/test.sh`, which installs the pinned moto server",
        venv.display()
    );
    venv
}

/// One moto server with the harness patches, private to one test.
pub struct Harness {
    pub port: u16,
    child: Child,
    // Closing the harness's stdin (on drop) makes it exit.
    _stdin: ChildStdin,
}

impl Harness {
    pub fn start() -> Harness {
        let (child, stdin, port) = start_helper("moto_harness.py", &[]);
        Harness {
            port,
            child,
            _stdin: stdin,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn request(&self, method: &str, path: &str, body: &Value) -> Value {
        json_request(self.port, method, path, body)
    }

    /// Creates a cluster, a security group and a task definition with these containers
    /// (`(name, essential)`), each logging with awslogs.
    pub fn setup(&self, cluster: &str, family: &str, containers: &[(&str, bool)]) -> Setup {
        let containers: Vec<Value> = containers
            .iter()
            .map(|(name, essential)| json!({"name": name, "essential": essential}))
            .collect();
        self.setup_with(cluster, family, Value::Array(containers))
    }

    /// How tasks of `cluster` end: `default` for all, `tasks` by TASK_INDEX.
    pub fn script(&self, cluster: &str, default: Value, tasks: Value) {
        self.request(
            "POST",
            "/_harness/script",
            &json!({"cluster": cluster, "default": default, "tasks": tasks}),
        );
    }

    /// The tasks of `cluster` log these lines, task i the i-th list, and end as by default.
    pub fn log_per_task(&self, cluster: &str, lines: &[Vec<String>]) {
        let tasks: serde_json::Map<String, Value> = lines
            .iter()
            .enumerate()
            .map(|(index, lines)| (index.to_string(), json!({"logs": {"lines": lines}})))
            .collect();
        self.script(cluster, json!({}), Value::Object(tasks));
    }

    /// Answers that share of these AWS actions with ThrottlingException.
    pub fn throttle(&self, share: f64, actions: &[&str]) {
        self.request(
            "POST",
            "/_harness/throttle",
            &json!({"share": share, "actions": actions}),
        );
    }

    /// Each request for `action` waits `seconds` before moto applies it.
    pub fn delay(&self, action: &str, seconds: f64) {
        self.request(
            "POST",
            "/_harness/delay",
            &json!({"actions": {action: seconds}}),
        );
    }

    /// Like `setup` with one `tester` container, and an ECR repository.
    pub fn setup_with_repository(&self, cluster: &str, family: &str, repository: &str) -> Setup {
        self.setup_body(json!({
            "cluster": cluster, "family": family, "containers": [{"name": "tester"}], "ecr_repository": repository
        }))
    }

    /// Like `setup`, with containers given as JSON (`{"name", "essential", "logs"}`).
    pub fn setup_with(&self, cluster: &str, family: &str, containers: Value) -> Setup {
        self.setup_body(json!({"cluster": cluster, "family": family, "containers": containers}))
    }

    fn setup_body(&self, body: Value) -> Setup {
        let answer = self.request("POST", "/_harness/setup", &body);
        let cluster = body["cluster"].as_str().unwrap();
        let family = body["family"].as_str().unwrap();
        Setup {
            cluster: cluster.to_string(),
            family: family.to_string(),
            subnets: answer["subnets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect(),
            security_group: answer["security_group"].as_str().unwrap().to_string(),
        }
    }

    /// Like `setup` with one `tester` container, in `region`, with an ECR repository there when
    /// one is named.
    pub fn setup_in(&self, region: &str, cluster: &str, repository: Option<&str>) -> Setup {
        self.setup_body(json!({
            "region": region, "cluster": cluster, "family": "tester",
            "containers": [{"name": "tester"}], "ecr_repository": repository
        }))
    }

    /// The tasks of `cluster` in `region`.
    pub fn tasks_in(&self, region: &str, cluster: &str) -> Vec<Value> {
        self.request(
            "GET",
            &format!("/_harness/state?cluster={cluster}&region={region}"),
            &json!({}),
        )["tasks"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Every request signed for `service` in `region` is answered with a 500 for `seconds`
    /// (0 ends the outage).
    pub fn outage(&self, region: &str, service: &str, seconds: f64) {
        self.request(
            "POST",
            "/_harness/outage",
            &json!({"region": region, "service": service, "seconds": seconds}),
        );
    }

    pub fn state(&self, cluster: &str) -> Value {
        self.request(
            "GET",
            &format!("/_harness/state?cluster={cluster}"),
            &json!({}),
        )
    }

    /// The task definition revision `arn` as the harness holds it (`containers` whole).
    pub fn task_definition(&self, cluster: &str, arn: &str) -> Value {
        let state = self.state(cluster);
        state["task_definitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|definition| definition["arn"] == arn)
            .unwrap_or_else(|| panic!("{arn} is not registered: {state:#}"))
            .clone()
    }

    pub fn tasks(&self, cluster: &str) -> Vec<Value> {
        self.state(cluster)["tasks"].as_array().unwrap().clone()
    }

    /// The AWS actions the server received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state("")["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|action| action.as_str().unwrap().to_string())
            .collect()
    }

    /// Asserts that no task of `cluster` is left running, and returns them all.
    pub fn assert_none_running(&self, cluster: &str) -> Vec<Value> {
        let tasks = self.tasks(cluster);
        for task in &tasks {
            assert_eq!(task["lastStatus"], "STOPPED", "task left behind: {task:#}");
        }
        tasks
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One JSON request to a test server on 127.0.0.1 (the harness, the fault proxy).
fn json_request(port: u16, method: &str, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to a test server");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("writing to a test server");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("reading a test server");
    let (head, payload) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    serde_json::from_str(payload).unwrap_or_else(|error| panic!("{path}: {error}: {payload}"))
}

/// Starts a helper script that prints `{"port": N}` first and exits when its stdin closes.
fn start_helper(script: &str, args: &[String]) -> (Child, ChildStdin, u16) {
    let mut child = Command::new(python())
        .arg(project_dir().join("tests/harness").join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {script}: {error}"));
    let stdin = child.stdin.take().expect("helper stdin");
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().expect("helper stdout"))
        .read_line(&mut first_line)
        .unwrap_or_else(|error| panic!("reading the port of {script}: {error}"));
    let ready: Value = serde_json::from_str(&first_line)
        .unwrap_or_else(|_| panic!("{script} did not start: {first_line:?}"));
    let port = ready["port"].as_u64().expect("port") as u16;
    (child, stdin, port)
}

/// The fault-injecting proxy (tests/harness/fault_proxy.py) in front of a harness: point
/// `AWS_ENDPOINT_URL` at `endpoint()`.
pub struct FaultProxy {
    pub port: u16,
    child: Child,
    _stdin: ChildStdin,
}

impl FaultProxy {
    pub fn start(harness: &Harness) -> FaultProxy {
        let (child, stdin, port) = start_helper("fault_proxy.py", &[harness.port.to_string()]);
        FaultProxy {
            port,
            child,
            _stdin: stdin,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sets the faults (see fault_proxy.py) and restarts the draw from their seed.
    pub fn faults(&self, config: Value) {
        json_request(self.port, "POST", "/_proxy/faults", &config);
    }

    /// The requests seen and the faults injected, in total and per AWS action.
    pub fn counts(&self) -> Value {
        json_request(self.port, "GET", "/_proxy/counts", &json!({}))
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Setup {
    pub cluster: String,
    pub family: String,
    pub subnets: Vec<String>,
    pub security_group: String,
}

/// The binary, run with the environment a GitHub Actions Docker step gets.
pub struct ActionRun {
    pub command: Command,
    pub dir: tempfile::TempDir,
}

impl ActionRun {
    pub fn new(harness: &Harness, inputs: &[(&str, &str)]) -> ActionRun {
        ActionRun::without_aws(inputs)
            .env("AWS_ENDPOINT_URL", &harness.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            // Never ask an instance metadata endpoint for credentials from a test.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Moto has no Price List API (a call to it is never answered): tests that need one
            // set their own; for the others it is a port where nothing listens.
            .env("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:9")
            // The product's own settings for the pace of AWS (`tuning`), set to moto's: its tasks
            // change state within milliseconds, and the harness writes a stopped task's last
            // lines within 3 s (awslogs sends a batch every 5 s, hence the default of 6 s).
            .env("ECS_LOADTEST_POLL_INTERVAL", "500ms")
            .env("ECS_LOADTEST_LOG_QUIET", "4s")
    }

    /// The action as the runner starts it, with no AWS settings (the local backend).
    pub fn without_aws(inputs: &[(&str, &str)]) -> ActionRun {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-loadtest"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "acme/shop")
            .env("GITHUB_RUN_ID", "9876543210")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_OUTPUT", dir.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", dir.path().join("summary"))
            .env("GITHUB_STATE", dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in input_environment(inputs) {
            command.env(name, value);
        }
        ActionRun { command, dir }
    }

    /// Inputs for a run against `setup` with `image`, plus `extra`.
    pub fn for_setup(harness: &Harness, setup: &Setup, extra: &[(&str, &str)]) -> ActionRun {
        let subnets = setup.subnets.join(",");
        let mut inputs: Vec<(&str, &str)> = vec![
            ("cluster", &setup.cluster),
            ("task-definition", &setup.family),
            ("subnets", &subnets),
            ("security-groups", &setup.security_group),
            (
                "image",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/tester:abc1234",
            ),
        ];
        for (name, value) in extra {
            inputs.retain(|(input, _)| input != name);
            inputs.push((name, value));
        }
        ActionRun::new(harness, &inputs)
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.command.arg(arg);
        self
    }

    /// Runs in `dir`, as the runner runs the action in the workspace.
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn env_remove(mut self, name: &str) -> Self {
        self.command.env_remove(name);
        self
    }

    pub fn run(mut self) -> Finished {
        let output = self.command.output().expect("running ecs-loadtest");
        Finished::new(output, self.dir)
    }

    pub fn spawn(mut self) -> (Child, tempfile::TempDir) {
        (
            self.command.spawn().expect("starting ecs-loadtest"),
            self.dir,
        )
    }
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub dir: tempfile::TempDir,
}

impl Finished {
    pub fn new(output: Output, dir: tempfile::TempDir) -> Finished {
        let outputs = read_outputs(&dir.path().join("output"));
        Finished {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            outputs,
            dir,
        }
    }

    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn output(&self, name: &str) -> &str {
        self.outputs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output {name}: {:?}\n{self}", self.outputs))
    }

    /// The `results` output, as JSON.
    pub fn results(&self) -> Value {
        serde_json::from_str(self.output("results"))
            .unwrap_or_else(|error| panic!("the results output is not JSON ({error}):\n{self}"))
    }

    /// What the step appended to `GITHUB_STEP_SUMMARY` (empty when nothing).
    pub fn summary(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("summary")).unwrap_or_default()
    }

    pub fn task_arns(&self) -> Vec<String> {
        serde_json::from_str(self.output("task-arns")).unwrap()
    }

    pub fn assert_code(&self, code: i32) {
        assert_eq!(self.code(), code, "unexpected exit status\n{self}");
    }

    pub fn assert_stdout_has(&self, text: &str) {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// What a step saved for its post step in `GITHUB_STATE`, by name.
pub fn saved_state(dir: &tempfile::TempDir) -> BTreeMap<String, String> {
    read_outputs(&dir.path().join("state"))
}

/// Parses `GITHUB_OUTPUT` (and `GITHUB_STATE`) heredoc records.
pub fn read_outputs(path: &Path) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return outputs;
    };
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line
            .split_once("<<")
            .unwrap_or_else(|| panic!("not a heredoc: {line}"));
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        outputs.insert(name.to_string(), value.join("\n"));
    }
    outputs
}

/// Polls `check` until it returns true or `limit` passes.
/// Sends `signal` (`TERM`, `INT`) to `child`, as the runner does on cancel.
pub fn signal(child: &std::process::Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("the kill command");
    assert!(sent.success(), "kill -{signal} {}", child.id());
}

pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// The log groups printed on stdout: group title -> the lines inside it, with the
/// `::stop-commands::` pair removed. Asserts that every line inside a group was printed while
/// workflow commands were off.
pub fn log_groups(stdout: &str) -> BTreeMap<String, Vec<String>> {
    let mut groups = BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    let mut stop_token: Option<String> = None;
    for line in stdout.lines() {
        if let Some(title) = line.strip_prefix("::group::") {
            assert!(
                current.is_none() && stop_token.is_none(),
                "group inside a group: {line}"
            );
            current = Some((title.to_string(), Vec::new()));
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            assert!(stop_token.is_none(), "commands stopped twice");
            stop_token = Some(token.to_string());
            continue;
        }
        if let Some(token) = &stop_token
            && line == format!("::{token}::")
        {
            stop_token = None;
            continue;
        }
        if line == "::endgroup::" {
            assert!(stop_token.is_none(), "group closed while commands were off");
            let (title, lines) = current.take().expect("endgroup without group");
            assert!(
                groups.insert(title.clone(), lines).is_none(),
                "group {title} printed twice"
            );
            continue;
        }
        let is_annotation = ["::error", "::warning", "::notice"]
            .iter()
            .any(|prefix| line.starts_with(prefix));
        if let Some((_, lines)) = current.as_mut() {
            if is_annotation && stop_token.is_none() {
                continue; // printed by the action itself, between a resume and a new stop
            }
            assert!(
                stop_token.is_some(),
                "log line printed with commands on: {line}"
            );
            lines.push(line.to_string());
        }
    }
    assert!(current.is_none(), "a group was left open");
    groups
}

/// The group of task `number` (1-based), by the start of its title.
pub fn group_of(
    groups: &BTreeMap<String, Vec<String>>,
    number: usize,
    task_count: usize,
) -> &[String] {
    let prefix = format!("Task {number}/{task_count} · ");
    groups
        .iter()
        .find(|(title, _)| title.starts_with(&prefix))
        .map(|(_, lines)| lines.as_slice())
        .unwrap_or_else(|| panic!("no group for task {number}: {:?}", groups.keys()))
}

/// A result line as a tester prints it, with the latency samples (microseconds) in an HdrHistogram
/// V2+DEFLATE, base64.
pub fn result_line(requests: u64, errors: u64, duration_ms: u64, samples_us: &[u64]) -> String {
    use base64::Engine;
    use hdrhistogram::serialization::Serializer;
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    histogram.auto(true);
    for sample in samples_us {
        histogram.record(*sample).unwrap();
    }
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(&histogram, &mut bytes)
        .unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        r#"ECS_LOADTEST_RESULT {{"v":1,"requests":{requests},"errors":{errors},"duration_ms":{duration_ms},"status":{{"200":{},"503":{errors}}},"latency_hdr":"{encoded}"}}"#,
        requests - errors
    )
}

/// The line numbers in the harness's generated lines (`task I line N t=…`) of task `task_index`.
pub fn generated_numbers(lines: &[String], task_index: usize) -> Vec<u64> {
    let prefix = format!("task {task_index} line ");
    lines
        .iter()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// Asserts that the numbers are 0..count, each once, in order: no line lost, doubled or moved.
pub fn assert_exact_sequence(numbers: &[u64], count: u64, what: &str) {
    assert_eq!(
        numbers.len() as u64,
        count,
        "{what}: {} lines printed, {count} written",
        numbers.len()
    );
    for (position, number) in numbers.iter().enumerate() {
        assert_eq!(
            *number, position as u64,
            "{what}: line {position} out of order or doubled"
        );
    }
}

/// Each task's request count from the `results` output, in task order.
pub fn task_shares(results: &serde_json::Value) -> Vec<u64> {
    results["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["requests"].as_u64().unwrap())
        .collect()
}

/// The request names of the merged names table, in its order.
pub fn request_names(results: &serde_json::Value) -> Vec<String> {
    results["merged"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_string())
        .collect()
}

/// The server's 1 s stall shows in the merged tail as measured: the slowest request took about a
/// second (not a tool's rounded bucket, not nothing).
pub fn assert_the_stall_shows(results: &serde_json::Value) {
    let max_ms = results["merged"]["latency"]["max_us"].as_f64().unwrap() / 1000.0;
    assert!(
        (900.0..2500.0).contains(&max_ms),
        "max {max_ms} ms\n{results:#}"
    );
}

/// The merged names table has exactly these rows, in any order.
pub fn assert_request_names(results: &serde_json::Value, expected: &[&str]) {
    let mut names = request_names(results);
    names.sort();
    let mut expected: Vec<String> = expected.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "{results:#}");
}

/// The PATH with a folder of the test setup (`.venv/bin`, `.artillery/node_modules/.bin`) first, which must hold
/// `tool` (scripts/setup-test-env.sh installs it).
pub fn path_with(bin: &str, tool: &str) -> String {
    let bin = project_dir().join(bin);
    assert!(
        bin.join(tool).is_file(),
        "no {tool} in {}: run scripts/setup-test-env.sh",
        bin.display()
    );
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Imports `tag` once per test binary: an image with no base, of the files `assemble` (a shell
/// snippet run with this project's folder as `$1`) names at their paths on this machine, every
/// library they link, `/tmp` and `/etc/passwd`: an image of a tool as this machine has it, since
/// no base image can be pulled here. The snippet calls `copy PATH` (links followed), or appends
/// to `$archive` itself with `tar -rf "$archive" -C / …` (links kept), and may add files under
/// `$root`. One archive imported as one layer: a build would copy tens of thousands of small
/// files (a `node_modules`) one by one, several times slower.
pub fn scratch_image(tag: &'static str, assemble: &str, entrypoint: &str) -> &'static str {
    static BUILT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.contains(&tag) {
        return tag;
    }
    let context = tempfile::tempdir().unwrap();
    let root = context.path().join("root");
    let script = format!(
        r#"
set -eu
root="{root}"
archive="$root.tar"
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
tar -cf "$archive" -T /dev/null
copy() {{ tar -rf "$archive" -C / -h --exclude=__pycache__ "${{1#/}}"; echo "$1" >> "$root.copied"; }}
touch "$root.copied"
{assemble}
# Every library the copied programs, libraries and native modules link.
tar -tf "$archive" | sed 's|^|/|' > "$root.archived"
{{ cat "$root.copied"; grep -E '\.so(\.[0-9.]+)?$|\.node$' "$root.archived" || true; }} > "$root.so"
while read -r file; do
  [ -f "$file" ] && ldd "$file" 2>/dev/null | awk '{{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }}'
done < "$root.so" | sort -u | while read -r lib; do grep -qxF "$lib" "$root.archived" || copy "$lib"; done
# Who the user is (Node.js asks, for one).
cp /etc/passwd /etc/group "$root/etc/"
tar -rf "$archive" -C "$root" .
"#,
        root = root.display()
    );
    let status = Command::new("sh")
        .args(["-c", &script, "sh"])
        .arg(project_dir())
        .status()
        .unwrap();
    assert!(status.success(), "assembling the image {tag}");
    let imported = Command::new("docker")
        .args([
            "import",
            "--change",
            "ENV PATH=/usr/local/bin:/usr/bin:/bin",
            "--change",
            &format!("ENTRYPOINT [\"{entrypoint}\"]"),
        ])
        .arg(root.with_extension("tar"))
        .arg(tag)
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "importing {tag}: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    built.push(tag);
    tag
}

/// Builds a test image (`FROM scratch` around what `context` holds) as `tag` with the classic
/// builder, once a test binary asks for it.
pub fn docker_build(context: &Path, tag: &str) {
    let built = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(context)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "building {tag}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// What a task of an image made for a script prints: the wrapper run here in `dir` with the
/// task's `environment`, as the image's command runs it (`wrap TOOL -- …`).
pub fn wrapped_task_lines(
    dir: &Path,
    command: &[&str],
    environment: &[(&str, String)],
) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_ecs-loadtest"))
        .arg("wrap")
        .args(command)
        .current_dir(dir)
        .envs(environment.iter().map(|(name, value)| (*name, value)))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The value of `name` in a task's container environment (RunTask's overrides), from the harness.
pub fn env_of(task: &Value, name: &str) -> Option<String> {
    task["overrides"]["containerOverrides"][0]["environment"]
        .as_array()?
        .iter()
        .find(|pair| pair["name"] == name)
        .map(|pair| pair["value"].as_str().unwrap().to_string())
}

/// One Price List API product (trimmed) of `region`, with its on-demand price an hour in USD.
pub fn listed_product(region: &str, usagetype: &str, usd: &str) -> String {
    json!({
        "product": {
            "productFamily": "Compute",
            "attributes": {"regionCode": region, "usagetype": usagetype, "servicecode": "AmazonECS"},
            "sku": "SKU1"
        },
        "serviceCode": "AmazonECS",
        "terms": {"OnDemand": {"SKU1.JRTCKXETXF": {
            "priceDimensions": {"SKU1.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hours", "beginRange": "0", "endRange": "Inf",
                "pricePerUnit": {"USD": usd}
            }}
        }}},
        "publicationDate": "2026-10-14T18:02:11Z"
    })
    .to_string()
}
