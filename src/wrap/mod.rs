//! `ecs-loadtest wrap k6 -- k6 run …` (and `wrap locust -- locust -f …`, `wrap artillery -- artillery run …`, `wrap jmeter -- jmeter -n -t …`): runs a tester the world already uses as a child process,
//! with this task's exact share of the load and its start at `START_AT`, reads every sample it
//! records, and prints the progress lines and the result line the action merges. The tasks of a
//! k6 script run it; so can any container with k6 in it.

mod artillery;
mod hooked;
mod jmeter;
mod k6;
mod locust;
mod tally;

use std::future::Future;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::gha::Gha;
use crate::signals::Shutdown;

pub use k6::{ScriptThreshold, k6_duration_seconds};

use crate::plan::{ScriptPlan, ScriptTool};

/// The command that checks a script before any task starts, without running its load: `k6
/// inspect SCRIPT` (which also gives its thresholds), `locust -f SCRIPT --list`, `artillery run`
/// with one short pause for its phases.
fn check_command(plan: &ScriptPlan) -> Option<Vec<&str>> {
    Some(match plan.tool {
        ScriptTool::K6 => vec![plan.program.as_str(), "inspect", plan.script.as_str()],
        ScriptTool::Locust => vec![plan.program.as_str(), "-f", plan.script.as_str(), "--list"],
        // JMeter reads a plan only to run it: a plan it refuses fails each task at its start.
        ScriptTool::Jmeter => return None,
        ScriptTool::Artillery => vec![
            plan.program.as_str(),
            "run",
            "--quiet",
            "--overrides",
            artillery::CHECK_OVERRIDES,
            plan.script.as_str(),
        ],
    })
}

/// What the check answered: a k6 script's thresholds; an error in the tool's words when it
/// refuses the script.
fn read_check(
    plan: &ScriptPlan,
    code: i64,
    stdout: &str,
    stderr: &str,
) -> Result<Vec<ScriptThreshold>> {
    match plan.tool {
        ScriptTool::K6 => k6::read_inspection(&plan.script, code, stdout, stderr),
        ScriptTool::Locust => {
            locust::read_listing(&plan.script, code, stdout, stderr).map(|()| Vec::new())
        }
        ScriptTool::Artillery => {
            artillery::read_check(&plan.script, code, stdout, stderr).map(|()| Vec::new())
        }
        ScriptTool::Jmeter => Ok(Vec::new()),
    }
}

/// Checks the script with the tool on this machine's PATH, before any task starts.
pub async fn check_script(plan: &ScriptPlan) -> Result<Vec<ScriptThreshold>> {
    let Some(command) = check_command(plan) else {
        return Ok(Vec::new());
    };
    let answer = tokio::process::Command::new(command[0])
        .args(&command[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running `{}`", command.join(" ")))?;
    read_check(
        plan,
        answer.status.code().unwrap_or(1).into(),
        &String::from_utf8_lossy(&answer.stdout),
        &String::from_utf8_lossy(&answer.stderr),
    )
}

/// Checks the script in `image`, an image built for it (with no network), on the engine.
pub async fn check_script_in_image(
    engine: &crate::image::Engine,
    image: &str,
    plan: &ScriptPlan,
) -> Result<Vec<ScriptThreshold>> {
    let Some(command) = check_command(plan) else {
        return Ok(Vec::new());
    };
    let ran = crate::image::run_once(engine, image, &command).await?;
    read_check(plan, ran.code, &ran.stdout, &ran.stderr)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tool {
    /// Grafana k6: `k6 run SCRIPT`
    K6,
    /// Locust: `locust -f locustfile.py`
    Locust,
    /// Artillery: `artillery run scenario.yml`
    Artillery,
    /// Apache JMeter: `jmeter -n -t plan.jmx`
    Jmeter,
}

#[derive(Debug, Clone, Args)]
pub struct WrapArgs {
    /// The tester the command runs
    #[arg(value_enum)]
    pub tool: Tool,
    /// This task's index, from 0: its share of the load [default: 0]
    #[arg(long, env = "TASK_INDEX", value_name = "N")]
    pub task_index: Option<String>,
    /// How many tasks share the load [default: 1]
    #[arg(long, env = "TASK_COUNT", value_name = "N")]
    pub task_count: Option<String>,
    /// Epoch milliseconds when every task's load begins
    #[arg(long, env = "START_AT", value_name = "MS")]
    pub start_at: Option<String>,
    /// Virtual users in total across the tasks: k6's `--vus` (replaces the script's scenarios)
    #[arg(long, env = "VUS", value_name = "N")]
    pub vus: Option<String>,
    /// Test length in seconds: k6's `--duration` (replaces the script's scenarios)
    #[arg(long, env = "DURATION", value_name = "SECONDS")]
    pub duration: Option<String>,
    /// The tester's command line, after `--`: `k6 run load.js`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// The task's environment, for a tester started from this process (on the local backend);
    /// in a task's own process the tester inherits it.
    #[arg(skip)]
    pub environment: Vec<(String, String)>,
}

impl WrapArgs {
    /// A variable of the task's environment (given, else this process's), when not empty.
    fn variable(&self, name: &str) -> Option<String> {
        self.environment
            .iter()
            .rev()
            .find(|(each, _)| each == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
            .filter(|value| !value.trim().is_empty())
    }

    /// `insecure-tls` (INSECURE_TLS=true): the tester is told not to verify certificates, where
    /// it has a switch for it.
    fn insecure_tls(&self) -> bool {
        self.variable("INSECURE_TLS")
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    }

    /// The arguments a task's environment gives, for `command`: what `wrap` reads from the
    /// variables when the binary runs in a task.
    pub fn from_environment(
        tool: Tool,
        environment: &[crate::plan::EnvVar],
        command: Vec<String>,
    ) -> WrapArgs {
        let var = |name: &str| {
            environment
                .iter()
                .find(|pair| pair.name == name)
                .map(|pair| pair.value.clone())
        };
        WrapArgs {
            tool,
            task_index: var("TASK_INDEX"),
            task_count: var("TASK_COUNT"),
            start_at: var("START_AT"),
            vus: var("VUS"),
            duration: var("DURATION"),
            command,
            environment: environment
                .iter()
                .map(|pair| (pair.name.clone(), pair.value.clone()))
                .collect(),
        }
    }
}

/// The `wrap` command: the tester's output and ours on stdout, its exit status as ours.
pub async fn wrap(args: WrapArgs, gha: &Gha) -> Result<u8> {
    let mut shutdown = Shutdown::install()?;
    let tester = gha.clone();
    let gha = gha.clone();
    run(
        &args,
        move |line| tester.untrusted(line),
        move |line| gha.line(line),
        async move { shutdown.received().await.to_string() },
    )
    .await
}

/// Runs the tester; its lines go to `tester_output`, the wrapper's to `output`. When `stopped`
/// ends (saying why), the tester is asked to stop as on Ctrl-C, and what it recorded is reported.
pub async fn run(
    args: &WrapArgs,
    tester_output: impl Fn(&str) + Send + Sync + 'static,
    output: impl Fn(&str),
    stopped: impl Future<Output = String>,
) -> Result<u8> {
    match args.tool {
        Tool::K6 => k6::run(args, tester_output, output, stopped).await,
        Tool::Locust => locust::run(args, tester_output, output, stopped).await,
        Tool::Artillery => artillery::run(args, tester_output, output, stopped).await,
        Tool::Jmeter => jmeter::run(args, tester_output, output, stopped).await,
    }
}
