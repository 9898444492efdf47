//! The tasks' progress lines, read as they come, and what they add up to across tasks.
//!
//! A progress line is what `generate` prints every 10 s, and any tester may print the same:
//! `progress · 40s · 8012 requests · 3 errors · 200.1 req/s (asked 200 req/s) · p95 41.2ms · 0 dropped`.
//! Parts may come in any order after `progress`; those missing are unknown.

use std::sync::{Arc, Mutex, MutexGuard};

/// One task's latest progress.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    pub elapsed_s: Option<f64>,
    pub requests: Option<u64>,
    pub errors: Option<u64>,
    /// Requests per second over the last interval.
    pub rate: Option<f64>,
    pub asked_rate: Option<f64>,
    pub asked_vus: Option<f64>,
    /// p95 of the task's requests so far.
    pub p95_us: Option<f64>,
    pub dropped: Option<u64>,
    /// Checks passed and failed so far (`checks 12 passed, 1 failed`, a k6 script's).
    pub checks: Option<(u64, u64)>,
}

/// Reads a progress line; `None` for any other line.
pub fn parse(line: &str) -> Option<Progress> {
    let mut parts = line.trim().split(" · ");
    if parts.next()? != "progress" {
        return None;
    }
    let mut progress = Progress::default();
    for part in parts {
        let part = part.trim();
        if let Some(count) = part.strip_suffix(" requests") {
            progress.requests = count.parse().ok();
        } else if let Some(count) = part.strip_suffix(" errors") {
            progress.errors = count.parse().ok();
        } else if let Some(count) = part.strip_suffix(" dropped") {
            progress.dropped = count.parse().ok();
        } else if let Some(checks) = part.strip_prefix("checks ") {
            progress.checks = checks.split_once(" passed, ").and_then(|(passed, failed)| {
                Some((
                    passed.parse().ok()?,
                    failed.strip_suffix(" failed")?.parse().ok()?,
                ))
            });
        } else if let Some(latency) = part.strip_prefix("p95 ") {
            progress.p95_us = latency_us(latency);
        } else if let Some((rate, asked)) = part.split_once(" req/s") {
            progress.rate = rate.parse().ok();
            let asked = asked.trim().trim_start_matches('(').trim_end_matches(')');
            if let Some(rate) = asked
                .strip_prefix("asked ")
                .and_then(|rest| rest.strip_suffix(" req/s"))
            {
                progress.asked_rate = rate.parse().ok();
            } else if let Some(vus) = asked.strip_suffix(" virtual users") {
                progress.asked_vus = vus.parse().ok();
            }
        } else if let Some(seconds) = part.strip_suffix('s') {
            progress.elapsed_s = seconds.parse().ok().or(progress.elapsed_s);
        }
    }
    (progress != Progress::default()).then_some(progress)
}

/// `41.2ms`, `1.4s`, `850us` in microseconds.
fn latency_us(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(number) = text.strip_suffix("us") {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix("µs") {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1_000.0)
    } else {
        (text.strip_suffix('s')?, 1_000_000.0)
    };
    number.parse::<f64>().ok().map(|value| value * scale)
}

/// Every task's progress so far, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Total {
    pub task_count: usize,
    /// Tasks that sent a progress line.
    pub tasks_reporting: usize,
    /// The furthest any task is into its load.
    pub elapsed_s: Option<f64>,
    pub requests: u64,
    pub errors: u64,
    /// The current rate of the tasks still running.
    pub rate: f64,
    pub asked_rate: Option<f64>,
    pub asked_vus: Option<f64>,
    /// The worst task's p95 so far (percentiles of parts cannot be added; this bounds the whole).
    pub worst_p95_us: Option<f64>,
    /// The least of the tasks' p95s so far: the whole's p95 is at least this, once every task
    /// reported one.
    pub least_p95_us: Option<f64>,
    pub dropped: u64,
    /// Checks passed and failed, added over the tasks that count them.
    pub checks: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
struct Entry {
    latest: Option<Progress>,
    /// The task's log was read to its end: its rate is no longer current.
    ended: bool,
}

/// The latest progress of every task, shared by the log reader that fills it and the run that
/// prints the total.
#[derive(Debug, Clone)]
pub struct Board(Arc<Mutex<Vec<Entry>>>);

impl Board {
    pub fn new(task_count: usize) -> Self {
        Board(Arc::new(Mutex::new(
            (0..task_count).map(|_| Entry::default()).collect(),
        )))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One line of task `index`'s log: kept when it is a progress line.
    pub fn observe(&self, index: usize, line: &str) {
        if !line.starts_with("progress") {
            return;
        }
        if let (Some(progress), Some(entry)) = (parse(line), self.lock().get_mut(index)) {
            entry.latest = Some(progress);
        }
    }

    /// Task `index`'s log is read to its end.
    pub fn ended(&self, index: usize) {
        if let Some(entry) = self.lock().get_mut(index) {
            entry.ended = true;
        }
    }

    /// The total; `None` until some task sent a progress line.
    pub fn total(&self) -> Option<Total> {
        let entries = self.lock();
        let mut total = Total {
            task_count: entries.len(),
            ..Total::default()
        };
        let max = |sum: Option<f64>, value: Option<f64>| match (sum, value) {
            (Some(sum), Some(value)) => Some(sum.max(value)),
            (sum, value) => sum.or(value),
        };
        let add = |sum: Option<f64>, value: Option<f64>| match (sum, value) {
            (Some(sum), Some(value)) => Some(sum + value),
            (sum, value) => sum.or(value),
        };
        for entry in entries.iter() {
            let Some(progress) = entry.latest else {
                continue;
            };
            total.tasks_reporting += 1;
            total.elapsed_s = max(total.elapsed_s, progress.elapsed_s);
            total.requests += progress.requests.unwrap_or_default();
            total.errors += progress.errors.unwrap_or_default();
            total.dropped += progress.dropped.unwrap_or_default();
            total.worst_p95_us = max(total.worst_p95_us, progress.p95_us);
            total.least_p95_us = match (total.least_p95_us, progress.p95_us) {
                (Some(least), Some(p95)) => Some(least.min(p95)),
                (least, p95) => least.or(p95),
            };
            if let Some((passed, failed)) = progress.checks {
                let (all_passed, all_failed) = total.checks.unwrap_or_default();
                total.checks = Some((all_passed + passed, all_failed + failed));
            }
            if !entry.ended {
                total.rate += progress.rate.unwrap_or_default();
                total.asked_rate = add(total.asked_rate, progress.asked_rate);
                total.asked_vus = add(total.asked_vus, progress.asked_vus);
            }
        }
        (total.tasks_reporting > 0).then_some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_generators_lines() {
        assert_eq!(
            parse(
                "progress · 40s · 8012 requests · 3 errors · 200.1 req/s (asked 200 req/s) · p95 41.2ms · 7 dropped"
            ),
            Some(Progress {
                elapsed_s: Some(40.0),
                requests: Some(8012),
                errors: Some(3),
                rate: Some(200.1),
                asked_rate: Some(200.0),
                asked_vus: None,
                p95_us: Some(41_200.0),
                dropped: Some(7),
                checks: None,
            })
        );
        let k6 = parse("progress · 20s · 400 requests · 2 errors · 20.0 req/s · p95 12ms · 0 dropped · checks 398 passed, 2 failed").unwrap();
        assert_eq!((k6.requests, k6.checks), (Some(400), Some((398, 2))));
        let closed = parse("progress · 10s · 50 requests · 0 errors · 5.0 req/s (20 virtual users) · p95 – · 0 dropped").unwrap();
        assert_eq!((closed.asked_vus, closed.p95_us), (Some(20.0), None));
        assert_eq!(
            parse("progress · p95 1.5s").unwrap().p95_us,
            Some(1_500_000.0)
        );
        assert_eq!(parse("progress bar 50%"), None);
        assert_eq!(parse("progress · nothing we know"), None);
        assert_eq!(parse("done · 10 requests"), None);
    }

    #[test]
    fn adds_up_tasks_and_keeps_the_worst_p95() {
        let board = Board::new(3);
        assert_eq!(board.total(), None);
        board.observe(0, "progress · 20s · 1000 requests · 1 errors · 50.0 req/s (asked 50 req/s) · p95 40ms · 0 dropped");
        board.observe(1, "progress · 10s · 400 requests · 0 errors · 40.0 req/s (asked 50 req/s) · p95 90ms · 2 dropped");
        board.observe(1, "a line of the tester's own");
        let total = board.total().unwrap();
        assert_eq!(
            total,
            Total {
                task_count: 3,
                tasks_reporting: 2,
                elapsed_s: Some(20.0),
                requests: 1400,
                errors: 1,
                rate: 90.0,
                asked_rate: Some(100.0),
                asked_vus: None,
                worst_p95_us: Some(90_000.0),
                least_p95_us: Some(40_000.0),
                dropped: 2,
                checks: None,
            }
        );
        board.ended(0);
        let total = board.total().unwrap();
        assert_eq!(
            (total.requests, total.rate, total.asked_rate),
            (1400, 40.0, Some(50.0))
        );
    }
}
