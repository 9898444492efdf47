//! The generator's result: the `ECS_LOADTEST_RESULT` JSON, sent as chunks.

use super::stats::{ErrorClass, Stats};
use crate::results::protocol::{WirePoint, WireResult, WireSeries, encode_histogram};

/// When the load was meant to begin and when it did, in epoch milliseconds.
pub struct Timing {
    pub start_at_ms: Option<u64>,
    pub started_ms: u64,
    pub duration_ms: u64,
    /// The open model measures schedule lag; the closed one has no schedule.
    pub scheduled: bool,
}

pub fn result_json(stats: &Stats, timing: &Timing) -> Result<String, String> {
    let series = WireSeries {
        start_ms: timing.start_at_ms.unwrap_or(timing.started_ms),
        interval_ms: stats.series.interval_ms,
        points: stats
            .series
            .points
            .iter()
            .map(|point| {
                Ok(WirePoint {
                    requests: point.requests,
                    errors: point.errors,
                    latency_hdr: if point.latency.is_empty() {
                        None
                    } else {
                        Some(encode_histogram(&point.latency)?)
                    },
                })
            })
            .collect::<Result<_, String>>()?,
    };
    WireResult {
        v: WireResult::VERSION,
        requests: stats.requests,
        errors: stats.errors,
        duration_ms: timing.duration_ms.max(1),
        status: stats
            .status
            .iter()
            .map(|(status, count)| (status.to_string(), *count))
            .collect(),
        latency_hdr: Some(encode_histogram(&stats.latency)?),
        started_ms: Some(timing.started_ms),
        start_at_ms: timing.start_at_ms,
        dropped: Some(stats.dropped),
        error_classes: ErrorClass::ALL
            .iter()
            .filter(|class| stats.error_classes[**class as usize] > 0)
            .map(|class| {
                (
                    class.name().to_string(),
                    stats.error_classes[*class as usize],
                )
            })
            .collect(),
        schedule_lag_p99_us: (timing.scheduled && !stats.lag.is_empty())
            .then(|| stats.lag.value_at_quantile(0.99)),
        series: Some(series),
        error_examples: stats.examples.clone(),
        ..WireResult::default()
    }
    .to_json()
}
