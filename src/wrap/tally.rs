//! Every sample a tester recorded, folded as it arrives: requests, errors by class and status,
//! the latency of every request in an HdrHistogram (µs), checks passed and failed, and the same
//! per request name. Memory does not grow with the sample count: histograms have fixed buckets,
//! and past `MAX_NAMES` names the rest are counted as one.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::results::protocol::{
    Checks, ErrorExample, WireName, WireResult, add_example, encode_histogram,
};

/// Request names kept apart; a script that names every request by its URL (ids and all) is
/// counted in one more row past this.
pub const MAX_NAMES: usize = 100;
// The names past `MAX_NAMES` are counted in one row.
use crate::results::protocol::OTHER_NAMES;

/// One request name's figures.
pub struct NameTally {
    pub requests: u64,
    pub errors: u64,
    pub latency: Histogram<u64>,
}

impl NameTally {
    fn new() -> NameTally {
        NameTally {
            requests: 0,
            errors: 0,
            latency: histogram(),
        }
    }
}

pub struct Tally {
    pub requests: u64,
    pub errors: u64,
    pub status: BTreeMap<String, u64>,
    pub error_classes: BTreeMap<String, u64>,
    pub latency: Histogram<u64>,
    pub dropped: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub names: BTreeMap<String, NameTally>,
    /// Rows whose metric value was not a number, or whose shape was not k6's: counted, skipped.
    pub unreadable: u64,
    /// The finest latency the tester measures, when coarser than a microsecond.
    pub latency_resolution_us: Option<u64>,
    /// What the errors said: the first distinct messages of each class, with their counts.
    pub error_examples: Vec<ErrorExample>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to an hour, 3 significant figures: what the generator and the merge use. Constant
    // bounds that hdrhistogram accepts (low ≥ 1, high ≥ 2 × low, at most 5 figures), so this
    // cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds")
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            requests: 0,
            errors: 0,
            status: BTreeMap::new(),
            error_classes: BTreeMap::new(),
            latency: histogram(),
            dropped: 0,
            checks_passed: 0,
            checks_failed: 0,
            names: BTreeMap::new(),
            unreadable: 0,
            latency_resolution_us: None,
            error_examples: Vec::new(),
        }
    }
}

/// One sample, as k6's CSV output writes it (the columns the tally reads).
pub struct Sample<'a> {
    pub metric: &'a str,
    pub value: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub error_code: &'a str,
}

impl Tally {
    pub fn add(&mut self, sample: &Sample) {
        let Ok(value) = sample.value.parse::<f64>() else {
            self.unreadable += 1;
            return;
        };
        if !value.is_finite() || value < 0.0 {
            self.unreadable += 1;
            return;
        }
        match sample.metric {
            "http_reqs" => {
                self.requests += 1;
                let status = if sample.status.is_empty() {
                    "0"
                } else {
                    sample.status
                };
                match self.status.get_mut(status) {
                    Some(count) => *count += 1,
                    None => {
                        self.status.insert(status.to_string(), 1);
                    }
                }
                self.name(sample.name).requests += 1;
            }
            "http_req_failed" if value > 0.0 => {
                self.errors += 1;
                let class = error_class(sample.status, sample.error_code);
                *self.error_classes.entry(class.to_string()).or_default() += 1;
                self.name(sample.name).errors += 1;
            }
            "http_req_duration" => {
                let us = ((value * 1000.0).round() as u64).clamp(1, 3_600_000_000);
                self.latency.saturating_record(us);
                self.name(sample.name).latency.saturating_record(us);
            }
            "checks" if value > 0.0 => self.checks_passed += 1,
            "checks" => self.checks_failed += 1,
            "dropped_iterations" => self.dropped += value as u64,
            _ => {}
        }
    }

    /// One whole request, as a tester that reports a request at a time gives it (Locust): its
    /// name, latency in milliseconds, status (0: no answer) and error class when it failed.
    pub fn request(&mut self, name: &str, latency_ms: f64, status: u16, error: Option<&str>) {
        if !latency_ms.is_finite() || latency_ms < 0.0 {
            self.unreadable += 1;
            return;
        }
        self.requests += 1;
        let status_key = status.to_string();
        *self.status.entry(status_key).or_default() += 1;
        let us = ((latency_ms * 1000.0).round() as u64).clamp(1, 3_600_000_000);
        self.latency.saturating_record(us);
        let row = self.name(name);
        row.requests += 1;
        row.latency.saturating_record(us);
        if let Some(class) = error {
            row.errors += 1;
            self.errors += 1;
            *self.error_classes.entry(class.to_string()).or_default() += 1;
        }
    }

    /// What an error of `class` said (the first distinct messages of each class are kept).
    pub fn error_said(&mut self, class: &str, message: &str) {
        add_example(&mut self.error_examples, class, message, 1);
    }

    fn name(&mut self, name: &str) -> &mut NameTally {
        let key = if self.names.contains_key(name) || self.names.len() < MAX_NAMES {
            name
        } else {
            OTHER_NAMES
        };
        // The key is allocated only for a name not seen before, not for every sample. (`entry`
        // would take an owned key every time; `get_mut` then `insert` in one match is refused by
        // the borrow checker, hence the lookup after the insert, which cannot miss.)
        if !self.names.contains_key(key) {
            self.names.insert(key.to_string(), NameTally::new());
        }
        self.names
            .get_mut(key)
            .expect("the name was inserted just above")
    }
}

/// k6's error codes (`error_code`), in the classes the generator uses: an answer that is not a
/// success is `status`; 1050 a timeout; 11xx a name that did not resolve and 12xx a TCP
/// connection that failed, `connect`; 13xx `tls`; anything else `request`.
fn error_class(status: &str, error_code: &str) -> &'static str {
    let code: u32 = error_code.parse().unwrap_or(0);
    if status.parse::<u16>().is_ok_and(|status| status > 0) {
        return "status";
    }
    match code {
        1050 => "timeout",
        1100..=1299 => "connect",
        1300..=1399 => "tls",
        _ => "request",
    }
}

/// The result line's JSON: the protocol's fields, with the checks and each request name's
/// figures beside them.
pub fn result_json(
    tally: &Tally,
    started_ms: u64,
    start_at_ms: Option<u64>,
    duration_ms: u64,
) -> Result<String, String> {
    let encoded = |latency: &Histogram<u64>| {
        (!latency.is_empty())
            .then(|| encode_histogram(latency))
            .transpose()
    };
    let mut names = BTreeMap::new();
    for (name, figures) in &tally.names {
        names.insert(
            name.clone(),
            WireName {
                requests: figures.requests,
                errors: figures.errors,
                latency_hdr: encoded(&figures.latency)?,
            },
        );
    }
    WireResult {
        v: WireResult::VERSION,
        requests: tally.requests,
        errors: tally.errors.min(tally.requests),
        duration_ms: duration_ms.max(1),
        status: tally.status.clone(),
        latency_hdr: encoded(&tally.latency)?,
        started_ms: Some(started_ms),
        start_at_ms,
        dropped: Some(tally.dropped),
        error_classes: tally.error_classes.clone(),
        // A script without checks (or a tester without them) reports none, not 0 of 0.
        checks: (tally.checks_passed + tally.checks_failed > 0).then_some(Checks {
            passed: tally.checks_passed,
            failed: tally.checks_failed,
        }),
        names,
        latency_resolution_us: tally.latency_resolution_us,
        error_examples: tally.error_examples.clone(),
        ..WireResult::default()
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::protocol::{Latency, parse_line};

    fn sample<'a>(metric: &'a str, value: &'a str, name: &'a str, status: &'a str) -> Sample<'a> {
        Sample {
            metric,
            value,
            name,
            status,
            error_code: "",
        }
    }

    #[test]
    fn samples_fold_into_counts_classes_and_a_histogram_per_name() {
        let mut tally = Tally::default();
        for (name, ms, status) in [
            ("home", "1.5", "200"),
            ("home", "2.5", "200"),
            ("cart", "40", "503"),
        ] {
            tally.add(&sample("http_reqs", "1", name, status));
            tally.add(&sample("http_req_duration", ms, name, status));
            tally.add(&sample(
                "http_req_failed",
                if status == "200" { "0" } else { "1" },
                name,
                status,
            ));
            tally.add(&sample(
                "checks",
                if status == "200" { "1" } else { "0" },
                name,
                status,
            ));
        }
        tally.add(&Sample {
            metric: "http_req_failed",
            value: "1",
            name: "home",
            status: "0",
            error_code: "1212",
        });
        tally.add(&sample("http_req_duration", "fast", "home", "200"));
        tally.add(&sample("dropped_iterations", "3", "", ""));

        assert_eq!((tally.requests, tally.errors, tally.dropped), (3, 2, 3));
        assert_eq!((tally.checks_passed, tally.checks_failed), (2, 1));
        assert_eq!(tally.unreadable, 1);
        assert_eq!(tally.latency.len(), 3);
        assert_eq!(tally.status["200"], 2);
        assert_eq!(tally.error_classes["status"], 1);
        assert_eq!(tally.error_classes["connect"], 1);
        assert_eq!(tally.names["home"].requests, 2);
        assert_eq!(tally.names["cart"].errors, 1);
        assert_eq!(
            tally.names["cart"].latency.max(),
            40_000u64.max(tally.names["cart"].latency.max())
        );

        let json = result_json(&tally, 1_000, Some(900), 2_000).unwrap();
        let parsed = parse_line(&format!("ECS_LOADTEST_RESULT {json}")).unwrap();
        assert_eq!((parsed.requests, parsed.errors), (3, 2));
        let Some(Latency::Exact(histogram)) = parsed.latency else {
            panic!("no exact latency: {json}");
        };
        assert_eq!(histogram.len(), 3);
        assert!(
            json.contains("\"checks\":{\"passed\":2,\"failed\":1}"),
            "{json}"
        );
    }

    #[test]
    fn names_past_the_bound_are_counted_as_one() {
        let mut tally = Tally::default();
        for index in 0..MAX_NAMES + 50 {
            tally.add(&sample("http_reqs", "1", &format!("/item/{index}"), "200"));
        }
        assert_eq!(tally.names.len(), MAX_NAMES + 1);
        assert_eq!(tally.names[OTHER_NAMES].requests, 50);
    }
}
