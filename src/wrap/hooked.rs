//! Testers that hand the wrapper their samples through code of ours loaded into them (Locust's
//! hook, Artillery's plugin): they write one line a sample to a named pipe, the wrapper reads it
//! into a tally and prints the progress and result lines. The lines:
//!
//! ```text
//! start<TAB>EPOCH_MS                          when the load begins (the earliest, when several say)
//! NAME<TAB>MILLISECONDS<TAB>STATUS<TAB>ERROR   a request (STATUS 0: no answer; ERROR empty: it passed)
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::process::Child;

use super::k6::{
    PROGRESS_EVERY, Share, epoch_ms, finish_reading, make_fifo, progress_line, report,
    spawn_tester, widen_pipe,
};
use super::tally::Tally;

/// A tester's command, ready to start, and how to ask it to stop.
pub(super) struct Hooked {
    /// Its name, as the wrapper's lines say it: `Locust`, `Artillery`, `JMeter`.
    pub name: &'static str,
    pub line: Vec<String>,
    /// The task's environment with what the hook needs.
    pub environment: Vec<(String, String)>,
    /// Asks the tester (this PID) to stop its load and end as it would at its end; says how.
    pub stop: Box<dyn Fn(u32) -> String + Send + Sync>,
    /// Reads the samples pipe until every writer has closed it: the hook's lines unless given.
    pub reader: fn(&Path, &Mutex<Read>) -> Result<()>,
}

impl Hooked {
    /// A tester that stops on `signal` and whose hook writes lines.
    pub fn signalled(
        name: &'static str,
        line: Vec<String>,
        environment: Vec<(String, String)>,
        signal: rustix::process::Signal,
    ) -> Hooked {
        Hooked {
            name,
            line,
            environment,
            stop: Box::new(move |pid| {
                super::k6::signal_child(pid, signal);
                if signal == rustix::process::Signal::INT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                }
                .to_string()
            }),
            reader: read_samples,
        }
    }
}

/// What the samples reader shares with the run: the tally, and when the load began.
#[derive(Default)]
pub(super) struct Read {
    pub tally: Tally,
    pub started_ms: Option<u64>,
    /// The tester has exited: a reader of a file rather than a pipe reads what is left and ends.
    pub tester_ended: bool,
}

/// Makes the named pipe `samples` in `folder`, returning its path, for the hook to write to.
pub(super) fn samples_pipe(folder: &Path) -> Result<std::path::PathBuf> {
    let fifo = folder.join("samples");
    make_fifo(&fifo)?;
    Ok(fifo)
}

/// Runs the tester until it exits (asking it to stop when `stopped` ends), reading its samples
/// from `fifo`; prints the result line and returns its exit code.
/// `read` is where the samples go (a tester's own lines may say when its load began).
pub(super) async fn run(
    tester: Hooked,
    share: &Share,
    fifo: &Path,
    read: Arc<Mutex<Read>>,
    tester_output: impl Fn(&str) + Send + Sync + 'static,
    output: impl Fn(&str),
    stopped: impl std::future::Future<Output = String>,
) -> Result<u8> {
    let reader = {
        let (fifo, read, reader) = (fifo.to_path_buf(), read.clone(), tester.reader);
        std::thread::Builder::new()
            .name("samples".to_string())
            .spawn(move || reader(&fifo, &read))
            .context("starting the samples reader")?
    };
    let (mut child, copies) = spawn_tester(&tester.line, &tester.environment, tester_output)?;
    let status = supervise(&mut child, &tester, &read, &output, stopped).await?;
    let ended_ms = epoch_ms();
    read.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .tester_ended = true;
    let finished = finish_reading(reader, fifo).await?;
    for copy in copies {
        let _ = copy.await;
    }
    let code = status.code().unwrap_or(1);
    let read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(why) = finished {
        output(&format!(
            "warning: {}'s samples were not all read: {why}",
            tester.name
        ));
    }
    if read.tally.unreadable > 0 {
        output(&format!(
            "warning: {} of {}'s samples could not be read and were skipped",
            read.tally.unreadable, tester.name
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
            "{} exited with {code}{}",
            tester.name.to_ascii_lowercase(),
            if read.started_ms.is_none() {
                ": before its load started (its own lines above say why)"
            } else {
                ""
            }
        ));
    }
    Ok(u8::try_from(code).unwrap_or(1))
}

/// Waits for the tester, printing a progress line every `PROGRESS_EVERY` once its load began;
/// when `stopped` ends, sends it its stop signal.
async fn supervise(
    child: &mut Child,
    tester: &Hooked,
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
            status = child.wait() => {
                return status.with_context(|| format!("waiting for {}", tester.name));
            }
            _ = progress.tick() => {
                let read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(started) = read.started_ms {
                    let elapsed = epoch_ms().saturating_sub(started) as f64 / 1000.0;
                    output(&progress_line(&read.tally, elapsed, &mut pace));
                }
            }
            why = &mut stopped, if !asked => {
                asked = true;
                if let Some(pid) = child.id() {
                    let how = (tester.stop)(pid);
                    output(&format!("{why}: {} is asked to stop ({how}); the result follows", tester.name));
                }
            }
        }
    }
}

/// Reads the hook's lines until every writer has closed the pipe.
pub(super) fn read_samples(path: &Path, read: &Mutex<Read>) -> Result<()> {
    let file =
        File::open(path).with_context(|| format!("opening the samples pipe {}", path.display()))?;
    widen_pipe(&file);
    let mut lines = BufReader::with_capacity(64 * 1024, file);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).context("reading samples")? == 0 {
            return Ok(());
        }
        let mut read = read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        take(&mut read, line.trim_end_matches(['\n', '\r']));
    }
}

/// One line of the hook.
pub(super) fn take(read: &mut Read, line: &str) {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["start", at] => {
            if let Ok(at) = at.parse::<u64>() {
                read.started_ms = Some(read.started_ms.map_or(at, |earlier| earlier.min(at)));
            }
        }
        [name, milliseconds, status, error] => {
            let (Ok(latency), Ok(status)) = (milliseconds.parse::<f64>(), status.parse::<u16>())
            else {
                read.tally.unreadable += 1;
                return;
            };
            let class = (!error.is_empty()).then(|| error_class(status, error));
            read.tally.request(name, latency, status, class);
            if let Some(class) = class {
                read.tally.error_said(class, error);
            }
        }
        _ => read.tally.unreadable += 1,
    }
}

/// A failed request's class, as the generator names them: an answer that is not a success is
/// `status`; else from the error's name (a Python exception's type, a Node error's code),
/// `timeout`, `tls`, `connect` or `request`.
fn error_class(status: u16, error: &str) -> &'static str {
    let error = error.to_ascii_lowercase();
    if status > 0 {
        "status"
    } else if error.contains("timeout") || error.contains("timedout") {
        "timeout"
    } else if error.contains("ssl") || error.contains("tls") || error.contains("cert") {
        "tls"
    } else if [
        "connect", "conn", "refused", "resolve", "notfound", "unreach",
    ]
    .iter()
    .any(|word| error.contains(word))
    {
        "connect"
    } else {
        "request"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hooks_lines_become_requests() {
        let mut read = Read::default();
        for line in [
            "start\t1700000000500",
            "start\t1700000000000",
            "/cart\t12.5\t200\t",
            "/cart\t3000.25\t503\tCatchResponseError",
            "/login\t0.9\t0\tConnectionRefusedError",
            "/login\t0.9\t0\tECONNREFUSED",
            "/login\t0.5\t0\tETIMEDOUT",
            "garbage",
        ] {
            take(&mut read, line);
        }
        // The earliest start, when several workers say.
        assert_eq!(read.started_ms, Some(1_700_000_000_000));
        assert_eq!((read.tally.requests, read.tally.errors), (5, 4));
        assert_eq!(read.tally.error_classes["status"], 1);
        assert_eq!(read.tally.error_classes["connect"], 2);
        assert_eq!(read.tally.error_classes["timeout"], 1);
        assert_eq!(read.tally.unreadable, 1);
        // Microseconds, not the tool's rounding: 3000.25 ms stays 3,000,250 µs (to HDR's 3 figures).
        let max = read.tally.latency.max();
        assert!((2_998_000..=3_002_000).contains(&max), "{max}");
    }
}
