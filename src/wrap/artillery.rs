//! Artillery under the wrapper. `artillery run [options] scenario.yml` runs as the user wrote it,
//! with this project's plugin loaded into each of Artillery's workers from the environment
//! (`ARTILLERY_PLUGIN_PATH`, `ARTILLERY_PLUGINS`), so the script is not changed. The plugin
//! (`artillery_plugin.js`, written from the binary into a temporary folder):
//! - gives this task its share of every phase: `arrivalRate`, `rampTo`, `arrivalCount` and
//!   `maxVusers` by the split rule, so the tasks add up to the script's numbers (Artillery's own
//!   `--count` runs the whole load on every worker);
//! - holds the load until `START_AT`;
//! - writes every response and error to the wrapper's pipe, with its time from the request being
//!   made to its response read, to the microsecond.
//!
//! `--count`, `--solo` and another `--platform` are refused: each would change the load the
//! phases say.

use anyhow::{Context, Result, bail};

use super::WrapArgs;
use super::hooked::{self, Hooked};
use super::k6::{Share, epoch_ms};

/// The plugin, as the project ships it.
const PLUGIN: &str = include_str!("artillery_plugin.js");

/// The plugin's name, as Artillery looks it up: `artillery-plugin-<name>`.
const PLUGIN_NAME: &str = "ecs-loadtest";

/// Options that would change the load the phases say.
const REFUSED: [(&str, &str); 3] = [
    (
        "--count",
        "it runs the whole load on each of that many workers; the tasks split it",
    ),
    ("--solo", "it runs one virtual user instead of the phases"),
    (
        "--platform",
        "the tasks are the platform; Artillery runs on each as it does locally",
    ),
];

/// The overrides of the check: the script is read, merged and validated as for a run, and one
/// short pause replaces its phases (and its `before` and `after` flows), so nothing is sent.
pub const CHECK_OVERRIDES: &str =
    r#"{"config":{"phases":[{"pause":1}]},"before":{"flow":[]},"after":{"flow":[]}}"#;

pub async fn run(
    args: &WrapArgs,
    tester_output: impl Fn(&str) + Send + Sync + 'static,
    output: impl Fn(&str),
    stopped: impl std::future::Future<Output = String>,
) -> Result<u8> {
    let share = Share::of(args)?;
    check_command(&args.command)?;
    let folder = tempfile::tempdir().context("making a folder for Artillery's plugin and pipe")?;
    let plugins = folder.path().join("plugins");
    let plugin = plugins.join(format!("artillery-plugin-{PLUGIN_NAME}"));
    std::fs::create_dir_all(&plugin)
        .and_then(|()| std::fs::write(plugin.join("index.js"), PLUGIN))
        .with_context(|| format!("writing Artillery's plugin into {}", plugin.display()))?;
    let fifo = hooked::samples_pipe(folder.path())?;
    output(&format!(
        "artillery: task {} of {}, its share of every phase (arrival rates and counts by the split rule){}",
        share.index + 1,
        share.count,
        match share.start_at_ms {
            Some(at) if at > epoch_ms() => format!(
                ", held until START_AT ({:.1} s), so that every task's load begins together",
                (at - epoch_ms()) as f64 / 1000.0
            ),
            _ => String::new(),
        }
    ));
    let plugin_path = match args.variable("ARTILLERY_PLUGIN_PATH") {
        Some(theirs) => format!("{}:{theirs}", plugins.display()),
        None => plugins.display().to_string(),
    };
    let (enabled, warning) = enable_plugin(args.variable("ARTILLERY_PLUGINS").as_deref());
    if let Some(warning) = warning {
        output(&warning);
    }
    let mut environment = args.environment.clone();
    environment.extend([
        ("ARTILLERY_PLUGIN_PATH".to_string(), plugin_path),
        ("ARTILLERY_PLUGINS".to_string(), enabled),
        (
            "ECS_LOADTEST_SAMPLES".to_string(),
            fifo.display().to_string(),
        ),
        ("TASK_INDEX".to_string(), share.index.to_string()),
        ("TASK_COUNT".to_string(), share.count.to_string()),
    ]);
    if let Some(at) = share.start_at_ms {
        environment.push(("START_AT".to_string(), at.to_string()));
    }
    let mut line = args.command.clone();
    if args.insecure_tls() && !line.iter().any(|word| word == "--insecure" || word == "-k") {
        line.insert(2, "--insecure".to_string());
        output("artillery: --insecure (insecure-tls): TLS certificates are not verified");
    }
    // On SIGINT Artillery stops its workers and prints its report.
    let artillery = Hooked::signalled("Artillery", line, environment, rustix::process::Signal::INT);
    let read = Default::default();
    hooked::run(
        artillery,
        &share,
        &fifo,
        read,
        tester_output,
        output,
        stopped,
    )
    .await
}

/// The command must be `artillery run …`, without an option that changes the load.
fn check_command(command: &[String]) -> Result<()> {
    if command.get(1).map(String::as_str) != Some("run") {
        bail!(
            "wrap artillery: got `{}`; expected an Artillery command line with `run`, such as `artillery run scenario.yml`",
            command.join(" ")
        );
    }
    for word in command {
        let option = word.split('=').next().unwrap_or(word);
        if let Some((_, why)) = REFUSED.iter().find(|(refused, _)| *refused == option) {
            if option == "--platform" && word.ends_with("=local") {
                continue;
            }
            bail!("wrap artillery: got `{word}` in the command; it is refused because {why}");
        }
    }
    Ok(())
}

/// `ARTILLERY_PLUGINS` (a JSON object of plugin names and their settings) with this project's
/// plugin added to what the environment had; a warning when that was not a JSON object, which
/// Artillery itself would have ignored.
fn enable_plugin(theirs: Option<&str>) -> (String, Option<String>) {
    let mut plugins = serde_json::Map::new();
    let mut warning = None;
    if let Some(text) = theirs.filter(|text| !text.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(theirs)) => plugins = theirs,
            _ => {
                warning = Some(
                    "warning: ARTILLERY_PLUGINS is not a JSON object (Artillery ignores it); only this project's plugin is enabled from it".to_string(),
                );
            }
        }
    }
    plugins.insert(
        PLUGIN_NAME.to_string(),
        serde_json::Value::Object(Default::default()),
    );
    (serde_json::Value::Object(plugins).to_string(), warning)
}

/// What the check (`artillery run` with `CHECK_OVERRIDES`) answered, wherever it ran: a script
/// Artillery cannot read or validate is an error with Artillery's last lines.
pub fn read_check(script: &str, code: i64, stdout: &str, stderr: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let last: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|line| !line.trim().is_empty() && !line.starts_with("Test run id:"))
        .take(6)
        .collect();
    bail!(
        "Artillery refused the script {script} (exit {code}): {}",
        last.join(" / ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn a_command_that_would_change_the_load_is_refused() {
        check_command(&words("artillery run --quiet -e staging scenario.yml")).unwrap();
        check_command(&words("artillery run --platform=local scenario.yml")).unwrap();
        for (command, named) in [
            ("artillery run --count 4 s.yml", "--count"),
            ("artillery run --solo s.yml", "--solo"),
            ("artillery run-fargate s.yml", "with `run`"),
            ("artillery run --platform aws:ecs s.yml", "--platform"),
        ] {
            let error = check_command(&words(command)).unwrap_err().to_string();
            assert!(error.contains(named), "{command}: {error}");
        }
    }

    #[test]
    fn the_plugin_is_added_to_the_plugins_the_environment_enables() {
        let (plugins, warning) = enable_plugin(Some(r#"{"expect":{"outputFormat":"silent"}}"#));
        assert_eq!(
            plugins,
            r#"{"ecs-loadtest":{},"expect":{"outputFormat":"silent"}}"#
        );
        assert!(warning.is_none());
        let (plugins, warning) = enable_plugin(Some("expect"));
        assert_eq!(plugins, r#"{"ecs-loadtest":{}}"#);
        assert!(warning.unwrap().contains("not a JSON object"));
    }
}
