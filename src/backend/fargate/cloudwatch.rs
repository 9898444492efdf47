//! The CloudWatch Logs source: reads every task's awslogs stream while the tasks run, and after
//! they stop until nothing more arrives, handing each line to the sink exactly once.
//!
//! With few tasks each stream is read with GetLogEvents and its forward token, which is exact.
//! With more, FilterLogEvents reads up to 100 streams a request; it has no per-stream token, so
//! each stream keeps a timestamp cursor and the query starts a little before it, and events
//! already seen are dropped by event ID. FilterLogEvents returns events by their timestamp, not
//! by when they became searchable, and nothing in its documentation promises that a stream's
//! events become searchable in timestamp order: a batch the awslogs driver had to retry, or one
//! indexed late, can appear behind the cursor and its margin. So once a stream is drained it is
//! searched once more over the whole run (the final check), and whatever it holds that was not
//! read is handed on then, with a warning that says so.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::log_location::LogLocation;
use super::rate::RateLimiter;
use crate::aws::{AwsError, persist};
use crate::logs::{LineSink, LogSource};
use crate::task::TaskRef;

/// Up to this many streams, each is read on its own with GetLogEvents.
const MAX_GET_STREAMS: usize = 4;
/// FilterLogEvents takes at most 100 `logStreamNames`.
const FILTER_BATCH: usize = 100;
/// CloudWatch Logs quotas per account and region: GetLogEvents 10/s, FilterLogEvents 5/s
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html>).
/// A run takes a little less, leaving room for anything else reading logs.
const GET_PER_SECOND: f64 = 8.0;
const FILTER_PER_SECOND: f64 = 4.0;
/// While lines come, a stream is read about once a second; idle, less often, up to this.
const ACTIVE_INTERVAL: Duration = Duration::from_secs(1);
const IDLE_INTERVAL: Duration = Duration::from_secs(5);
/// A stream still changing (or unreadable) this long after its task stopped is given up on.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// A GetLogEvents page this large (of at most 10,000 events or 1 MB) suggests a backlog.
const BACKLOG_PAGE: usize = 1000;
/// How far before a stream's cursor a FilterLogEvents query starts: a hedge against an earlier
/// batch of a stream becoming searchable after a later one. Every query re-reads this window, so
/// it is kept short: at high volume the re-reading costs requests.
const LOOKBACK_MS: i64 = 2_000;
/// A stream with no event yet is searched from at most this long ago (streams have been seen to
/// appear 20 seconds after their task started).
const EMPTY_STREAM_WINDOW_MS: i64 = 60_000;
/// The final check of a group of drained streams asks for no new page after this long (at 4 pages
/// of up to 10,000 events a second, some 2 million events; a page being retried may add up to
/// `aws::PERSISTENCE`), and says which tasks it did not finish.
const FINAL_CHECK_LIMIT: Duration = Duration::from_secs(60);
/// The event IDs kept across all streams for the final check (some 40 bytes each: about 80 MB),
/// about what the final check can compare within its limit. Past it, the stream that adds one
/// keeps only the IDs its re-read window needs, and its final check is skipped with a warning:
/// the memory stays bounded however long the run and however many lines.
const MAX_SEEN_EVENTS: usize = 2_000_000;

/// The tasks' CloudWatch Logs streams, where the awslogs driver writes them.
pub struct CloudWatchLogs {
    pub client: aws_sdk_cloudwatchlogs::Client,
    pub location: LogLocation,
    /// When the first task was asked for (epoch ms); `None`: when following begins.
    pub since_ms: Option<i64>,
}

impl LogSource for CloudWatchLogs {
    async fn follow(
        self,
        tasks: Vec<TaskRef>,
        stopped: mpsc::UnboundedReceiver<usize>,
        sink: LineSink,
    ) -> Result<LineSink> {
        let follower = Follower {
            client: self.client,
            streams: tasks
                .iter()
                .map(|task| Stream::new(task.index(), self.location.stream(&task.short_id)))
                .collect(),
            location: self.location,
            sink,
            started_ms: self.since_ms.unwrap_or_else(epoch_ms),
            seen_events: 0,
        };
        follower.run(stopped).await
    }
}

struct Stream {
    index: usize,
    name: String,
    /// GetLogEvents: the forward token of the last read.
    token: Option<String>,
    /// FilterLogEvents: newest event timestamp seen, and the IDs of the events handed on
    /// (hashed) with their timestamps, which the final check compares against.
    cursor_ms: Option<i64>,
    seen: HashMap<u64, i64>,
    /// Its older IDs were let go (`MAX_SEEN_EVENTS`): no final check can compare against it.
    pruned: bool,
    stopped_at: Option<Instant>,
    /// Since when reads have found nothing new; `None` after a read that found lines.
    quiet_since: Option<Instant>,
    interval: Duration,
    next_read: Instant,
    warned: bool,
    done: bool,
}

impl Stream {
    fn new(index: usize, name: String) -> Self {
        Stream {
            index,
            name,
            token: None,
            cursor_ms: None,
            seen: HashMap::new(),
            pruned: false,
            stopped_at: None,
            quiet_since: None,
            interval: ACTIVE_INTERVAL,
            next_read: Instant::now(),
            warned: false,
            done: false,
        }
    }

    /// Notes an event handed on; false when it was already.
    fn remember(&mut self, event_id: u64, timestamp: i64) -> bool {
        self.seen.insert(event_id, timestamp).is_none()
    }

    /// Lets go of the IDs older than the window the next query re-reads; returns how many.
    fn prune(&mut self) -> usize {
        let before = self.seen.len();
        if let Some(cursor) = self.cursor_ms {
            self.seen
                .retain(|_, timestamp| *timestamp >= cursor - LOOKBACK_MS);
        }
        self.pruned = true;
        before - self.seen.len()
    }

    /// Updates the schedule after a read; returns true when the stream is now complete.
    fn after_read(&mut self, found_lines: bool, now: Instant) -> bool {
        if found_lines {
            self.quiet_since = None;
            self.interval = ACTIVE_INTERVAL;
        } else {
            self.quiet_since.get_or_insert(now);
            self.interval = (self.interval * 2).min(IDLE_INTERVAL);
        }
        self.next_read = now + self.interval;
        self.check_drained(now)
    }

    /// A read failed: nothing is known, so the quiet span does not grow.
    fn after_error(&mut self, now: Instant) -> bool {
        self.interval = IDLE_INTERVAL;
        self.next_read = now + self.interval;
        self.check_drained(now)
    }

    fn check_drained(&mut self, now: Instant) -> bool {
        let Some(stopped_at) = self.stopped_at else {
            return false;
        };
        // Draining: read at the active pace until done.
        self.interval = self.interval.min(ACTIVE_INTERVAL);
        self.next_read = self.next_read.min(now + ACTIVE_INTERVAL);
        let quiet_after_stop = self.quiet_since.is_some_and(|quiet_since| {
            now.duration_since(quiet_since.max(stopped_at)) >= crate::tuning::get().log_quiet
        });
        quiet_after_stop || now.duration_since(stopped_at) >= DRAIN_LIMIT
    }
}

struct Follower {
    client: aws_sdk_cloudwatchlogs::Client,
    location: LogLocation,
    streams: Vec<Stream>,
    sink: LineSink,
    started_ms: i64,
    /// Event IDs kept across the streams.
    seen_events: usize,
}

impl Follower {
    async fn run(mut self, mut stopped: mpsc::UnboundedReceiver<usize>) -> Result<LineSink> {
        let use_filter = self.streams.len() > MAX_GET_STREAMS;
        let mut limiter = RateLimiter::per_second(if use_filter {
            FILTER_PER_SECOND
        } else {
            GET_PER_SECOND
        });
        let mut filter_next_read = Instant::now();
        loop {
            while let Ok(index) = stopped.try_recv() {
                self.mark_stopped(index);
            }
            if self.streams.iter().all(|stream| stream.done) {
                break;
            }
            // Sleep until the next read is due, waking early when a task stops.
            let due = if use_filter {
                filter_next_read
            } else {
                self.streams
                    .iter()
                    .filter(|stream| !stream.done)
                    .map(|stream| stream.next_read)
                    .min()
                    .unwrap_or_else(Instant::now)
            };
            if due > Instant::now() {
                if let Ok(Some(index)) = timeout_at(due, stopped.recv()).await {
                    self.mark_stopped(index);
                }
                continue;
            }
            limiter.acquire().await;
            if use_filter {
                filter_next_read = self.read_filtered(&mut limiter).await?;
            } else if let Some(position) = self
                .streams
                .iter()
                .position(|stream| !stream.done && stream.next_read <= Instant::now())
            {
                self.read_one(position).await?;
            }
        }
        Ok(self.sink)
    }

    fn mark_stopped(&mut self, index: usize) {
        let now = Instant::now();
        for stream in self
            .streams
            .iter_mut()
            .filter(|stream| stream.index == index)
        {
            stream.stopped_at.get_or_insert(now);
            stream.next_read = stream.next_read.min(now);
        }
    }

    fn emit(&mut self, index: usize, message: &str) -> Result<()> {
        self.sink.line(index, message)
    }

    fn complete(&mut self, position: usize) -> Result<()> {
        let stream = &mut self.streams[position];
        stream.done = true;
        // Read to its end and checked: its IDs are never compared again.
        self.seen_events = self.seen_events.saturating_sub(stream.seen.len());
        stream.seen = HashMap::new();
        if let Some(stopped_at) = stream.stopped_at
            && Instant::now().duration_since(stopped_at) >= DRAIN_LIMIT
            && stream.quiet_since.is_none()
        {
            self.sink.warning(format!(
                "task {}: log stream {} still changed {}s after the task stopped; later lines are not shown",
                stream.index + 1,
                stream.name,
                DRAIN_LIMIT.as_secs()
            ));
        }
        let index = stream.index;
        self.sink.complete(index)
    }

    fn warn_once(&mut self, position: usize, error: &AwsError) {
        let stream = &mut self.streams[position];
        if !stream.warned {
            stream.warned = true;
            self.sink.warning(format!(
                "reading the logs of task {}: {error}; retrying",
                stream.index + 1
            ));
        }
    }

    /// One GetLogEvents page of one stream.
    async fn read_one(&mut self, position: usize) -> Result<()> {
        let stream = &self.streams[position];
        let answer = self
            .client
            .get_log_events()
            .log_group_name(&self.location.group)
            .log_stream_name(&stream.name)
            .start_from_head(true)
            .set_next_token(stream.token.clone())
            .send()
            .await;
        let now = Instant::now();
        let answer = match answer {
            Ok(answer) => answer,
            // The stream does not exist yet: normal for a while after the task starts.
            Err(error) if error.code() == Some("ResourceNotFoundException") => {
                if self.streams[position].after_read(false, now) {
                    self.complete(position)?;
                }
                return Ok(());
            }
            Err(error) => {
                let error = AwsError::new(
                    format!("GetLogEvents of {}", self.streams[position].name),
                    &error,
                );
                self.warn_once(position, &error);
                if self.streams[position].after_error(now) {
                    self.complete(position)?;
                }
                return Ok(());
            }
        };
        let index = self.streams[position].index;
        let events = answer.events();
        for event in events {
            self.emit(index, event.message().unwrap_or_default())?;
        }
        // At the end of a stream AWS answers with the token it was given: not an error.
        let token = answer.next_forward_token().map(str::to_string);
        let stream = &mut self.streams[position];
        if token.is_some() {
            stream.token = token;
        }
        if stream.after_read(!events.is_empty(), now) {
            self.complete(position)?;
        } else if events.len() >= BACKLOG_PAGE {
            // A large page means more is probably waiting: read again as soon as the limiter
            // allows rather than in a second.
            stream.next_read = now;
        }
        Ok(())
    }

    /// One FilterLogEvents query, all pages, per batch of 100 open streams. Returns when the next
    /// query is due.
    async fn read_filtered(&mut self, limiter: &mut RateLimiter) -> Result<Instant> {
        let open: Vec<usize> = (0..self.streams.len())
            .filter(|&position| !self.streams[position].done)
            .collect();
        let mut found_any = false;
        let mut first_page = true;
        let mut drained = Vec::new();
        for batch in open.chunks(FILTER_BATCH) {
            let now_ms = epoch_ms();
            let start_ms = batch
                .iter()
                .map(|&position| match self.streams[position].cursor_ms {
                    Some(cursor) => cursor,
                    None => self.started_ms.max(now_ms - EMPTY_STREAM_WINDOW_MS),
                })
                .min()
                .unwrap_or(now_ms)
                - LOOKBACK_MS;
            let (names, by_name) = self.names(batch);
            let mut found = vec![false; self.streams.len()];
            let mut failed = false;
            let mut next_token: Option<String> = None;
            loop {
                if !first_page {
                    limiter.acquire().await;
                }
                first_page = false;
                let answer = self
                    .filter(&names, start_ms, next_token.clone())
                    .send()
                    .await;
                let answer = match answer {
                    Ok(answer) => answer,
                    // The log group does not exist yet: no task has written anything.
                    Err(error) if error.code() == Some("ResourceNotFoundException") => break,
                    Err(error) => {
                        let error = AwsError::new(
                            format!("FilterLogEvents of log group {}", self.location.group),
                            &error,
                        );
                        self.warn_once(batch[0], &error);
                        failed = true;
                        break;
                    }
                };
                for event in answer.events() {
                    let Some(&position) =
                        event.log_stream_name().and_then(|name| by_name.get(name))
                    else {
                        continue;
                    };
                    let timestamp = event.timestamp().unwrap_or_default();
                    let event_id = id_key(event.event_id().unwrap_or_default());
                    let stream = &mut self.streams[position];
                    if stream
                        .cursor_ms
                        .is_some_and(|cursor| timestamp < cursor - LOOKBACK_MS)
                        || !stream.remember(event_id, timestamp)
                    {
                        continue;
                    }
                    stream.cursor_ms = Some(
                        stream
                            .cursor_ms
                            .map_or(timestamp, |cursor| cursor.max(timestamp)),
                    );
                    self.seen_events += 1;
                    if self.seen_events > MAX_SEEN_EVENTS {
                        self.seen_events -= stream.prune();
                    }
                    found[position] = true;
                    let index = stream.index;
                    self.emit(index, event.message().unwrap_or_default())?;
                }
                next_token = answer.next_token().map(str::to_string);
                if next_token.is_none() {
                    break;
                }
            }
            let now = Instant::now();
            for &position in batch {
                let stream = &mut self.streams[position];
                found_any |= found[position];
                let complete = if failed {
                    stream.after_error(now)
                } else {
                    stream.after_read(found[position], now)
                };
                if complete {
                    drained.push(position);
                }
            }
        }
        if !drained.is_empty() {
            self.final_check(&drained, limiter).await?;
            for position in drained {
                self.complete(position)?;
            }
        }
        let now = Instant::now();
        let draining = self
            .streams
            .iter()
            .any(|stream| !stream.done && stream.stopped_at.is_some());
        let interval = if found_any || draining {
            ACTIVE_INTERVAL
        } else {
            self.streams
                .iter()
                .filter(|stream| !stream.done)
                .map(|stream| stream.interval)
                .min()
                .unwrap_or(ACTIVE_INTERVAL)
        };
        Ok(now + interval)
    }

    /// The stream names of `batch` (positions in `streams`), and the position of each name.
    fn names(&self, batch: &[usize]) -> (Vec<String>, HashMap<String, usize>) {
        let names: Vec<String> = batch
            .iter()
            .map(|&position| self.streams[position].name.clone())
            .collect();
        let by_name = names.iter().cloned().zip(batch.iter().copied()).collect();
        (names, by_name)
    }

    /// One FilterLogEvents page of `names`, from `start_ms`.
    fn filter(
        &self,
        names: &[String],
        start_ms: i64,
        next_token: Option<String>,
    ) -> aws_sdk_cloudwatchlogs::operation::filter_log_events::builders::FilterLogEventsFluentBuilder
    {
        self.client
            .filter_log_events()
            .log_group_name(&self.location.group)
            .set_log_stream_names(Some(names.to_vec()))
            .start_time(start_ms)
            .set_next_token(next_token)
    }

    /// Searches drained streams once more, from before the run to now, and hands on every event
    /// not read before: one FilterLogEvents query (all its pages) per 100 streams.
    async fn final_check(&mut self, positions: &[usize], limiter: &mut RateLimiter) -> Result<()> {
        let give_up = Instant::now() + FINAL_CHECK_LIMIT;
        let start_ms = self.started_ms - EMPTY_STREAM_WINDOW_MS;
        let (pruned, positions): (Vec<usize>, Vec<usize>) = positions
            .iter()
            .partition(|&&position| self.streams[position].pruned);
        if !pruned.is_empty() {
            let tasks: Vec<String> = pruned
                .iter()
                .map(|&position| (self.streams[position].index + 1).to_string())
                .collect();
            self.sink.warning(format!(
                "the logs held more than {MAX_SEEN_EVENTS} lines, more than the final check can compare: it is skipped for task(s) {}, so a line that became searchable late may be missing",
                tasks.join(", ")
            ));
        }
        for batch in positions.chunks(FILTER_BATCH) {
            let (names, by_name) = self.names(batch);
            let mut recovered: HashMap<usize, usize> = HashMap::new();
            let mut next_token: Option<String> = None;
            let unfinished = loop {
                if Instant::now() >= give_up {
                    break Some(format!("it took over {} s", FINAL_CHECK_LIMIT.as_secs()));
                }
                limiter.acquire().await;
                let request = self.filter(&names, start_ms, next_token.clone());
                let group = &self.location.group;
                // Beyond the SDK's attempts, a page is asked again through a longer spell of
                // throttling, like every call the run depends on.
                let answer = persist(|| async {
                    match request.clone().send().await {
                        Ok(answer) => Ok(Some(answer)),
                        Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(None),
                        Err(error) => Err(AwsError::new(
                            format!("FilterLogEvents of log group {group}"),
                            &error,
                        )),
                    }
                })
                .await;
                let answer = match answer {
                    Ok(Some(answer)) => answer,
                    // The log group does not exist: no task wrote anything.
                    Ok(None) => break None,
                    Err(error) => break Some(error.to_string()),
                };
                for event in answer.events() {
                    let Some(&position) =
                        event.log_stream_name().and_then(|name| by_name.get(name))
                    else {
                        continue;
                    };
                    let event_id = id_key(event.event_id().unwrap_or_default());
                    let timestamp = event.timestamp().unwrap_or_default();
                    if self.streams[position].remember(event_id, timestamp) {
                        self.seen_events += 1;
                        *recovered.entry(position).or_default() += 1;
                        let index = self.streams[position].index;
                        self.emit(index, event.message().unwrap_or_default())?;
                    }
                }
                next_token = answer.next_token().map(str::to_string);
                if next_token.is_none() {
                    break None;
                }
            };
            let mut recovered: Vec<(usize, usize)> = recovered.into_iter().collect();
            recovered.sort_unstable();
            for (position, lines) in recovered {
                self.sink.warning(format!(
                    "task {}: {lines} log line(s) became searchable in CloudWatch after later ones; the final check found them and they end the task's log",
                    self.streams[position].index + 1
                ));
            }
            if let Some(why) = unfinished {
                let tasks: Vec<String> = batch
                    .iter()
                    .map(|&position| (self.streams[position].index + 1).to_string())
                    .collect();
                self.sink.warning(format!(
                    "the final check of the logs of task(s) {} did not finish ({why}): a line that became searchable late may be missing",
                    tasks.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Event IDs are long decimal strings; a 64-bit hash of one stands for it in the de-duplication
/// set. A collision among one stream's IDs is vanishingly unlikely (about 1 in 4·10^7 for a
/// million IDs, by the birthday bound), and would only hide one line of the final check.
fn id_key(event_id: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(event_id, &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

pub fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream past the bound keeps only the IDs its next query re-reads: an event in that
    /// window is still recognised, the older ones are let go, and the final check knows.
    #[test]
    fn a_pruned_stream_keeps_only_its_re_read_window() {
        let mut stream = Stream::new(0, "tester/tester/abc".into());
        for id in 0..10_000u64 {
            let timestamp = 1_000_000 + id as i64;
            assert!(stream.remember(id, timestamp));
            stream.cursor_ms = Some(timestamp);
        }
        assert!(!stream.remember(9_999, 1_009_999), "a repeat is recognised");
        let let_go = stream.prune();
        assert_eq!(let_go, 10_000 - (LOOKBACK_MS as usize + 1));
        assert_eq!(stream.seen.len(), LOOKBACK_MS as usize + 1);
        assert!(stream.pruned);
        // Inside the window: still a repeat. Outside: forgotten (the final check is skipped).
        assert!(!stream.remember(9_000, 1_009_000));
        assert!(stream.remember(10, 1_000_010));
    }

    #[test]
    fn a_stopped_stream_is_complete_after_a_quiet_span_that_follows_the_stop() {
        let start = Instant::now();
        let mut stream = Stream::new(0, "p/c/t".into());
        // Quiet long before the stop does not count.
        assert!(!stream.after_read(false, start));
        stream.stopped_at = Some(start + Duration::from_secs(20));
        assert!(!stream.after_read(false, start + Duration::from_secs(21)));
        assert!(!stream.after_read(false, start + Duration::from_secs(25)));
        assert!(stream.after_read(false, start + Duration::from_secs(26)));
    }

    #[test]
    fn lines_after_the_stop_restart_the_quiet_span() {
        let start = Instant::now();
        let mut stream = Stream::new(0, "p/c/t".into());
        stream.stopped_at = Some(start);
        assert!(!stream.after_read(false, start + Duration::from_secs(5)));
        assert!(!stream.after_read(true, start + Duration::from_secs(6)));
        assert!(!stream.after_read(false, start + Duration::from_secs(7)));
        assert!(!stream.after_read(false, start + Duration::from_secs(12)));
        assert!(stream.after_read(false, start + Duration::from_secs(13)));
    }

    #[test]
    fn errors_never_count_as_quiet_but_the_drain_is_bounded() {
        let start = Instant::now();
        let mut stream = Stream::new(0, "p/c/t".into());
        stream.stopped_at = Some(start);
        assert!(!stream.after_error(start + Duration::from_secs(10)));
        assert!(!stream.after_error(start + Duration::from_secs(29)));
        assert!(stream.after_error(start + Duration::from_secs(30)));
    }

    #[test]
    fn idle_streams_are_read_less_often() {
        let start = Instant::now();
        let mut stream = Stream::new(0, "p/c/t".into());
        stream.after_read(false, start);
        assert_eq!(stream.interval, Duration::from_secs(2));
        stream.after_read(false, start);
        stream.after_read(false, start);
        assert_eq!(stream.interval, IDLE_INTERVAL);
        stream.after_read(true, start);
        assert_eq!(stream.interval, ACTIVE_INTERVAL);
    }
}
