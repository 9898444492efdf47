//! One stored run: what it holds, as a DynamoDB item and back, and how it is kept under
//! DynamoDB's item size limit.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

pub type Item = HashMap<String, AttributeValue>;

/// DynamoDB refuses items over 400 KB (409,600 bytes, names and values); this budget is lower,
/// and `item_size` counts numbers and containers high, so a stored item is never refused.
pub const ITEM_LIMIT: usize = 400_000;

/// What goes first when an item would pass `ITEM_LIMIT`, as attribute and what it is. The
/// figures, the verdict, the key and where the run came from are always kept.
pub const TRIM_ORDER: [(&str, &str); 4] = [
    (SERIES, "the time series"),
    (LATENCY_HDR, "the latency histogram"),
    (THRESHOLDS, "the threshold details"),
    (REASONS, "the verdict's reasons"),
];

pub const TEST_ID: &str = "testId";
pub const TIMESTAMP: &str = "timestamp";
pub const EXPIRES_AT: &str = "expiresAt";
pub const PASSED: &str = "passed";
pub const BRANCH: &str = "branch";
/// The repository the tested code came from (`owner/name`): a fork's pull request names the fork.
pub const REPOSITORY: &str = "repository";
pub const SHAPE_KEY: &str = "shapeKey";
pub const FIGURES: &str = "figures";
pub const COMMIT: &str = "commit";
pub const RUN_URL: &str = "runUrl";
const SERIES: &str = "series";
const LATENCY_HDR: &str = "latencyHdr";
const THRESHOLDS: &str = "thresholds";
const REASONS: &str = "reasons";
const TRIMMED: &str = "trimmed";

/// One run as stored. `figures` are keyed by the thresholds' metric names (`p95`, `rps`,
/// `error_rate`, …): latency in microseconds, the error rate as a fraction.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoredRun {
    pub test_id: String,
    /// Epoch milliseconds when the run ended.
    pub timestamp_ms: u64,
    /// Epoch seconds after which DynamoDB's TTL removes the item.
    pub expires_at: u64,
    pub passed: bool,
    pub exit_status: u64,
    pub reasons: Vec<String>,
    pub tasks_reporting: u64,
    pub task_count: u64,
    pub figures: BTreeMap<String, f64>,
    /// Some task sent only percentiles: the latency figures are the worst task's.
    pub latency_approximate: bool,
    pub dropped_requests: Option<u64>,
    pub start_skew_ms: Option<u64>,
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// The repository `branch` is a branch of: a fork's `main` is not the base's.
    pub repository: Option<String>,
    pub pull_number: Option<u64>,
    pub run_url: Option<String>,
    pub image: Option<String>,
    /// The load shape for people (`2 tasks, 200 req/s, 60 s`), and as compared.
    pub shape: String,
    pub shape_key: String,
    /// Every sample: base64 HdrHistogram V2+DEFLATE, as in the result line.
    pub latency_hdr: Option<String>,
    pub series: Option<serde_json::Value>,
    pub thresholds: Option<serde_json::Value>,
    /// Attributes left out to stay under `ITEM_LIMIT`.
    pub trimmed: Vec<String>,
    /// `ecs-loadtest VERSION`.
    pub writer: String,
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn texts(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|value| text(value)).collect())
}

impl StoredRun {
    /// The item, trimmed to `limit` bytes; also returns what was left out, in people's words.
    pub fn to_item(&self, limit: usize) -> (Item, Vec<&'static str>) {
        let mut item = Item::new();
        let mut put = |name: &str, value: AttributeValue| {
            item.insert(name.to_string(), value);
        };
        put(TEST_ID, text(&self.test_id));
        put(TIMESTAMP, number(self.timestamp_ms));
        put(EXPIRES_AT, number(self.expires_at));
        put(PASSED, AttributeValue::Bool(self.passed));
        put("exitStatus", number(self.exit_status));
        put("tasksReporting", number(self.tasks_reporting));
        put("taskCount", number(self.task_count));
        put(
            FIGURES,
            AttributeValue::M(
                self.figures
                    .iter()
                    .filter(|(_, value)| value.is_finite())
                    .map(|(name, value)| (name.clone(), number(value)))
                    .collect(),
            ),
        );
        put(
            "latencyApproximate",
            AttributeValue::Bool(self.latency_approximate),
        );
        put("shape", text(&self.shape));
        put(SHAPE_KEY, text(&self.shape_key));
        put("writer", text(&self.writer));
        for (name, value) in [
            (COMMIT, &self.commit),
            (BRANCH, &self.branch),
            (REPOSITORY, &self.repository),
            (RUN_URL, &self.run_url),
            ("image", &self.image),
            (LATENCY_HDR, &self.latency_hdr),
        ] {
            if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
                put(name, text(value));
            }
        }
        for (name, value) in [
            ("droppedRequests", self.dropped_requests),
            ("startSkewMs", self.start_skew_ms),
            ("pr", self.pull_number),
        ] {
            if let Some(value) = value {
                put(name, number(value));
            }
        }
        for (name, value) in [(SERIES, &self.series), (THRESHOLDS, &self.thresholds)] {
            if let Some(value) = value {
                put(name, text(&value.to_string()));
            }
        }
        if !self.reasons.is_empty() {
            put(REASONS, texts(&self.reasons));
        }
        let mut trimmed: Vec<String> = self.trimmed.clone();
        let mut said = Vec::new();
        for (name, what) in TRIM_ORDER {
            if item_size(&item) <= limit {
                break;
            }
            if item.remove(name).is_some() {
                trimmed.push(name.to_string());
                said.push(what);
                // The list of what was left out counts too.
                item.insert(TRIMMED.to_string(), texts(&trimmed));
            }
        }
        (item, said)
    }

    /// Reads an item back; what is missing from it stays empty. An item without its key or
    /// verdict is not one of ours.
    pub fn from_item(item: &Item) -> Result<StoredRun, String> {
        let s = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).cloned();
        let n = |name: &str| {
            item.get(name)
                .and_then(|value| value.as_n().ok())
                .and_then(|value| value.parse::<f64>().ok())
        };
        let whole = |name: &str| n(name).map(|value| value as u64);
        let json = |name: &str| s(name).and_then(|text| serde_json::from_str(&text).ok());
        let list = |name: &str| -> Vec<String> {
            item.get(name)
                .and_then(|value| value.as_l().ok())
                .map(|values| {
                    values
                        .iter()
                        .filter_map(|value| value.as_s().ok().cloned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let test_id = s(TEST_ID).ok_or("no `testId`")?;
        let timestamp_ms = whole(TIMESTAMP).ok_or("no `timestamp`")?;
        let passed = item
            .get(PASSED)
            .and_then(|value| value.as_bool().ok())
            .copied()
            .ok_or("no `passed`")?;
        let figures = item
            .get(FIGURES)
            .and_then(|value| value.as_m().ok())
            .map(|figures| {
                figures
                    .iter()
                    .filter_map(|(name, value)| {
                        Some((name.clone(), value.as_n().ok()?.parse::<f64>().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(StoredRun {
            test_id,
            timestamp_ms,
            expires_at: whole(EXPIRES_AT).unwrap_or_default(),
            passed,
            exit_status: whole("exitStatus").unwrap_or_default(),
            reasons: list(REASONS),
            tasks_reporting: whole("tasksReporting").unwrap_or_default(),
            task_count: whole("taskCount").unwrap_or_default(),
            figures,
            latency_approximate: item
                .get("latencyApproximate")
                .and_then(|value| value.as_bool().ok())
                .copied()
                .unwrap_or(false),
            dropped_requests: whole("droppedRequests"),
            start_skew_ms: whole("startSkewMs"),
            commit: s(COMMIT),
            branch: s(BRANCH),
            repository: s(REPOSITORY),
            pull_number: whole("pr"),
            run_url: s(RUN_URL),
            image: s("image"),
            shape: s("shape").unwrap_or_default(),
            shape_key: s(SHAPE_KEY).unwrap_or_default(),
            latency_hdr: s(LATENCY_HDR),
            series: json(SERIES),
            thresholds: json(THRESHOLDS),
            trimmed: list(TRIMMED),
            writer: s("writer").unwrap_or_default(),
        })
    }
}

/// An item's size as DynamoDB counts it, rounded up: every attribute name's UTF-8 bytes plus its
/// value's (strings and binaries their bytes; a number its decimal text plus one; a boolean or
/// null one; a list or map 3 bytes, plus one a member, plus the members and a map's names).
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len() + 1,
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(values) => {
            3 + values
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(values) => values.iter().map(String::len).sum(),
        AttributeValue::Ns(values) => values.iter().map(|n| n.len() + 1).sum(),
        AttributeValue::Bs(values) => values.iter().map(|b| b.as_ref().len()).sum(),
        // A kind this code never writes: count it as the whole limit, so nothing is refused.
        _ => ITEM_LIMIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> StoredRun {
        StoredRun {
            test_id: "checkout".into(),
            timestamp_ms: 1_790_000_000_000,
            expires_at: 1_797_776_000,
            passed: true,
            exit_status: 0,
            reasons: vec![],
            tasks_reporting: 2,
            task_count: 2,
            figures: BTreeMap::from([("p95".into(), 412_300.0), ("error_rate".into(), 0.002)]),
            commit: Some("0123abc".into()),
            branch: Some("main".into()),
            pull_number: Some(7),
            shape: "2 tasks, 200 req/s, 60 s".into(),
            shape_key: "tasks=2 rate=200 vus=- duration=60 stages=-".into(),
            latency_hdr: Some("HISTOGRAM".into()),
            series: Some(serde_json::json!({"interval_ms": 5000, "points": [1, 2, 3]})),
            thresholds: Some(serde_json::json!([{"rule": "p95 < 500ms", "held": true}])),
            writer: "ecs-loadtest 0.1.0".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_item_reads_back_as_it_was_written() {
        let (item, trimmed) = run().to_item(ITEM_LIMIT);
        assert!(trimmed.is_empty());
        assert_eq!(StoredRun::from_item(&item).unwrap(), run());
        assert_eq!(item[TIMESTAMP].as_n().unwrap(), "1790000000000");
        assert_eq!(item[EXPIRES_AT].as_n().unwrap(), "1797776000");
    }

    #[test]
    fn at_the_limit_nothing_is_dropped_one_byte_over_the_series_goes_first() {
        let (full, _) = run().to_item(ITEM_LIMIT);
        let size = item_size(&full);
        let (kept, trimmed) = run().to_item(size);
        assert!(trimmed.is_empty());
        assert_eq!(kept, full);

        let (item, trimmed) = run().to_item(size - 1);
        assert_eq!(trimmed, ["the time series"]);
        assert!(item_size(&item) < size);
        let back = StoredRun::from_item(&item).unwrap();
        assert_eq!(back.series, None);
        assert_eq!(back.trimmed, ["series"]);
        assert!(back.latency_hdr.is_some());

        // Far too small: everything that may go goes, in order; the figures stay.
        let (item, trimmed) = run().to_item(10);
        assert_eq!(
            trimmed,
            [
                "the time series",
                "the latency histogram",
                "the threshold details"
            ]
        );
        let back = StoredRun::from_item(&item).unwrap();
        assert_eq!(back.figures, run().figures);
        assert_eq!(back.trimmed, ["series", "latencyHdr", "thresholds"]);
    }

    #[test]
    fn sizes_count_names_and_values() {
        let item = Item::from([
            ("ab".to_string(), text("xyz")),
            ("n".to_string(), number(12345)),
            ("t".to_string(), AttributeValue::Bool(true)),
            ("l".to_string(), texts(&["a".into(), "bc".into()])),
        ]);
        assert_eq!(
            item_size(&item),
            (2 + 3) + (1 + 6) + (1 + 1) + (1 + 3 + 2 + 3)
        );
    }
}
