//! `ecs-loadtest generate`: the built-in load generator, the default tester, and the reference
//! implementation of the result line. It reads the task environment the action sets (or flags),
//! waits for `START_AT`, sends the load on worker threads, prints a progress line every 10 s and
//! ends with its result, in chunks.

mod failure;
mod hpack;
mod http;
mod http1;
mod http2;
mod result;
mod settings;
mod stats;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use tokio::sync::oneshot;
use tokio::time::Instant;

pub use settings::GenerateArgs;

use std::future::Future;

use crate::gha::Gha;
use crate::plan::Profile;
use crate::plan::format_latency_us;
use crate::results::protocol::{LAG_LIMIT_US, chunk_lines};
use crate::signals::Shutdown;
use result::{Timing, result_json};
use settings::{Model, Settings};
use stats::Stats;
use worker::{SharedStats, Worker, lock};

const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// After a signal, how long in-flight requests may finish before the result is printed: ECS
/// kills a container 30 s after SIGTERM by default.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The `generate` command: the load, with its output on stdout, until the end or a signal.
pub async fn generate(args: GenerateArgs, gha: &Gha) -> Result<u8> {
    let mut shutdown = Shutdown::install()?;
    let gha = gha.clone();
    run(&args, move |line| gha.line(line), async move {
        shutdown.received().await.to_string()
    })
    .await
}

/// Sends the load `args` describe; every line it prints goes to `output`. When `stopped` ends
/// (saying why), no more requests are started and the result follows within `STOP_GRACE`.
pub async fn run(
    args: &GenerateArgs,
    output: impl Fn(&str),
    stopped: impl Future<Output = String>,
) -> Result<u8> {
    let settings = Arc::new(Settings::from_args(args)?);
    let tls = if settings.target.https {
        Some(http::tls_config(
            settings.http_version,
            settings.insecure_tls,
        )?)
    } else {
        None
    };
    let profile = settings.model.profile().clone();
    let load_seconds = profile.seconds();

    output(&describe(&settings));
    let (start, origin) = start_times(&settings, &output);
    let stop = Arc::new(AtomicBool::new(false));
    let (shares, done) = spawn_workers(&settings, tls, (start, origin), &stop, load_seconds)?;

    let started_ms = epoch_ms().max(settings.start_at_ms.unwrap_or_default());
    let all_done = async {
        for receiver in done {
            // A thread that could not build its runtime ends with no figures.
            let _ = receiver.await;
        }
    };
    tokio::pin!(all_done);
    tokio::pin!(stopped);
    let mut progress = tokio::time::interval_at(start + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut last_requests = 0;
    let mut interrupted = None;
    loop {
        tokio::select! {
            () = &mut all_done => break,
            _ = progress.tick() => {
                let total = merged(&shares);
                let elapsed = Instant::now().duration_since(start).as_secs_f64();
                output(&progress_line(&total, last_requests, elapsed, &settings.model));
                last_requests = total.requests;
            }
            why = &mut stopped, if interrupted.is_none() => {
                output(&format!("{why}: no more requests are started; the result follows"));
                stop.store(true, Ordering::Relaxed);
                interrupted = Some(Instant::now());
                progress = tokio::time::interval_at(Instant::now() + STOP_GRACE, STOP_GRACE);
            }
        }
        if interrupted.is_some_and(|at| at.elapsed() >= STOP_GRACE) {
            break;
        }
    }

    let total = merged(&shares);
    let duration_ms = match interrupted {
        Some(at) => at.saturating_duration_since(start).as_millis() as u64,
        None => (load_seconds * 1000.0) as u64,
    };
    let timing = Timing {
        start_at_ms: settings.start_at_ms,
        started_ms,
        duration_ms,
        scheduled: matches!(settings.model, Model::Open { .. }),
    };
    output(&summary_line(&total, duration_ms, &settings.model));
    let json = result_json(&total, &timing)
        .map_err(|why| anyhow::anyhow!("encoding the result: {why}"))?;
    let id = format!("{:08x}", rand::random::<u32>());
    for line in chunk_lines(&json, &id) {
        output(&line);
    }
    Ok(0)
}

/// When the load begins (`START_AT`, or now for a task that is late or has none) and the origin
/// its schedule counts from (`START_AT` itself, for a late task too); says which it is.
fn start_times(settings: &Settings, output: &impl Fn(&str)) -> (Instant, Instant) {
    let now_ms = epoch_ms();
    let now = Instant::now();
    let (start, origin, late_ms) = match settings.start_at_ms {
        Some(at) if at > now_ms => {
            let start = now + Duration::from_millis(at - now_ms);
            (start, start, None)
        }
        Some(at) => (
            now,
            now - Duration::from_millis(now_ms - at),
            Some(now_ms - at),
        ),
        None => (now, now, None),
    };
    match (settings.start_at_ms, late_ms) {
        (Some(_), Some(late)) => output(&format!(
            "START_AT passed {late} ms ago: starting now, late; the report names this task"
        )),
        (Some(at), None) => output(&format!(
            "Waiting {:.1} s for START_AT ({at}), so that every task's load begins together",
            (at - now_ms) as f64 / 1000.0
        )),
        (None, _) => {}
    }
    (start, origin)
}

/// Ends when a worker thread has; holds an error when it could not build its runtime.
type WorkerDone = oneshot::Receiver<std::io::Result<()>>;

/// One worker thread a core (at most one a slot), each with its own runtime and its share of the
/// load. Returns each worker's figures and a receiver that ends when the worker has.
fn spawn_workers(
    settings: &Arc<Settings>,
    tls: Option<Arc<rustls::ClientConfig>>,
    (start, origin): (Instant, Instant),
    stop: &Arc<AtomicBool>,
    load_seconds: f64,
) -> Result<(Vec<SharedStats>, Vec<WorkerDone>)> {
    let worker_count = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(settings.model.slots().max(1) as usize);
    let mut shares: Vec<SharedStats> = Vec::new();
    let mut done = Vec::new();
    for index in 0..worker_count {
        let stats: SharedStats = Arc::new(std::sync::Mutex::new(Stats::new(load_seconds)));
        shares.push(stats.clone());
        let (sender, receiver) = oneshot::channel();
        done.push(receiver);
        let (settings, tls, stop) = (settings.clone(), tls.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("generate-{index}"))
            .spawn(move || {
                let worker = Worker {
                    client: http::Client::new(&settings, tls),
                    model: settings.model.share(worker_count, index),
                    success: settings.success.clone(),
                    timeout: settings.timeout,
                    start,
                    origin,
                    stats,
                    stop,
                };
                let finished = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| {
                        tokio::task::LocalSet::new().block_on(&runtime, worker.run());
                    });
                let _ = sender.send(finished);
            })
            .context("starting a generator thread")?;
    }
    Ok((shares, done))
}

fn merged(shares: &[SharedStats]) -> Stats {
    let mut total = Stats::new(0.0);
    if let Some(first) = shares.first() {
        total.series.interval_ms = lock(first).series.interval_ms;
    }
    for share in shares {
        total.add(&lock(share));
    }
    total
}

fn describe(settings: &Settings) -> String {
    let target = &settings.target.absolute;
    let seconds = settings.model.profile().seconds();
    let task = match (settings.task_index, settings.task_count) {
        (Some(index), Some(count)) => format!("task {}/{count}: ", index + 1),
        _ => String::new(),
    };
    match &settings.model {
        Model::Open {
            profile,
            max_in_flight,
        } => format!(
            "{task}{} {target} at {} for {seconds:.0} s (open model: {} requests scheduled, at most {max_in_flight} in flight)",
            settings.method,
            rate_text(profile),
            profile.scheduled(),
        ),
        Model::Closed { profile } => format!(
            "{task}{} {target} with {} virtual users for {seconds:.0} s (closed model)",
            settings.method,
            profile.peak()
        ),
    }
}

fn rate_text(profile: &Profile) -> String {
    if profile.stages.len() == 1 && profile.start == profile.stages[0].1 {
        format!("{} req/s", profile.start)
    } else {
        format!(
            "up to {} req/s in {} stages",
            profile.peak(),
            profile.stages.len()
        )
    }
}

fn progress_line(total: &Stats, last_requests: u64, elapsed: f64, model: &Model) -> String {
    let current = (total.requests - last_requests) as f64 / PROGRESS_EVERY.as_secs_f64();
    let asked = match model {
        Model::Open { profile, .. } => format!("asked {:.0} req/s", profile.target_at(elapsed)),
        Model::Closed { profile } => format!("{:.0} virtual users", profile.target_at(elapsed)),
    };
    let p95 = if total.latency.is_empty() {
        "–".to_string()
    } else {
        format_latency_us(total.latency.value_at_quantile(0.95) as f64)
    };
    format!(
        "progress · {elapsed:.0}s · {} requests · {} errors · {current:.1} req/s ({asked}) · p95 {p95} · {} dropped",
        total.requests, total.errors, total.dropped
    )
}

fn summary_line(total: &Stats, duration_ms: u64, model: &Model) -> String {
    let rate = total.requests as f64 * 1000.0 / duration_ms.max(1) as f64;
    let mut line = format!(
        "done · {} requests in {:.1} s ({rate:.1} req/s) · {} errors · {} dropped",
        total.requests,
        duration_ms as f64 / 1000.0,
        total.errors,
        total.dropped
    );
    if !total.latency.is_empty() {
        line.push_str(&format!(
            " · p50 {} · p95 {} · p99 {} · max {}",
            format_latency_us(total.latency.value_at_quantile(0.50) as f64),
            format_latency_us(total.latency.value_at_quantile(0.95) as f64),
            format_latency_us(total.latency.value_at_quantile(0.99) as f64),
            format_latency_us(total.latency.max() as f64),
        ));
    }
    if matches!(model, Model::Open { .. }) && !total.lag.is_empty() {
        let lag = total.lag.value_at_quantile(0.99);
        if lag > LAG_LIMIT_US {
            line.push_str(&format!(
                " · requests started up to {} late (p99): the generator, not the server, limited the load",
                format_latency_us(lag as f64)
            ));
        }
    }
    line
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default()
}
