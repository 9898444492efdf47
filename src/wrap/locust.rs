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
//! A `LoadTestShape` is refused by the hook (each task would run the whole shape), as are `-u`,
//! `-r` and `-t` in the command (they would be every task's, not its share).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use tokio::process::Child;

use super::WrapArgs;
use super::k6::{
    PROGRESS_EVERY, Share, epoch_ms, finish_reading, make_fifo, progress_line, report,
    spawn_tester, widen_pipe,
};
use super::tally::Tally;

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

/// What the samples reader shares with the run: the tally, and when the load began.
#[derive(Default)]
struct Read {
    tally: Tally,
    started_ms: Option<u64>,
}

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
    let fifo = folder.path().join("samples");
    make_fifo(&fifo)?;
    let line = command_line(&args.command, &share, &hook)?;
    output(&format!(
        "locust: task {} of {}, {} user(s){}",
        share.index + 1,
        share.count,
        share.vus.unwrap_or(1),
        match share.start_at_ms {
            Some(at) if at > epoch_ms() => format!(
                ", held until START_AT ({:.1} s), so that every task's load begins together",
                (at - epoch_ms()) as f64 / 1000.0
            ),
            _ => String::new(),
        }
    ));

    let read = Arc::new(Mutex::new(Read::default()));
    let reader = {
        let (fifo, read) = (fifo.clone(), read.clone());
        std::thread::Builder::new()
            .name("locust-samples".to_string())
            .spawn(move || read_samples(&fifo, &read))
            .context("starting the samples reader")?
    };
    let mut environment = args.environment.clone();
    environment.push((
        "ECS_LOADTEST_SAMPLES".to_string(),
        fifo.display().to_string(),
    ));
    if let Some(at) = share.start_at_ms {
        environment.push(("START_AT".to_string(), at.to_string()));
    }
    let (mut child, copies) = spawn_tester(&line, &environment, tester_output)?;
    let status = supervise(&mut child, &read, &output, stopped).await?;
    let ended_ms = epoch_ms();
    let finished = finish_reading(reader, &fifo).await?;
    for copy in copies {
        let _ = copy.await;
    }
    let code = status.code().unwrap_or(1);
    let read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(why) = finished {
        output(&format!(
            "warning: Locust's samples were not all read: {why}"
        ));
    }
    if read.tally.unreadable > 0 {
        output(&format!(
            "warning: {} of Locust's samples could not be read and were skipped",
            read.tally.unreadable
        ));
    }
    if let Some(started_ms) = read.started_ms {
        report(
            &read.tally,
            (started_ms, ended_ms),
            share.start_at_ms,
            &output,
        )?;
    }
    if code != 0 {
        output(&format!(
            "locust exited with {code}{}",
            if read.started_ms.is_none() {
                ": before its users started (its own lines above say why)"
            } else {
                ""
            }
        ));
    }
    Ok(u8::try_from(code).unwrap_or(1))
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
fn command_line(command: &[String], share: &Share, hook: &Path) -> Result<Vec<String>> {
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
    let users = share.vus.unwrap_or(1).max(1);
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
        "-u".to_string(),
        users.to_string(),
        "-r".to_string(),
        users.to_string(),
    ]);
    if let Some(seconds) = share.duration_seconds {
        line.extend(["-t".to_string(), format!("{seconds}s")]);
    }
    Ok(line)
}

/// Waits for Locust, printing a progress line every `PROGRESS_EVERY` once its load began; when
/// `stopped` ends, asks it to stop (SIGTERM: it stops its users and fires `quitting`).
async fn supervise(
    child: &mut Child,
    read: &Mutex<Read>,
    output: &impl Fn(&str),
    stopped: impl std::future::Future<Output = String>,
) -> Result<std::process::ExitStatus> {
    let mut progress = tokio::time::interval(PROGRESS_EVERY);
    let mut pace = (0u64, 0.0f64);
    tokio::pin!(stopped);
    let mut asked = false;
    loop {
        tokio::select! {
            status = child.wait() => return status.context("waiting for locust"),
            _ = progress.tick() => {
                let read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(started) = read.started_ms {
                    let elapsed = epoch_ms().saturating_sub(started) as f64 / 1000.0;
                    output(&progress_line(&read.tally, elapsed, &mut pace));
                }
            }
            why = &mut stopped, if !asked => {
                asked = true;
                output(&format!("{why}: Locust is asked to stop (SIGTERM); the result follows"));
                if let Some(pid) = child.id() {
                    // SAFETY: a plain signal to our own child's PID.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
            }
        }
    }
}

/// Reads the hook's lines until Locust closes the pipe.
fn read_samples(path: &Path, read: &Mutex<Read>) -> Result<()> {
    let file =
        File::open(path).with_context(|| format!("opening the samples pipe {}", path.display()))?;
    widen_pipe(&file);
    let mut lines = BufReader::with_capacity(64 * 1024, file);
    let mut line = String::new();
    loop {
        line.clear();
        if lines
            .read_line(&mut line)
            .context("reading Locust's samples")?
            == 0
        {
            return Ok(());
        }
        let mut read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        take(&mut read, line.trim_end_matches(['\n', '\r']));
    }
}

/// One line of the hook.
fn take(read: &mut Read, line: &str) {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["start", at] => read.started_ms = at.parse().ok(),
        [name, milliseconds, status, error] => {
            let (Ok(latency), Ok(status)) = (milliseconds.parse::<f64>(), status.parse::<u16>())
            else {
                read.tally.unreadable += 1;
                return;
            };
            let error = (!error.is_empty()).then(|| error_class(status, error));
            read.tally.request(name, latency, status, error);
        }
        _ => read.tally.unreadable += 1,
    }
}

/// A failed request's class, as the generator names them: an answer that is not a success is
/// `status`; else from the exception's type, `timeout`, `tls`, `connect` or `request`.
fn error_class(status: u16, exception: &str) -> &'static str {
    let exception = exception.to_ascii_lowercase();
    if status > 0 {
        "status"
    } else if exception.contains("timeout") {
        "timeout"
    } else if exception.contains("ssl") || exception.contains("tls") {
        "tls"
    } else if exception.contains("connect") || exception.contains("resolve") {
        "connect"
    } else {
        "request"
    }
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
        )
        .unwrap();
        assert_eq!(
            line.join(" "),
            "locust --host http://a --stop-timeout 30 -f load/shop.py,/tmp/x/hook.py --headless --only-summary --exit-code-on-error 0 -u 4 -r 4 -t 30s"
        );
        let line = command_line(&words("locust"), &share(None), hook).unwrap();
        assert!(
            line.join(" ").contains("-f locustfile.py,/tmp/x/hook.py"),
            "{line:?}"
        );
        let error = command_line(&words("locust -f a.py -u 100"), &share(Some(4)), hook)
            .unwrap_err()
            .to_string();
        assert!(error.contains("got `-u`"), "{error}");
    }

    #[test]
    fn the_hooks_lines_become_requests() {
        let mut read = Read::default();
        for line in [
            "start\t1700000000000",
            "/cart\t12.5\t200\t",
            "/cart\t3000.25\t503\tCatchResponseError",
            "/login\t0.9\t0\tConnectionRefusedError",
            "garbage",
        ] {
            take(&mut read, line);
        }
        assert_eq!(read.started_ms, Some(1_700_000_000_000));
        assert_eq!((read.tally.requests, read.tally.errors), (3, 2));
        assert_eq!(read.tally.error_classes["status"], 1);
        assert_eq!(read.tally.error_classes["connect"], 1);
        assert_eq!(read.tally.unreadable, 1);
        // Microseconds, not Locust's rounding: 3000.25 ms stays 3,000,250 µs (to HDR's 3 figures).
        let max = read.tally.latency.max();
        assert!((2_998_000..=3_002_000).contains(&max), "{max}");
    }
}
