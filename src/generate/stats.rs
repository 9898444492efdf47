//! What a worker counts: requests, errors by class, statuses, dropped requests, the latency
//! histogram, the schedule lag and a time series. Memory does not grow with the request count:
//! histograms have fixed buckets and the series at most `MAX_POINTS` points.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::results::protocol::{ErrorExample, add_example};

/// The result's series has at most this many points: what the result protocol takes.
pub const MAX_POINTS: u64 = crate::results::protocol::MAX_SERIES_POINTS as u64;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Name resolution or TCP connect.
    Connect,
    Tls,
    /// No complete answer within the request timeout.
    Timeout,
    /// An answer whose status does not count as success.
    Status,
    /// The request could not be sent, or the answer's head was not read.
    Request,
    /// The answer's body could not be read to its end.
    Body,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Connect,
        ErrorClass::Tls,
        ErrorClass::Timeout,
        ErrorClass::Status,
        ErrorClass::Request,
        ErrorClass::Body,
    ];

    /// What a failure of this class says when its cause gave no words of its own.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorClass::Connect => "the connection could not be made",
            ErrorClass::Tls => "the TLS handshake failed",
            ErrorClass::Timeout => "no complete answer within the request timeout",
            ErrorClass::Status => "an answer whose status is not a success",
            ErrorClass::Request => {
                "the answer's head was not read (the connection closed, or the answer was not HTTP)"
            }
            ErrorClass::Body => "the answer's body was cut short",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::Tls => "tls",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Status => "status",
            ErrorClass::Request => "request",
            ErrorClass::Body => "body",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<ErrorClass>,
    /// From the intended start (open model) or the send (closed model) to the end of the body;
    /// `None` when no answer came (a connect or request error).
    pub latency_us: Option<u64>,
}

pub struct Point {
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

/// Per-interval figures from the start of the load.
pub struct Series {
    pub interval_ms: u64,
    pub points: Vec<Point>,
}

impl Series {
    /// Intervals of whole seconds, so that `seconds` of load fit in `MAX_POINTS` points.
    pub fn for_seconds(seconds: f64) -> Series {
        let interval_ms = ((seconds / MAX_POINTS as f64).ceil() as u64).max(1) * 1000;
        Series {
            interval_ms,
            points: Vec::new(),
        }
    }

    fn point(&mut self, offset_ms: u64) -> &mut Point {
        // A request sent after the last interval (a late task) is counted in the last one.
        let index = (offset_ms / self.interval_ms).min(MAX_POINTS - 1) as usize;
        while self.points.len() <= index {
            self.points.push(Point {
                requests: 0,
                errors: 0,
                latency: histogram(2),
            });
        }
        &mut self.points[index]
    }
}

pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub status: BTreeMap<u16, u64>,
    pub error_classes: [u64; 6],
    /// Microseconds, 3 significant figures.
    pub latency: Histogram<u64>,
    /// Open model: actual minus intended start, microseconds.
    pub lag: Histogram<u64>,
    pub series: Series,
    /// The first messages of each error class, with how many errors said each.
    pub examples: Vec<ErrorExample>,
}

/// A histogram that grows to any value.
pub fn histogram(significant_figures: u8) -> Histogram<u64> {
    let mut histogram = Histogram::new(significant_figures.min(5))
        .unwrap_or_else(|_| unreachable!("hdrhistogram accepts 0 to 5 significant figures"));
    histogram.auto(true);
    histogram
}

impl Stats {
    pub fn new(load_seconds: f64) -> Stats {
        Stats {
            requests: 0,
            errors: 0,
            dropped: 0,
            status: BTreeMap::new(),
            error_classes: [0; 6],
            latency: histogram(3),
            lag: histogram(3),
            series: Series::for_seconds(load_seconds),
            examples: Vec::new(),
        }
    }

    /// One finished request, sent `offset_ms` after the load began.
    pub fn record(&mut self, offset_ms: u64, outcome: Outcome) {
        self.requests += 1;
        if let Some(status) = outcome.status {
            *self.status.entry(status).or_insert(0) += 1;
        }
        let point = self.series.point(offset_ms);
        point.requests += 1;
        if let Some(class) = outcome.error {
            self.errors += 1;
            self.error_classes[class as usize] += 1;
            point.errors += 1;
        }
        if let Some(latency_us) = outcome.latency_us {
            let latency_us = latency_us.max(1);
            // `auto` histograms grow to any value, so recording cannot fail.
            let _ = self.latency.record(latency_us);
            let _ = point.latency.record(latency_us);
        }
    }

    /// What `count` errors of `class` said (the first distinct messages of each class are kept).
    pub fn example(&mut self, class: ErrorClass, message: &str, count: u64) {
        add_example(&mut self.examples, class.name(), message, count);
    }

    pub fn record_lag(&mut self, lag_us: u64) {
        let _ = self.lag.record(lag_us);
    }

    /// Adds another worker's figures.
    pub fn add(&mut self, other: &Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.dropped += other.dropped;
        for (status, count) in &other.status {
            *self.status.entry(*status).or_insert(0) += count;
        }
        for (mine, theirs) in self.error_classes.iter_mut().zip(other.error_classes) {
            *mine += theirs;
        }
        for example in &other.examples {
            add_example(
                &mut self.examples,
                &example.class,
                &example.message,
                example.count,
            );
        }
        let _ = self.latency.add(&other.latency);
        let _ = self.lag.add(&other.lag);
        for (index, point) in other.series.points.iter().enumerate() {
            let mine = self.series.point(index as u64 * self.series.interval_ms);
            mine.requests += point.requests;
            mine.errors += point.errors;
            let _ = mine.latency.add(&point.latency);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_fit_in_120_points() {
        assert_eq!(Series::for_seconds(60.0).interval_ms, 1000);
        assert_eq!(Series::for_seconds(120.0).interval_ms, 1000);
        assert_eq!(Series::for_seconds(121.0).interval_ms, 2000);
        assert_eq!(Series::for_seconds(3600.0).interval_ms, 30_000);
        let mut stats = Stats::new(10.0);
        let ok = Outcome {
            status: Some(200),
            error: None,
            latency_us: Some(1500),
        };
        stats.record(0, ok);
        stats.record(2500, ok);
        stats.record(10_000_000, ok);
        assert_eq!(stats.series.points.len(), MAX_POINTS as usize);
        assert_eq!(stats.series.points[2].requests, 1);
    }

    #[test]
    fn adding_workers_adds_everything() {
        let mut first = Stats::new(10.0);
        let mut second = Stats::new(10.0);
        first.record(
            100,
            Outcome {
                status: Some(200),
                error: None,
                latency_us: Some(1000),
            },
        );
        second.record(
            1100,
            Outcome {
                status: Some(503),
                error: Some(ErrorClass::Status),
                latency_us: Some(3000),
            },
        );
        second.dropped = 4;
        first.add(&second);
        assert_eq!((first.requests, first.errors, first.dropped), (2, 1, 4));
        assert_eq!(first.status[&503], 1);
        assert_eq!(first.error_classes[ErrorClass::Status as usize], 1);
        assert_eq!(first.latency.len(), 2);
        assert_eq!(first.series.points[1].errors, 1);
    }
}
