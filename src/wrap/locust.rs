//! Locust under the wrapper. The command `locust [-f locustfile.py] …` gets:
//! - this project's hook beside the user's locustfile (`-f theirs.py,hook.py`, the hook written
//!   from the binary into a temporary folder): it holds the users until `START_AT` and hands the
//!   wrapper every request Locust records through a named pipe, one line each, with its response
//!   time as Locust measured it (Locust's own stats round it to about two digits first);
//! - `--headless --only-summary` and this task's users: `-u` is `VUS` (the action already split
//!   the total across tasks), spawned within a second (`-r` as many), and `-t` the duration;
//! - `--exit-code-on-error 0`: a failed request is the verdict's to judge, not a failed task;
//! - `--stop-timeout 30` (unless given): at the end of the run time the users finish the task they
//!   are in, so a request in flight then is recorded, not sent and lost.
//!
//! A `LoadTestShape` (given no `vus`) runs on every task with the task's share of its users at each
//! step, by the split rule, which the hook applies to the shape's `tick()`; `-u`, `-r` and `-t` in
//! the command are refused (they would be every task's, not its share).

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::WrapArgs;
use super::hooked::{self, Hooked};
use super::k6::{Share, epoch_ms};

/// The hook, as the project ships it.
const HOOK: &str = include_str!("locust_hook.py");

/// Options the wrapper sets from the task's share; in the command they would be every task's.
const SET_BY_THE_WRAPPER: [&str; 7] = [
    "-u",
    "--users",
    "-r",
    "--spawn-rate",
    "-t",
    "--run-time",
    "--headless",
];

/// Seconds Locust's users get to finish the task they are in at the end of the run time.
const STOP_TIMEOUT: u32 = 30;

pub async fn run(
    args: &WrapArgs,
    tester_output: impl Fn(&str) + Send + Sync + 'static,
    output: impl Fn(&str),
    stopped: impl std::future::Future<Output = String>,
) -> Result<u8> {
    let share = Share::of(args)?;
    let folder = tempfile::tempdir().context("making a folder for Locust's hook and pipe")?;
    let hook = folder.path().join("ecs_loadtest_hook.py");
    std::fs::write(&hook, HOOK).with_context(|| format!("writing {}", hook.display()))?;
    let fifo = hooked::samples_pipe(folder.path())?;
    // `target-url` (TARGET_URL) is Locust's host unless the command or LOCUST_HOST names one.
    let host = args
        .variable("TARGET_URL")
        .filter(|_| args.variable("LOCUST_HOST").is_none());
    let line = command_line(&args.command, &share, &hook, host.as_deref())?;
    output(&format!(
        "locust: task {} of {}, {}{}",
        share.index + 1,
        share.count,
        match share.vus {
            Some(users) => format!("{users} user(s)"),
            None => "its share of the LoadTestShape's users at each step".to_string(),
        },
        match share.start_at_ms {
            Some(at) if at > epoch_ms() => format!(
                ", held until START_AT ({:.1} s), so that every task's load begins together",
                (at - epoch_ms()) as f64 / 1000.0
            ),
            _ => String::new(),
        }
    ));
    let mut environment = args.environment.clone();
    environment.push((
        "ECS_LOADTEST_SAMPLES".to_string(),
        fifo.display().to_string(),
    ));
    if let Some(at) = share.start_at_ms {
        environment.push(("START_AT".to_string(), at.to_string()));
    }
    // The hook reads these: users given, or a LoadTestShape split across the tasks.
    environment.extend([
        (
            "VUS".to_string(),
            share.vus.map(|users| users.to_string()).unwrap_or_default(),
        ),
        ("TASK_INDEX".to_string(), share.index.to_string()),
        ("TASK_COUNT".to_string(), share.count.to_string()),
    ]);
    // Locust stops its users and fires `quitting` on SIGTERM.
    let locust = Hooked::signalled("Locust", line, environment, rustix::process::Signal::TERM);
    let read = Default::default();
    hooked::run(locust, &share, &fifo, read, tester_output, output, stopped).await
}

/// What `locust -f SCRIPT --list` answered, wherever it ran: a locustfile that does not load (a
/// syntax error, a missing import) is an error with Locust's last lines.
pub fn read_listing(script: &str, code: i64, stdout: &str, stderr: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let last: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .rev()
        .take(5)
        .collect();
    bail!(
        "Locust refused the locustfile {script} (exit {code}): {}",
        last.into_iter().rev().collect::<Vec<_>>().join(" / ")
    )
}

/// The Locust command with the hook beside the user's locustfile, headless, and this task's share.
fn command_line(
    command: &[String],
    share: &Share,
    hook: &Path,
    host: Option<&str>,
) -> Result<Vec<String>> {
    let Some(program) = command.first() else {
        bail!("wrap locust: expected a Locust command line, such as `locust -f locustfile.py`");
    };
    let mut line = vec![program.clone()];
    let mut files = None;
    let mut words = command[1..].iter();
    while let Some(word) = words.next() {
        let option = word.split('=').next().unwrap_or(word);
        if SET_BY_THE_WRAPPER.contains(&option) {
            bail!(
                "wrap locust: got `{word}` in the command; the wrapper sets the users, spawn rate and run time from this task's share (`vus`, `duration`)"
            );
        }
        match (option, word.split_once('=')) {
            ("-f" | "--locustfile", Some((_, value))) => files = Some(value.to_string()),
            ("-f" | "--locustfile", None) => files = words.next().cloned(),
            _ => line.push(word.clone()),
        }
    }
    let files = files.unwrap_or_else(|| "locustfile.py".to_string());
    if let Some(host) = host
        && !line
            .iter()
            .any(|word| matches!(word.split('=').next(), Some("-H" | "--host")))
    {
        line.extend(["--host".to_string(), host.to_string()]);
    }
    // At the end of the run time Locust kills its users, and a request in flight then is sent
    // but never recorded: users finish the task they are in (up to this long), so every request
    // the target saw is counted, unless the command says otherwise.
    if !line
        .iter()
        .any(|word| word.split('=').next() == Some("--stop-timeout"))
    {
        line.extend(["--stop-timeout".to_string(), STOP_TIMEOUT.to_string()]);
    }
    line.extend([
        "-f".to_string(),
        format!("{files},{}", hook.display()),
        "--headless".to_string(),
        "--only-summary".to_string(),
        "--exit-code-on-error".to_string(),
        "0".to_string(),
    ]);
    // Without users, the locustfile's LoadTestShape sets them (the hook gives this task its share).
    if let Some(users) = share.vus {
        let users = users.max(1).to_string();
        line.extend(["-u".to_string(), users.clone(), "-r".to_string(), users]);
    }
    if let Some(seconds) = share.duration_seconds {
        line.extend(["-t".to_string(), format!("{seconds}s")]);
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(vus: Option<u64>) -> Share {
        Share {
            index: 1,
            count: 3,
            start_at_ms: None,
            vus,
            duration_seconds: Some(30),
        }
    }

    #[test]
    fn the_hook_goes_beside_the_locustfile_and_the_share_is_the_wrappers() {
        let words = |text: &str| text.split(' ').map(String::from).collect::<Vec<_>>();
        let hook = Path::new("/tmp/x/hook.py");
        let line = command_line(
            &words("locust -f load/shop.py --host http://a"),
            &share(Some(4)),
            hook,
            Some("http://target"),
        )
        .unwrap();
        assert_eq!(
            line.join(" "),
            "locust --host http://a --stop-timeout 30 -f load/shop.py,/tmp/x/hook.py --headless --only-summary --exit-code-on-error 0 -u 4 -r 4 -t 30s"
        );
        let line =
            command_line(&words("locust"), &share(None), hook, Some("http://target")).unwrap();
        assert!(
            line.join(" ").contains("-f locustfile.py,/tmp/x/hook.py"),
            "{line:?}"
        );
        // `target-url` is the host when the command names none.
        assert!(
            line.join(" ").starts_with("locust --host http://target "),
            "{line:?}"
        );
        let error = command_line(&words("locust -f a.py -u 100"), &share(Some(4)), hook, None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("got `-u`"), "{error}");
    }
}
