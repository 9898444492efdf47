//! k6 under the wrapper. The command `k6 run … SCRIPT` gets, right after `run`:
//! - `--execution-segment i/N:(i+1)/N` and the same `--execution-segment-sequence` on every
//!   task, so that VUs, iterations and arrival rates add up exactly across tasks for every
//!   executor (k6 splits each one itself);
//! - `--vus`/`--duration` when the workflow gives them (they replace the script's scenarios, as in
//!   k6). `VUS` is already this task's share (the action splits it as for any tester), so with it
//!   no segment is given: k6 would split the share again;
//! - `--no-thresholds --no-summary`: one task's share cannot judge the whole; the action reads
//!   the script's thresholds (`k6 inspect`) and judges them on the merged data;
//! - `--paused` with its REST API on 127.0.0.1 when `START_AT` is ahead: the wrapper resumes it
//!   then (`k6 resume`), so that every task's load begins together;
//! - `--out csv=FIFO`: every sample, read from a named pipe as k6 writes it, never a file that
//!   grows. CSV rather than JSON: it is what k6 writes fastest and the wrapper parses cheapest.
//!   k6 has no way to leave a metric out of an output, and its CSV writer is most of what the
//!   wrapper costs it (`scripts/bench-k6.sh`), so the rows carry only the tags the tally reads
//!   (`--system-tags name,status,error_code`: shorter rows to format and to read), and the reader
//!   skips the rows of other metrics before looking at their fields.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader as AsyncBufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::WrapArgs;
use super::tally::{Sample, Tally, result_json};
use crate::plan::format_latency_us;
use crate::results::protocol::chunk_lines;

/// The tags of k6's samples the tally reads (the request name, the status, k6's error code). The
/// tasks run with `--no-thresholds`, so no threshold of the script reads the others there.
const SYSTEM_TAGS: &str = "name,status,error_code";

/// The metrics the tally reads; the rows of any other are skipped unread.
const READ_METRICS: [&[u8]; 5] = [
    b"http_reqs",
    b"http_req_duration",
    b"http_req_failed",
    b"checks",
    b"dropped_iterations",
];

/// k6's exit codes and what they mean (k6's `errext/exitcodes`).
pub const K6_EXIT_CODES: [(u8, &str); 13] = [
    (97, "the cloud test run failed"),
    (98, "k6 could not get the cloud test's progress"),
    (99, "thresholds failed"),
    (100, "setup() timed out"),
    (101, "teardown() timed out"),
    (102, "a timeout"),
    (103, "the test was stopped through k6's REST API"),
    (104, "k6 refused its configuration (an invalid option)"),
    (105, "k6 was aborted from outside (a signal)"),
    (106, "k6 could not start its REST API"),
    (107, "the script threw an exception"),
    (108, "the script called test.abort()"),
    (109, "k6 panicked"),
];

/// Progress lines come this often.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// After `START_AT`, how long the wrapper keeps asking a paused k6 to resume (its REST API may
/// still be starting) before it gives up.
const RESUME_WITHIN: Duration = Duration::from_secs(30);

pub(super) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() as u64)
}

/// What the task's environment asks of k6.
pub(super) struct Share {
    pub(super) index: u64,
    pub(super) count: u64,
    pub(super) start_at_ms: Option<u64>,
    pub(super) vus: Option<u64>,
    pub(super) duration_seconds: Option<u64>,
}

impl Share {
    pub(super) fn of(args: &WrapArgs) -> Result<Share> {
        fn number(name: &str, value: &Option<String>) -> Result<Option<u64>> {
            match value
                .as_deref()
                .map(str::trim)
                .filter(|text| !text.is_empty())
            {
                None => Ok(None),
                Some(text) => text
                    .parse()
                    .map(Some)
                    .with_context(|| format!("{name}: got `{text}`; expected a whole number")),
            }
        }
        let index = number("TASK_INDEX", &args.task_index)?.unwrap_or(0);
        let count = number("TASK_COUNT", &args.task_count)?.unwrap_or(1).max(1);
        if index >= count {
            bail!("TASK_INDEX: got `{index}`; expected a number below TASK_COUNT ({count})");
        }
        Ok(Share {
            index,
            count,
            start_at_ms: number("START_AT", &args.start_at)?,
            vus: number("VUS", &args.vus)?,
            duration_seconds: number("DURATION", &args.duration)?,
        })
    }

    /// `i/N:(i+1)/N`, with `0` and `1` for the ends as k6 writes them.
    fn segment(&self) -> String {
        let fraction = |at: u64| match at {
            0 => "0".to_string(),
            at if at == self.count => "1".to_string(),
            at => format!("{at}/{}", self.count),
        };
        format!("{}:{}", fraction(self.index), fraction(self.index + 1))
    }

    /// `0,1/N,2/N,…,1`: the same on every task.
    fn sequence(&self) -> String {
        (0..=self.count)
            .map(|at| match at {
                0 => "0".to_string(),
                at if at == self.count => "1".to_string(),
                at => format!("{at}/{}", self.count),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The command with the wrapper's flags after `run`.
fn command_line(
    command: &[String],
    share: &Share,
    samples: &Path,
    api: Option<&str>,
) -> Result<Vec<String>> {
    let Some(run_at) = command.iter().position(|word| word == "run") else {
        bail!(
            "wrap k6: got `{}`; expected a k6 command line with `run`, such as `k6 run load.js`",
            command.join(" ")
        );
    };
    let mut flags = vec![
        "--no-thresholds".to_string(),
        "--no-summary".to_string(),
        "--quiet".to_string(),
        "--system-tags".to_string(),
        SYSTEM_TAGS.to_string(),
        "--out".to_string(),
        format!("csv={}", samples.display()),
    ];
    if share.count > 1 && share.vus.is_none() {
        flags.extend([
            "--execution-segment".to_string(),
            share.segment(),
            "--execution-segment-sequence".to_string(),
            share.sequence(),
        ]);
    }
    if let Some(vus) = share.vus {
        flags.extend(["--vus".to_string(), vus.to_string()]);
    }
    if let Some(seconds) = share.duration_seconds {
        flags.extend(["--duration".to_string(), format!("{seconds}s")]);
    }
    match api {
        Some(address) => flags.extend([
            "--paused".to_string(),
            "--address".to_string(),
            address.to_string(),
        ]),
        // No REST API: tasks on one machine would fight over k6's default port.
        None => flags.extend(["--address".to_string(), String::new()]),
    }
    let mut line = command[..=run_at].to_vec();
    line.extend(flags);
    line.extend_from_slice(&command[run_at + 1..]);
    Ok(line)
}

/// Ports for k6's REST API: below Linux's ephemeral range (32768 and up), which the load's own
/// outgoing connections take ports from. A port the kernel hands out for `:0` is itself
/// ephemeral, and between this process letting it go and k6 binding it a new connection of the
/// test could take it (k6 then exits 106 before any load).
const API_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A free port on 127.0.0.1 for k6's REST API, outside the ephemeral range.
fn free_address() -> Result<String> {
    for _ in 0..100 {
        let port = rand::random_range(API_PORTS);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(format!("127.0.0.1:{port}"));
        }
    }
    bail!(
        "finding a port for k6's REST API: none of 100 tried in {}..{} was free",
        API_PORTS.start,
        API_PORTS.end
    )
}

/// Sends `signal` to the tester, our own child. It may have ended already: nothing to do then.
pub(super) fn signal_child(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// A named pipe k6 writes its samples to.
pub(super) fn make_fifo(path: &Path) -> Result<()> {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("creating the samples pipe {}", path.display()))
}

/// The most a pipe holds that an unprivileged process may ask for (Linux's default
/// `/proc/sys/fs/pipe-max-size`).
const PIPE_BYTES: usize = 1 << 20;

/// Asks for a 1 MiB pipe rather than 64 KiB: when the reader is not scheduled for a moment (it
/// shares the task's CPUs with k6), k6's writer goes on rather than blocking its samples, and
/// with them its virtual users. A refusal leaves the pipe as it was.
pub(super) fn widen_pipe(file: &File) {
    let _ = rustix::pipe::fcntl_setpipe_size(file, PIPE_BYTES);
}

/// Reads k6's CSV samples from the pipe until k6 closes it, folding each into `tally`.
fn read_samples(path: &Path, tally: &Mutex<Tally>) -> Result<()> {
    let file =
        File::open(path).with_context(|| format!("opening the samples pipe {}", path.display()))?;
    widen_pipe(&file);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::with_capacity(64 * 1024, file));
    let headers = reader.headers().context("reading k6's CSV header")?.clone();
    if headers.is_empty() {
        // k6 ended before it wrote anything (it never started its outputs).
        return Ok(());
    }
    let column = |name: &str| headers.iter().position(|header| header == name);
    let (Some(metric), Some(value)) = (column("metric_name"), column("metric_value")) else {
        bail!("k6's CSV output has no metric_name or metric_value column: {headers:?}");
    };
    let (name, status, error_code) = (column("name"), column("status"), column("error_code"));
    // Rows are read into records kept from batch to batch: no allocation a row.
    let mut batch = vec![csv::ByteRecord::new(); 256];
    loop {
        // A batch of rows under one lock, so the progress line never waits long for it.
        let mut filled = 0;
        let mut more = true;
        while filled < batch.len() {
            if !reader
                .read_byte_record(&mut batch[filled])
                .context("reading k6's samples")?
            {
                more = false;
                break;
            }
            if batch[filled]
                .get(metric)
                .is_some_and(|name| READ_METRICS.contains(&name))
            {
                filled += 1;
            }
        }
        {
            let mut tally = tally
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for row in &batch[..filled] {
                let field = |at: Option<usize>| {
                    at.and_then(|at| row.get(at))
                        .and_then(|bytes| std::str::from_utf8(bytes).ok())
                        .unwrap_or("")
                };
                tally.add(&Sample {
                    metric: field(Some(metric)),
                    value: field(Some(value)),
                    name: field(name),
                    status: field(status),
                    error_code: field(error_code),
                });
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// Asks the paused k6 at `address` to begin, through its own `k6 resume`; retries while its
/// REST API starts, noting in `sent` when each attempt was sent. Returns when it resumed, in
/// epoch milliseconds.
async fn resume(k6: &str, address: &str, sent: &Mutex<Option<u64>>) -> Result<u64> {
    let began = Instant::now();
    loop {
        *sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(epoch_ms());
        let answer = Command::new(k6)
            .args(["resume", "--address", address])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await
            .with_context(|| format!("running `{k6} resume`"))?;
        if answer.status.success() {
            return Ok(epoch_ms());
        }
        if began.elapsed() > RESUME_WITHIN {
            bail!(
                "k6 did not resume within {} s: {}",
                RESUME_WITHIN.as_secs(),
                String::from_utf8_lossy(&answer.stderr).trim()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The protocol's progress line (what the run adds up across tasks every 15 s), with the checks
/// after its parts: requests a second over the time since `last` (requests, seconds), which it
/// then becomes.
pub(super) fn progress_line(tally: &Tally, elapsed: f64, last: &mut (u64, f64)) -> String {
    let p95 = if tally.latency.is_empty() {
        "–".to_string()
    } else {
        format_latency_us(tally.latency.value_at_quantile(0.95) as f64)
    };
    let (last_requests, last_at) = *last;
    let rate = tally.requests.saturating_sub(last_requests) as f64 / (elapsed - last_at).max(0.001);
    *last = (tally.requests, elapsed);
    let checks = if tally.checks_passed + tally.checks_failed > 0 {
        format!(
            " · checks {} passed, {} failed",
            tally.checks_passed, tally.checks_failed
        )
    } else {
        String::new()
    };
    format!(
        "progress · {elapsed:.0}s · {} requests · {} errors · {rate:.1} req/s · p95 {p95} · {} dropped{checks}",
        tally.requests, tally.errors, tally.dropped
    )
}

/// What k6's exit code means, in words.
pub fn exit_meaning(code: i32) -> String {
    K6_EXIT_CODES
        .iter()
        .find(|(known, _)| i32::from(*known) == code)
        .map_or_else(
            || "an error".to_string(),
            |(_, meaning)| meaning.to_string(),
        )
}

pub async fn run(
    args: &WrapArgs,
    tester_output: impl Fn(&str) + Send + Sync + 'static,
    output: impl Fn(&str),
    stopped: impl std::future::Future<Output = String>,
) -> Result<u8> {
    let share = Share::of(args)?;
    let folder = tempfile::tempdir().context("making a folder for k6's samples pipe")?;
    let fifo = folder.path().join("samples.csv");
    make_fifo(&fifo)?;
    let now_ms = epoch_ms();
    let api = match share.start_at_ms {
        Some(at) if at > now_ms => Some(free_address()?),
        _ => None,
    };
    let mut line = command_line(&args.command, &share, &fifo, api.as_deref())?;
    if args.insecure_tls() && !line.iter().any(|word| word == "--insecure-skip-tls-verify") {
        if let Some(run_at) = line.iter().position(|word| word == "run") {
            line.insert(run_at + 1, "--insecure-skip-tls-verify".to_string());
            output(
                "k6: --insecure-skip-tls-verify (insecure-tls): TLS certificates are not verified",
            );
        }
    }
    output(&announcement(&share, now_ms));

    let tally = Arc::new(Mutex::new(Tally::default()));
    let reader = {
        let (fifo, tally) = (fifo.clone(), tally.clone());
        std::thread::Builder::new()
            .name("k6-samples".to_string())
            .spawn(move || read_samples(&fifo, &tally))
            .context("starting the samples reader")?
    };
    let (mut child, copies) = spawn_tester(&line, &args.environment, tester_output)?;
    let load = Load {
        k6: &line[0],
        api: api.as_deref(),
        start_at_ms: share.start_at_ms,
        tally: &tally,
    };
    let (status, started_ms) = load.supervise(&mut child, &output, stopped).await?;
    let ended_ms = epoch_ms();
    let read = finish_reading(reader, &fifo).await?;
    for copy in copies {
        let _ = copy.await;
    }
    let code = status.code().unwrap_or(1);
    let tally = tally
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(why) = read {
        output(&format!("warning: k6's samples were not all read: {why}"));
    }
    if tally.unreadable > 0 {
        output(&format!(
            "warning: {} of k6's samples were not numbers and were skipped",
            tally.unreadable
        ));
    }
    if let Some(started_ms) = started_ms.filter(|_| tally.requests > 0 || code == 0) {
        report(&tally, (started_ms, ended_ms), share.start_at_ms, &output)?;
    }
    if code != 0 {
        output(&format!("k6 exited with {code}: {}", exit_meaning(code)));
    }
    Ok(u8::try_from(code).unwrap_or(1))
}

/// The last progress line and the result line (in chunks) of a load that ran from `started_ms`
/// to `ended_ms`.
pub(super) fn report(
    tally: &Tally,
    (started_ms, ended_ms): (u64, u64),
    start_at_ms: Option<u64>,
    output: &impl Fn(&str),
) -> Result<()> {
    let duration_ms = ended_ms.saturating_sub(started_ms);
    output(&progress_line(
        tally,
        duration_ms as f64 / 1000.0,
        &mut (0, 0.0),
    ));
    let json = result_json(tally, started_ms, start_at_ms, duration_ms)
        .map_err(|why| anyhow::anyhow!("encoding the result: {why}"))?;
    let id = format!("{:08x}", rand::random::<u32>());
    for line in chunk_lines(&json, &id) {
        output(&line);
    }
    Ok(())
}

/// The wrapper's first line: which share this task runs, and when it begins.
fn announcement(share: &Share, now_ms: u64) -> String {
    let start = match share.start_at_ms {
        Some(at) if at > now_ms => format!(
            "; paused until START_AT ({:.1} s), so that every task's load begins together",
            (at - now_ms) as f64 / 1000.0
        ),
        Some(at) => format!(
            "; START_AT passed {} ms ago: starting now, late",
            now_ms - at
        ),
        None => String::new(),
    };
    format!(
        "k6: task {} of {}, execution segment {}{start}",
        share.index + 1,
        share.count,
        share.segment()
    )
}

/// Starts the tester (k6, Locust) with the task's environment; its stdout and stderr lines go to `tester_output`, each
/// copied by a task of its own.
pub(super) fn spawn_tester(
    line: &[String],
    environment: &[(String, String)],
    tester_output: impl Fn(&str) + Send + Sync + 'static,
) -> Result<(Child, Vec<tokio::task::JoinHandle<()>>)> {
    let mut child = Command::new(&line[0])
        .args(&line[1..])
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting `{}`", line[0]))?;
    let tester_output = Arc::new(tester_output);
    let streams: [Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>; 2] = [
        child.stdout.take().map(|out| Box::new(out) as _),
        child.stderr.take().map(|err| Box::new(err) as _),
    ];
    let copies = streams
        .into_iter()
        .flatten()
        .map(|stream| {
            let tester_output = tester_output.clone();
            tokio::spawn(async move {
                let mut lines = AsyncBufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tester_output(&line);
                }
            })
        })
        .collect();
    Ok((child, copies))
}

/// A running k6 and what its supervision needs.
struct Load<'a> {
    k6: &'a str,
    /// k6's REST API while it waits, paused, for `START_AT`.
    api: Option<&'a str>,
    start_at_ms: Option<u64>,
    tally: &'a Mutex<Tally>,
}

impl Load<'_> {
    /// Resumes k6 at `START_AT`, prints progress, asks it to stop when `stopped` ends, and waits
    /// for it. Returns how it exited and when its load began.
    async fn supervise(
        &self,
        child: &mut Child,
        output: &impl Fn(&str),
        stopped: impl std::future::Future<Output = String>,
    ) -> Result<(std::process::ExitStatus, Option<u64>)> {
        // When the last `k6 resume` was sent. A short load can end, and k6 exit, before that
        // command has itself exited and said so: the load began then.
        let resuming = std::sync::Mutex::new(None);
        let started = async {
            match (self.api, self.start_at_ms) {
                (Some(address), Some(at)) => {
                    let wait = at.saturating_sub(epoch_ms());
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    resume(self.k6, address, &resuming).await
                }
                _ => Ok(epoch_ms()),
            }
        };
        tokio::pin!(started);
        tokio::pin!(stopped);
        let mut started_ms = None;
        let mut interrupted = false;
        let mut progress = tokio::time::interval(PROGRESS_EVERY);
        // Requests and seconds at the last progress line.
        let mut pace = (0u64, 0.0f64);
        progress.tick().await;
        loop {
            tokio::select! {
                status = child.wait() => {
                    let started_ms = started_ms.or_else(|| *resuming.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
                    return Ok((status.context("waiting for k6")?, started_ms));
                }
                at = &mut started, if started_ms.is_none() => {
                    if let Err(error) = &at {
                        output(&format!("error: {error:#}"));
                        let _ = child.start_kill();
                    }
                    started_ms = Some(at.unwrap_or_else(|_| epoch_ms()));
                }
                _ = progress.tick(), if started_ms.is_some() => {
                    let elapsed = epoch_ms().saturating_sub(started_ms.unwrap_or_default()) as f64 / 1000.0;
                    let tally = self.tally.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    output(&progress_line(&tally, elapsed, &mut pace));
                }
                why = &mut stopped, if !interrupted => {
                    interrupted = true;
                    output(&format!("{why}: k6 is asked to stop (SIGINT); the result follows"));
                    if let Some(pid) = child.id() {
                        signal_child(pid, rustix::process::Signal::INT);
                    }
                }
            }
        }
    }
}

/// Waits for the samples reader once k6 has exited. k6 closed its end of the pipe then; one that
/// never opened it (it failed before starting its outputs) leaves the reader waiting to open it,
/// and a writer that opens and closes it at once ends that.
pub(super) async fn finish_reading(
    reader: std::thread::JoinHandle<Result<()>>,
    fifo: &Path,
) -> Result<Result<(), String>> {
    if !reader.is_finished() {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags_nonblocking()
            .open(fifo);
    }
    let read = tokio::task::spawn_blocking(move || reader.join())
        .await
        .context("waiting for the samples reader")?;
    Ok(match read {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("{error:#}")),
        Err(_) => Err("the samples reader stopped unexpectedly".to_string()),
    })
}

/// Opening the pipe's writing end must not wait for a reader (there is one, blocked in `open`).
trait NonBlocking {
    fn custom_flags_nonblocking(&mut self) -> &mut Self;
}

impl NonBlocking for std::fs::OpenOptions {
    fn custom_flags_nonblocking(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

/// One threshold of a script: `metric{tags}`, its expression, and whether it is `abortOnFail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptThreshold {
    pub metric: String,
    pub expression: String,
    pub abort_on_fail: bool,
    /// `delayAbortEval`, as written (`10s`, `1m30s`).
    pub delay_abort_eval: Option<String>,
}

/// A k6 duration (`500ms`, `10s`, `1m30s`, `2h`) in seconds.
pub fn k6_duration_seconds(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let (unit, scale) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
            .into_iter()
            .find(|(unit, _)| rest.starts_with(unit))?;
        total += number * scale;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

/// What `k6 inspect SCRIPT` answered, wherever it ran: its exit code and output. A refusal is an
/// error with k6's meaning and its last lines; else the options' thresholds, `metric{tags}` to
/// each expression (a threshold object's `threshold`, with its `abortOnFail`).
pub fn read_inspection(
    script: &str,
    code: i64,
    stdout: &str,
    stderr: &str,
) -> Result<Vec<ScriptThreshold>> {
    if code != 0 {
        let last: Vec<&str> = stderr.lines().rev().take(5).collect();
        let code = i32::try_from(code).unwrap_or(1);
        bail!(
            "k6 refused the script {script} (exit {code}: {}): {}",
            exit_meaning(code),
            last.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    let options: serde_json::Value =
        serde_json::from_str(stdout).context("reading `k6 inspect`'s options")?;
    let mut thresholds = Vec::new();
    let map = options.get("thresholds").and_then(|map| map.as_object());
    for (metric, rules) in map.into_iter().flatten() {
        for rule in rules.as_array().into_iter().flatten() {
            let (expression, abort_on_fail, delay) = match rule {
                serde_json::Value::String(text) => (text.as_str(), false, None),
                serde_json::Value::Object(object) => {
                    let Some(text) = object.get("threshold").and_then(|text| text.as_str()) else {
                        continue;
                    };
                    let abort = object
                        .get("abortOnFail")
                        .and_then(serde_json::Value::as_bool);
                    let delay = object.get("delayAbortEval").map(|delay| match delay {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    });
                    (text, abort.unwrap_or(false), delay)
                }
                _ => continue,
            };
            thresholds.push(ScriptThreshold {
                metric: metric.clone(),
                expression: expression.to_string(),
                abort_on_fail,
                delay_abort_eval: delay,
            });
        }
    }
    Ok(thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(index: u64, count: u64) -> Share {
        Share {
            index,
            count,
            start_at_ms: None,
            vus: None,
            duration_seconds: Some(30),
        }
    }

    #[test]
    fn every_task_gets_its_segment_of_one_sequence() {
        assert_eq!(share(0, 1).segment(), "0:1");
        assert_eq!(share(0, 4).segment(), "0:1/4");
        assert_eq!(share(2, 4).segment(), "2/4:3/4");
        assert_eq!(share(3, 4).segment(), "3/4:1");
        assert_eq!(share(1, 4).sequence(), "0,1/4,2/4,3/4,1");
    }

    #[test]
    fn the_flags_go_after_run_and_the_script_stays_last() {
        let command: Vec<String> = ["k6", "run", "-e", "A=1", "load.js"]
            .map(String::from)
            .to_vec();
        let line = command_line(
            &command,
            &share(1, 2),
            Path::new("/tmp/x/samples.csv"),
            Some("127.0.0.1:7000"),
        )
        .unwrap();
        assert_eq!(&line[..2], ["k6", "run"]);
        assert_eq!(line.last().unwrap(), "load.js");
        let text = line.join(" ");
        for part in [
            "--no-thresholds",
            "--out csv=/tmp/x/samples.csv",
            "--execution-segment 1/2:1",
            "--execution-segment-sequence 0,1/2,1",
            "--duration 30s",
            "--paused --address 127.0.0.1:7000",
            "-e A=1 load.js",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        // `VUS` is the task's share already: k6 must not split it again.
        let with_vus = Share {
            vus: Some(20),
            ..share(1, 2)
        };
        let text = command_line(&command, &with_vus, Path::new("s"), None)
            .unwrap()
            .join(" ");
        assert!(
            text.contains("--vus 20") && !text.contains("--execution-segment"),
            "{text}"
        );
        let error = command_line(&["k6".to_string()], &share(0, 1), Path::new("x"), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("`k6 run load.js`"), "{error}");
    }

    #[test]
    fn k6_durations_read_as_seconds() {
        for (text, seconds) in [
            ("10s", 10.0),
            ("1m30s", 90.0),
            ("500ms", 0.5),
            ("2h", 7200.0),
        ] {
            assert_eq!(k6_duration_seconds(text), Some(seconds), "{text}");
        }
        for text in ["", "10", "ten seconds", "5x"] {
            assert_eq!(k6_duration_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn exit_codes_are_named() {
        assert_eq!(exit_meaning(107), "the script threw an exception");
        assert_eq!(exit_meaning(3), "an error");
    }

    /// Reads `text` as the samples k6 wrote, from a file in place of the pipe.
    fn read_all(text: &[u8]) -> Result<Tally> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.csv");
        std::fs::write(&path, text).unwrap();
        let tally = Mutex::new(Tally::default());
        read_samples(&path, &tally)?;
        Ok(tally.into_inner().unwrap())
    }

    const CSV_HEADER: &str = "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n";

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]
        #[test]
        fn never_panics_on_arbitrary_sample_files(text in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = read_all(&text);
        }

        #[test]
        fn never_panics_on_samples_shaped_like_k6s(
            rows in proptest::collection::vec(
                "(http_reqs|http_req_duration|http_req_failed|checks|iterations|x),[0-9]{0,10},-?[0-9.eE+]{0,8}(NaN|inf)?,[^,\n]{0,6},,[0-9]{0,4},(true|false),,GET,(\"[^\"]{0,8}\"?|[a-z /@]{0,8}),HTTP/1.1,s,,[0-9]{0,3},,,,,",
                0..16,
            ),
        ) {
            let text = format!("{CSV_HEADER}{}\n", rows.join("\n"));
            if let Ok(tally) = read_all(text.as_bytes()) {
                proptest::prop_assert!(tally.requests <= rows.len() as u64);
                proptest::prop_assert!(tally.errors <= rows.len() as u64);
            }
        }
    }
}
