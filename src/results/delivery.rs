//! The load that was asked for against the load that was delivered: the achieved rate overall
//! and per stage, dropped requests, start skew, tasks that reported; and, when the test fell
//! short, one plain sentence that says so and names the cause the results show.
//!
//! A test that sent 70 % of its requests "passes" a latency threshold it would have failed at
//! full load. That is the lie this check prevents.

use serde::Serialize;

use super::merge::{Merged, MergedSeries};
use super::protocol::LAG_LIMIT_US;
use crate::plan::format_latency_us;
use crate::plan::{Load, Profile, StageUnit, duration_text};
use crate::task::TaskNumber;

/// Delivered more than this fraction under the asked rate: the load was not delivered.
pub const SHORTFALL_LIMIT: f64 = 0.05;
/// Late tasks named one by one in the sentence; the rest are counted.
const LATE_NAMED: usize = 3;

/// What was asked: a rate (open model) or virtual users (closed model), over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    Rate(Profile),
    Vus(Profile),
    /// A rate without a duration (a tester of its own that runs until it is done).
    RateOnly(u64),
}

impl Asked {
    /// What the load inputs ask for, totals across tasks; `None` when they ask for nothing the
    /// results can be held against (no rate, no VUs, no stages).
    pub fn from_load(load: &Load) -> Option<Asked> {
        if let Some(stages) = &load.stages {
            let profile = Profile::ramp(stages);
            return Some(match stages.unit {
                StageUnit::Rate => Asked::Rate(profile),
                StageUnit::Vus => Asked::Vus(profile),
            });
        }
        match (load.rate, load.vus, load.duration_seconds) {
            (Some(rate), _, Some(seconds)) => Some(Asked::Rate(Profile::constant(rate, seconds))),
            (Some(rate), _, None) => Some(Asked::RateOnly(rate)),
            (None, Some(vus), Some(seconds)) => Some(Asked::Vus(Profile::constant(vus, seconds))),
            (None, Some(vus), None) => Some(Asked::Vus(Profile::constant(vus, 0))),
            (None, None, _) => None,
        }
    }
}

/// One stage: what it asked and what the series shows it delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageDelivery {
    pub number: usize,
    pub seconds: f64,
    /// The target at the stage's start and end (req/s, or VUs).
    pub from: f64,
    pub to: f64,
    /// Requests per second asked over the part of the stage the series covers (open model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked_rate: Option<f64>,
    /// Requests per second delivered over that part; `None` without a series covering it.
    pub delivered_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// `200 req/s for 1m00s`, `stages 30s:200,2m:200,30s:0 (req/s)`, `50 virtual users`.
    pub asked: String,
    pub task_count: usize,
    pub tasks_reporting: usize,
    /// Requests the schedule called for, all tasks together (open model with a duration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked_requests: Option<u64>,
    pub delivered_requests: u64,
    /// Requests per second asked, on average over the test (open model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_rate: Option<f64>,
    /// How far under the asked load the delivered one is (0.07: 7 % under), open model only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageDelivery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<u64>,
    /// `(task index, ms after START_AT)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late_tasks: Vec<(usize, u64)>,
    /// Set when the test did not deliver its load: one plain sentence with the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortfall_sentence: Option<String>,
}

/// Holds what was delivered against what `load` asked for. `None` when nothing was asked that
/// the results can be held against.
pub fn delivery(load: &Load, merged: &Merged) -> Option<Delivery> {
    let asked = Asked::from_load(load)?;
    let (asked_requests, asked_rate) = match &asked {
        Asked::Rate(profile) if profile.seconds() > 0.0 => {
            let requests = profile.scheduled();
            (Some(requests), Some(requests as f64 / profile.seconds()))
        }
        Asked::RateOnly(rate) => (None, Some(*rate as f64)),
        _ => (None, None),
    };
    let delivered_rate = merged.rps;
    let shortfall = if merged.tasks_reporting == 0 {
        None
    } else {
        match (asked_requests, asked_rate) {
            (Some(asked), _) if asked > 0 => {
                Some((1.0 - merged.requests as f64 / asked as f64).max(0.0))
            }
            (None, Some(rate)) if rate > 0.0 => {
                Some((1.0 - delivered_rate.unwrap_or(0.0) / rate).max(0.0))
            }
            _ => None,
        }
    };
    let stages = stage_deliveries(&asked, merged.series.as_ref());
    let mut delivery = Delivery {
        asked: asked_text(load, &asked),
        task_count: merged.task_count,
        tasks_reporting: merged.tasks_reporting,
        asked_requests,
        delivered_requests: merged.requests,
        asked_rate,
        delivered_rate,
        shortfall,
        stages,
        dropped: merged.dropped,
        start_skew_ms: merged.start_skew_ms,
        late_tasks: merged.late_tasks.clone(),
        shortfall_sentence: None,
    };
    delivery.shortfall_sentence = sentence(&delivery, merged);
    Some(delivery)
}

fn asked_text(load: &Load, asked: &Asked) -> String {
    let tasks = if load.task_count == 1 {
        String::new()
    } else {
        format!(" across {} tasks", load.task_count)
    };
    let seconds = |profile: &Profile| duration_text(profile.seconds().round() as i64);
    match asked {
        Asked::Rate(profile) | Asked::Vus(profile) if load.stages.is_some() => {
            let unit = if matches!(asked, Asked::Rate(_)) {
                "req/s"
            } else {
                "virtual users"
            };
            let stages = load
                .stages
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!(
                "stages `{stages}` ({unit}, {} in all){tasks}",
                seconds(profile)
            )
        }
        Asked::Rate(profile) => format!("{} req/s for {}{tasks}", profile.start, seconds(profile)),
        Asked::Vus(profile) if profile.seconds() > 0.0 => {
            format!(
                "{} virtual users for {}{tasks}",
                profile.start,
                seconds(profile)
            )
        }
        Asked::Vus(profile) => format!("{} virtual users{tasks}", profile.start),
        Asked::RateOnly(rate) => format!("{rate} req/s{tasks}"),
    }
}

/// Every stage with the rate the series shows in it: the intervals that lie wholly inside the
/// stage, counted from the series' start (which testers align to `START_AT`).
fn stage_deliveries(asked: &Asked, series: Option<&MergedSeries>) -> Vec<StageDelivery> {
    let (profile, open) = match asked {
        Asked::Rate(profile) => (profile, true),
        Asked::Vus(profile) => (profile, false),
        Asked::RateOnly(_) => return Vec::new(),
    };
    if profile.stages.len() < 2 {
        return Vec::new();
    }
    let mut stages = Vec::new();
    let mut begin = 0.0;
    let mut from = profile.start;
    for (index, (seconds, to)) in profile.stages.iter().enumerate() {
        let end = begin + seconds;
        let covered = series.and_then(|series| covered(series, begin, end));
        stages.push(StageDelivery {
            number: index + 1,
            seconds: *seconds,
            from,
            to: *to,
            asked_rate: match covered {
                Some((first, last, _)) if open => {
                    Some((profile.due_by(last) - profile.due_by(first)) / (last - first))
                }
                None if open => Some((from + to) / 2.0),
                _ => None,
            },
            delivered_rate: covered.map(|(first, last, requests)| requests as f64 / (last - first)),
        });
        begin = end;
        from = *to;
    }
    stages
}

/// The part of `[begin, end)` (seconds from the series' start) that whole intervals cover, and
/// the requests in it: `(first, last, requests)`.
fn covered(series: &MergedSeries, begin: f64, end: f64) -> Option<(f64, f64, u64)> {
    let interval = series.interval_ms as f64 / 1000.0;
    if interval <= 0.0 {
        return None;
    }
    let first_index = (begin / interval - 1e-9).ceil().max(0.0) as usize;
    let mut last_index = first_index;
    let mut requests = 0;
    for (index, point) in series.points.iter().enumerate().skip(first_index) {
        if (index + 1) as f64 * interval > end + 1e-9 {
            break;
        }
        requests += point.requests;
        last_index = index + 1;
    }
    (last_index > first_index).then_some((
        first_index as f64 * interval,
        last_index as f64 * interval,
        requests,
    ))
}

/// The plain sentence for a test that did not deliver its load, naming every cause the results
/// show; `None` when it delivered.
fn sentence(delivery: &Delivery, merged: &Merged) -> Option<String> {
    let short = delivery
        .shortfall
        // A hair above the limit: 11,400 of 12,000 is 5 % under, not more, whatever the float.
        .is_some_and(|shortfall| shortfall > SHORTFALL_LIMIT + 1e-9);
    if !short && delivery.late_tasks.is_empty() {
        return None;
    }
    let what = match (short, delivery.asked_requests) {
        (true, Some(asked)) => format!(
            "it sent {} of the {asked} requests asked ({:.1} % under)",
            delivery.delivered_requests,
            delivery.shortfall.unwrap_or_default() * 100.0
        ),
        (true, None) => format!(
            "it sent {:.1} req/s of the {:.0} req/s asked ({:.1} % under)",
            delivery.delivered_rate.unwrap_or_default(),
            delivery.asked_rate.unwrap_or_default(),
            delivery.shortfall.unwrap_or_default() * 100.0
        ),
        (false, _) => "the tasks' load did not fully overlap".to_string(),
    };
    let mut causes = Vec::new();
    if let Some(dropped) = delivery.dropped.filter(|dropped| *dropped > 0) {
        causes.push(format!(
            "{dropped} requests could not start because every virtual user was busy (the generator's VUs or CPU: raise `vus`, or `cpu`)"
        ));
    }
    if let Some(lag) = merged.schedule_lag_p99_us.filter(|lag| *lag > LAG_LIMIT_US) {
        causes.push(format!(
            "requests started up to {} behind their schedule (p99): the generator's CPU was the limit",
            format_latency_us(lag as f64)
        ));
    }
    if delivery.tasks_reporting < delivery.task_count {
        causes.push(format!(
            "only {} of {} tasks reported results",
            delivery.tasks_reporting, delivery.task_count
        ));
    }
    if !delivery.late_tasks.is_empty() {
        let mut late: Vec<String> = delivery
            .late_tasks
            .iter()
            .take(LATE_NAMED)
            .map(|(index, late_ms)| {
                format!(
                    "{} began {:.1} s after START_AT",
                    TaskNumber {
                        index: *index,
                        count: delivery.task_count
                    }
                    .in_sentence(),
                    *late_ms as f64 / 1000.0
                )
            })
            .collect();
        if delivery.late_tasks.len() > LATE_NAMED {
            late.push(format!(
                "{} more tasks began late",
                delivery.late_tasks.len() - LATE_NAMED
            ));
        }
        causes.push(format!(
            "{} (start delay: raise `start-delay`)",
            late.join(", ")
        ));
    }
    if causes.is_empty() {
        causes.push(
            "the results show no cause (no dropped requests, no schedule lag, every task on time): look at the tester's own log".to_string(),
        );
    }
    Some(format!(
        "The test did not deliver its load: {what}; {}.",
        causes.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Stages;
    use crate::results::merge::MergedPoint;

    fn load(rate: Option<u64>, vus: Option<u64>, stages: Option<&str>) -> Load {
        Load {
            task_count: 2,
            target_url: None,
            vus,
            rate,
            duration_seconds: Some(60),
            stages: stages.map(|text| Stages::parse(text).unwrap()),
            request: vec![],
            start_delay_seconds: None,
            environment: vec![],
            command: None,
            secrets: vec![],
        }
    }

    fn merged(requests: u64) -> Merged {
        Merged {
            task_count: 2,
            tasks_reporting: 2,
            requests,
            rps: Some(requests as f64 / 60.0),
            duration_ms: 60_000,
            ..Default::default()
        }
    }

    #[test]
    fn a_full_open_model_run_delivered() {
        let delivery = delivery(&load(Some(200), Some(50), None), &merged(11_900)).unwrap();
        assert_eq!(delivery.asked, "200 req/s for 1m00s across 2 tasks");
        assert_eq!(delivery.asked_requests, Some(12_000));
        assert_eq!(delivery.asked_rate, Some(200.0));
        assert!((delivery.shortfall.unwrap() - 1.0 / 120.0).abs() < 1e-9);
        assert!(delivery.shortfall_sentence.is_none());
    }

    #[test]
    fn under_delivery_names_the_dropped_requests() {
        let mut merged = merged(11_000);
        merged.dropped = Some(1000);
        let delivery = delivery(&load(Some(200), Some(50), None), &merged).unwrap();
        assert_eq!(
            delivery.shortfall_sentence.as_deref(),
            Some(
                "The test did not deliver its load: it sent 11000 of the 12000 requests asked (8.3 % under); 1000 requests could not start because every virtual user was busy (the generator's VUs or CPU: raise `vus`, or `cpu`)."
            )
        );
    }

    #[test]
    fn exactly_five_percent_under_still_delivered() {
        let delivery = delivery(&load(Some(200), None, None), &merged(11_400)).unwrap();
        assert!(delivery.shortfall_sentence.is_none(), "{delivery:?}");
        let delivery = super::delivery(&load(Some(200), None, None), &merged(11_399)).unwrap();
        assert!(delivery.shortfall_sentence.is_some());
        assert!(
            delivery
                .shortfall_sentence
                .unwrap()
                .ends_with("; the results show no cause (no dropped requests, no schedule lag, every task on time): look at the tester's own log.")
        );
    }

    #[test]
    fn late_tasks_are_under_delivery_in_any_model() {
        let mut merged = merged(3_000);
        merged.late_tasks = vec![(1, 4_200)];
        merged.task_count = 2;
        let delivery = delivery(&load(None, Some(20), None), &merged).unwrap();
        assert_eq!(delivery.asked, "20 virtual users for 1m00s across 2 tasks");
        assert_eq!(delivery.shortfall, None);
        assert_eq!(
            delivery.shortfall_sentence.as_deref(),
            Some(
                "The test did not deliver its load: the tasks' load did not fully overlap; task 2/2 began 4.2 s after START_AT (start delay: raise `start-delay`)."
            )
        );
    }

    #[test]
    fn stages_are_held_against_the_series() {
        // 0 → 100 req/s over 20 s, then 100 for 20 s; one point every 10 s.
        let points = [500, 1000, 1000, 600]
            .map(|requests| MergedPoint {
                requests,
                ..Default::default()
            })
            .to_vec();
        let mut merged = merged(3_100);
        merged.series = Some(MergedSeries {
            start_ms: 0,
            interval_ms: 10_000,
            points,
        });
        let delivery = delivery(&load(Some(1), None, Some("20s:100, 20s:100")), &merged).unwrap();
        assert_eq!(
            delivery.asked,
            "stages `20s:100,20s:100` (req/s, 40s in all) across 2 tasks"
        );
        assert_eq!(delivery.asked_requests, Some(3_000));
        assert_eq!(delivery.stages.len(), 2);
        assert_eq!(delivery.stages[0].asked_rate, Some(50.0));
        assert_eq!(delivery.stages[0].delivered_rate, Some(75.0));
        assert_eq!(delivery.stages[1].asked_rate, Some(100.0));
        assert_eq!(delivery.stages[1].delivered_rate, Some(80.0));
    }

    #[test]
    fn nothing_asked_is_nothing_to_hold_against() {
        assert_eq!(delivery(&load(None, None, None), &merged(10)), None);
    }

    #[test]
    fn a_rate_without_duration_is_held_against_the_rate() {
        let mut load = load(Some(100), None, None);
        load.duration_seconds = None;
        let delivery = delivery(&load, &merged(3_000)).unwrap();
        assert_eq!(delivery.asked, "100 req/s across 2 tasks");
        assert!(delivery.shortfall_sentence.is_some());
        assert!(
            delivery
                .shortfall_sentence
                .unwrap()
                .starts_with("The test did not deliver its load: it sent 50.0 req/s of the 100 req/s asked (50.0 % under)")
        );
    }
}
