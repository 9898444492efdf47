//! The result line a tester prints (DESIGN.md):
//!
//! ```text
//! ECS_LOADTEST_RESULT {"v":1,"requests":12000,"errors":12,"duration_ms":60000,"status":{"200":11988,"503":12},"latency_hdr":"<base64 HdrHistogram V2+DEFLATE, microseconds>"}
//! ```
//!
//! A result may also come as numbered chunks, each one line well under the 16 KiB at which the
//! awslogs driver splits lines (moby/moby#41794):
//!
//! ```text
//! ECS_LOADTEST_RESULT_CHUNK <id> <i> <n> <the i-th piece of the JSON text>
//! ```

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer};
use serde::{Deserialize, Serialize};

/// A `schedule_lag_p99_us` past this says the tester, not the server, limited the load: the
/// generator says so in its result, and the report warns of it.
pub const LAG_LIMIT_US: u64 = 5_000;
/// A result line starts with this marker, then one space, then a JSON object.
pub const RESULT_MARKER: &str = "ECS_LOADTEST_RESULT";
/// A chunk line starts with this marker, then the chunk set's id, the chunk's number from 1, the
/// number of chunks and the piece, separated by single spaces.
pub const CHUNK_MARKER: &str = "ECS_LOADTEST_RESULT_CHUNK";
/// The JSON bytes in one chunk: with the marker and numbers, a chunk line stays far under 16 KiB.
pub const CHUNK_BYTES: usize = 8000;
/// At most this many chunks make one result (2 MiB of JSON).
pub const MAX_CHUNKS: usize = 256;
/// The most points a series may hold (DESIGN.md): the report draws at most this many.
pub const MAX_SERIES_POINTS: usize = 120;

/// What one task reported.
#[derive(Debug, Clone, Default)]
pub struct TaskResult {
    pub requests: u64,
    pub errors: u64,
    pub duration_ms: u64,
    pub status: BTreeMap<String, u64>,
    pub latency: Option<Latency>,
    /// Epoch milliseconds when the task's load began.
    pub started_ms: Option<u64>,
    /// Epoch milliseconds when the load was meant to begin (`START_AT`).
    pub start_at_ms: Option<u64>,
    /// Requests the schedule called for that could not start (every slot was busy).
    pub dropped: Option<u64>,
    /// Errors by class (`connect`, `tls`, `timeout`, `status`, `request`, `body`).
    pub error_classes: BTreeMap<String, u64>,
    /// The 99th percentile of how late requests started against their schedule.
    pub schedule_lag_p99_us: Option<u64>,
    pub series: Option<Series>,
    /// Checks passed and failed (k6's `checks`), when the tester has them.
    pub checks: Option<Checks>,
    /// Each request name's figures, when the tester names its requests (k6's `name` tag).
    pub names: BTreeMap<String, NameResult>,
    /// The finest latency the tester measures, when it is coarser than a microsecond (JMeter:
    /// 1,000, whole milliseconds).
    pub latency_resolution_us: Option<u64>,
    /// The first messages of each error class, as the tester said them.
    pub error_examples: Vec<ErrorExample>,
}

/// Checks passed and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    pub passed: u64,
    pub failed: u64,
}

/// One request name's figures.
#[derive(Debug, Clone)]
pub struct NameResult {
    pub requests: u64,
    pub errors: u64,
    /// Every sample of that name, in microseconds.
    pub latency: Option<Histogram<u64>>,
}

/// The row a tester counts its names past its own limit in: a name's figures may then be short
/// on that task, so no rule reads one name.
pub const OTHER_NAMES: &str = "(other names)";

/// The most request names one result may hold: a tester keeps its names within this, counting
/// the rest as one (the wrapper keeps 100 and one more).
pub const MAX_NAMES: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
pub struct WireName {
    pub requests: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_hdr: Option<String>,
}

/// Per-interval figures, the first interval starting at `start_ms`.
#[derive(Debug, Clone)]
pub struct Series {
    pub start_ms: u64,
    pub interval_ms: u64,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone)]
pub struct SeriesPoint {
    pub requests: u64,
    pub errors: u64,
    pub latency: Option<Histogram<u64>>,
}

#[derive(Debug, Clone)]
pub enum Latency {
    /// Every sample, in microseconds: merges exactly.
    Exact(Histogram<u64>),
    /// Only percentiles (k6's `handleSummary`, for one): merged figures are approximate.
    Percentiles(Percentiles),
}

/// Latency percentiles in milliseconds, as a tester without a histogram reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// The result line's JSON, as every tester of this project writes it and the run reads it: one
/// type for both, so that the writers and the reader cannot drift apart.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WireResult {
    pub v: u64,
    pub requests: u64,
    pub errors: u64,
    pub duration_ms: u64,
    #[serde(default)]
    pub status: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_hdr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(default)]
    pub error_classes: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_lag_p99_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<WireSeries>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, WireName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_resolution_us: Option<u64>,
    /// The first messages of each error class (a few), with how many errors said each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_examples: Vec<ErrorExample>,
}

/// What some of a task's errors of one class said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorExample {
    pub class: String,
    pub message: String,
    pub count: u64,
}

/// At most this many distinct messages are kept a class.
pub const EXAMPLES_PER_CLASS: usize = 3;

/// Adds `count` errors of `class` that said `message`: to the example with the same words, or as
/// a new one when its class has fewer than `EXAMPLES_PER_CLASS` (else only the class counts it).
pub fn add_example(examples: &mut Vec<ErrorExample>, class: &str, message: &str, count: u64) {
    if let Some(kept) = examples
        .iter_mut()
        .find(|kept| kept.class == class && kept.message == message)
    {
        kept.count = kept.count.saturating_add(count);
    } else if examples.iter().filter(|kept| kept.class == class).count() < EXAMPLES_PER_CLASS {
        examples.push(ErrorExample {
            class: class.to_string(),
            message: message.to_string(),
            count,
        });
    }
}

/// At most this many error messages travel in a result, and the longest this many bytes.
pub const MAX_ERROR_EXAMPLES: usize = 24;
pub const MAX_ERROR_MESSAGE_BYTES: usize = 300;

impl WireResult {
    /// The version this action writes and reads.
    pub const VERSION: u64 = 1;

    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string(self).map_err(|error| error.to_string())
    }
}

/// The series as a tester sends it.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireSeries {
    pub start_ms: u64,
    pub interval_ms: u64,
    pub points: Vec<WirePoint>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WirePoint {
    pub requests: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_hdr: Option<String>,
}

/// Parses a line that starts with the marker. The error says what is wrong, for a warning that
/// names the task.
pub fn parse_line(line: &str) -> Result<TaskResult, String> {
    let Some(json) = line.trim().strip_prefix(RESULT_MARKER) else {
        return Err(format!("does not start with {RESULT_MARKER}"));
    };
    let wire: WireResult =
        serde_json::from_str(json.trim()).map_err(|error| format!("invalid JSON: {error}"))?;
    if wire.v != WireResult::VERSION {
        return Err(format!(
            "version {} is not supported (this action reads version 1)",
            wire.v
        ));
    }
    if wire.errors > wire.requests {
        return Err(format!(
            "errors ({}) exceed requests ({})",
            wire.errors, wire.requests
        ));
    }
    if wire.duration_ms == 0 {
        return Err("duration_ms is 0".to_string());
    }
    let mut budget = DecodeBudget::new();
    let latency = match (wire.latency_hdr, wire.latency_ms) {
        (Some(encoded), _) => Some(Latency::Exact(budget.decode(&encoded, "latency_hdr")?)),
        (None, Some(percentiles)) => {
            let values = [
                percentiles.p50,
                percentiles.p90,
                percentiles.p95,
                percentiles.p99,
                percentiles.max,
            ];
            if values.iter().all(Option::is_none) {
                return Err("latency_ms has none of p50, p90, p95, p99, max".to_string());
            }
            if values
                .iter()
                .flatten()
                .any(|value| !value.is_finite() || *value < 0.0)
            {
                return Err("latency_ms holds a negative or non-finite value".to_string());
            }
            Some(Latency::Percentiles(percentiles))
        }
        (None, None) => None,
    };
    let series = match wire.series {
        None => None,
        Some(series) => {
            if series.interval_ms == 0 {
                return Err("series.interval_ms is 0".to_string());
            }
            if series.points.len() > MAX_SERIES_POINTS {
                return Err(format!(
                    "series holds {} points; at most {MAX_SERIES_POINTS}",
                    series.points.len()
                ));
            }
            let mut points = Vec::with_capacity(series.points.len());
            for (index, point) in series.points.into_iter().enumerate() {
                let latency = match point.latency_hdr.as_deref() {
                    Some(encoded) => {
                        Some(budget.decode(encoded, &format!("series point {}", index + 1))?)
                    }
                    None => None,
                };
                points.push(SeriesPoint {
                    requests: point.requests,
                    errors: point.errors,
                    latency,
                });
            }
            Some(Series {
                start_ms: series.start_ms,
                interval_ms: series.interval_ms,
                points,
            })
        }
    };
    if wire.names.len() > MAX_NAMES {
        return Err(format!(
            "names holds {} request names; at most {MAX_NAMES}",
            wire.names.len()
        ));
    }
    let mut names = BTreeMap::new();
    for (name, figures) in wire.names {
        if figures.errors > figures.requests {
            return Err(format!(
                "request name `{name}`: errors ({}) exceed requests ({})",
                figures.errors, figures.requests
            ));
        }
        let latency = match figures.latency_hdr.as_deref() {
            Some(encoded) => Some(budget.decode(encoded, &format!("request name `{name}`"))?),
            None => None,
        };
        names.insert(
            name,
            NameResult {
                requests: figures.requests,
                errors: figures.errors,
                latency,
            },
        );
    }
    Ok(TaskResult {
        checks: wire.checks,
        names,
        requests: wire.requests,
        errors: wire.errors,
        duration_ms: wire.duration_ms,
        status: wire.status,
        latency,
        started_ms: wire.started_ms,
        start_at_ms: wire.start_at_ms,
        dropped: wire.dropped,
        error_classes: wire.error_classes,
        schedule_lag_p99_us: wire.schedule_lag_p99_us,
        series,
        latency_resolution_us: wire.latency_resolution_us,
        error_examples: wire
            .error_examples
            .into_iter()
            .take(MAX_ERROR_EXAMPLES)
            .map(|mut example| {
                if example.message.len() > MAX_ERROR_MESSAGE_BYTES {
                    let mut end = MAX_ERROR_MESSAGE_BYTES;
                    while !example.message.is_char_boundary(end) {
                        end -= 1;
                    }
                    example.message.truncate(end);
                    example.message.push('…');
                }
                example
            })
            .collect(),
    })
}

/// Encodes a histogram as testers send it: V2 + DEFLATE, base64.
pub fn encode_histogram(histogram: &Histogram<u64>) -> Result<String, String> {
    let mut bytes = Vec::new();
    hdrhistogram::serialization::V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|error| format!("{error:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The chunk lines that carry `json`, a result's JSON text, as the set `id`.
pub fn chunk_lines(json: &str, id: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = json;
    while !rest.is_empty() {
        let mut end = rest.len().min(CHUNK_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    let count = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(index, piece)| format!("{CHUNK_MARKER} {id} {} {count} {piece}", index + 1))
        .collect()
}

/// One chunk line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub id: String,
    /// From 1.
    pub number: usize,
    pub count: usize,
    pub piece: String,
}

pub fn parse_chunk(line: &str) -> Result<Chunk, String> {
    let Some(rest) = line.trim_start().strip_prefix(CHUNK_MARKER) else {
        return Err(format!("does not start with {CHUNK_MARKER}"));
    };
    let mut parts = rest.strip_prefix(' ').unwrap_or(rest).splitn(4, ' ');
    let (Some(id), Some(number), Some(count), Some(piece)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("a chunk line is `{CHUNK_MARKER} ID I N PIECE`"));
    };
    let number: usize = number
        .parse()
        .map_err(|_| format!("chunk number `{number}` is not a whole number"))?;
    let count: usize = count
        .parse()
        .map_err(|_| format!("chunk count `{count}` is not a whole number"))?;
    if count == 0 || count > MAX_CHUNKS || number == 0 || number > count {
        return Err(format!(
            "chunk {number} of {count} is out of range (at most {MAX_CHUNKS} chunks)"
        ));
    }
    Ok(Chunk {
        id: id.to_string(),
        number,
        count,
        piece: piece.to_string(),
    })
}

/// What a histogram's V2 header may declare: the bounds every tester of this protocol records
/// in (microseconds from 1, 3 significant figures). Checked before anything is allocated for it:
/// hdrhistogram sizes its counts from the header alone, and 5 figures up to 2^62 alone is a
/// 48 MiB array, which one small line could ask for hundreds of times.
pub const MAX_SIGNIFICANT_FIGURES: u32 = 3;
/// About 76 hours in microseconds: above any latency a run can measure (its tasks are stopped at
/// `timeout-minutes`, 48 hours at most).
pub const MAX_TRACKABLE_US: u64 = 1 << 38;
/// The most bytes one histogram may inflate to (its header and counts); one that fits the
/// bounds above needs under 300 KiB.
pub const MAX_INFLATED_BYTES: usize = 1 << 20;
/// The most memory all of one task's decoded histograms may take together (8 bytes a count):
/// a whole result of this protocol with the wrapper's histograms (1 µs to an hour, 190 KiB each:
/// 1 + 101 names + 120 points) needs about 41 MiB.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// HdrHistogram's V2 cookies (with the word size 8 in the low bits), and its header's size.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
const V2_HEADER_BYTES: usize = 40;

/// What is left of one task's decode budget.
struct DecodeBudget {
    bytes_left: usize,
}

impl DecodeBudget {
    fn new() -> DecodeBudget {
        DecodeBudget {
            bytes_left: MAX_DECODED_BYTES,
        }
    }

    /// Decodes `encoded` (`what` names it in an error) within the bounds and the budget.
    fn decode(&mut self, encoded: &str, what: &str) -> Result<Histogram<u64>, String> {
        let histogram = decode_histogram(encoded).map_err(|why| format!("{what}: {why}"))?;
        let bytes = histogram.distinct_values().saturating_mul(8);
        if bytes > self.bytes_left {
            return Err(format!(
                "{what}: the result's histograms take more than {} MiB decoded, the most one task's result may take",
                MAX_DECODED_BYTES >> 20
            ));
        }
        self.bytes_left -= bytes;
        Ok(histogram)
    }
}

fn decode_histogram(encoded: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|error| format!("latency_hdr is not base64: {error}"))?;
    let plain = match read_u32(&bytes, 0) {
        Some(V2_DEFLATE_COOKIE) => inflate(&bytes)?,
        Some(V2_COOKIE) => bytes,
        _ => {
            return Err(
                "latency_hdr is not an HdrHistogram V2 (+DEFLATE): its cookie is not one".into(),
            );
        }
    };
    check_header(&plain)?;
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|error| format!("latency_hdr is not an HdrHistogram V2 (+DEFLATE): {error:?}"))?;
    histogram.auto(true);
    Ok(histogram)
}

/// The V2 histogram inside a V2+DEFLATE one, inflated to at most `MAX_INFLATED_BYTES`.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let declared = read_u32(bytes, 4).ok_or("latency_hdr ends inside its header")? as usize;
    let compressed = bytes.get(8..).unwrap_or_default();
    let compressed = &compressed[..declared.min(compressed.len())];
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_INFLATED_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|error| format!("latency_hdr does not inflate: {error}"))?;
    if plain.len() > MAX_INFLATED_BYTES {
        return Err(format!(
            "latency_hdr inflates to more than {} KiB, the most one histogram may",
            MAX_INFLATED_BYTES >> 10
        ));
    }
    Ok(plain)
}

/// Refuses a V2 header whose bounds this protocol does not allow, or whose payload length is
/// more than the bytes that follow it (the decoder would allocate what it declares).
fn check_header(plain: &[u8]) -> Result<(), String> {
    let field = |offset| read_u32(plain, offset).ok_or("latency_hdr ends inside its header");
    let wide = |offset| read_u64(plain, offset).ok_or("latency_hdr ends inside its header");
    if field(0)? != V2_COOKIE {
        return Err(
            "latency_hdr is not an HdrHistogram V2 (+DEFLATE): its inner cookie is not one".into(),
        );
    }
    let payload = field(4)? as usize;
    let figures = field(12)?;
    let (lowest, highest) = (wide(16)?, wide(24)?);
    if payload > plain.len() - V2_HEADER_BYTES.min(plain.len()) {
        return Err(format!(
            "latency_hdr declares {payload} bytes of counts but holds {}",
            plain.len().saturating_sub(V2_HEADER_BYTES)
        ));
    }
    if figures > MAX_SIGNIFICANT_FIGURES {
        return Err(format!(
            "latency_hdr declares {figures} significant figures; at most {MAX_SIGNIFICANT_FIGURES}"
        ));
    }
    if lowest == 0 || highest > MAX_TRACKABLE_US || highest < lowest.saturating_mul(2) {
        return Err(format!(
            "latency_hdr declares values from {lowest} to {highest} µs; from at least 1 to at most {MAX_TRACKABLE_US} µs (about 76 hours)"
        ));
    }
    Ok(())
}

fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let field = bytes.get(offset..offset + 4)?;
    Some(u32::from_be_bytes(field.try_into().ok()?))
}

fn read_u64(bytes: &[u8], offset: usize) -> Option<u64> {
    let field = bytes.get(offset..offset + 8)?;
    Some(u64::from_be_bytes(field.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(samples_us: &[u64]) -> Histogram<u64> {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        histogram.auto(true);
        for sample in samples_us {
            histogram.record(*sample).unwrap();
        }
        histogram
    }

    #[test]
    fn parses_a_line_with_a_histogram() {
        let encoded = encode_histogram(&histogram(&[1000, 2000, 3000])).unwrap();
        let line = format!(
            r#"ECS_LOADTEST_RESULT {{"v":1,"requests":3,"errors":1,"duration_ms":1000,"status":{{"200":2,"503":1}},"latency_hdr":"{encoded}","started_ms":1700000000000}}"#
        );
        let result = parse_line(&line).unwrap();
        assert_eq!(
            (result.requests, result.errors, result.duration_ms),
            (3, 1, 1000)
        );
        assert_eq!(result.status["503"], 1);
        assert_eq!(result.started_ms, Some(1_700_000_000_000));
        let Some(Latency::Exact(decoded)) = result.latency else {
            panic!("no histogram")
        };
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded.max(), histogram(&[3000]).max());
    }

    #[test]
    fn parses_percentiles_only() {
        let result = parse_line(
            r#"ECS_LOADTEST_RESULT {"v":1,"requests":10,"errors":0,"duration_ms":5000,"latency_ms":{"p50":12.5,"p95":80,"max":300}}"#,
        )
        .unwrap();
        let Some(Latency::Percentiles(percentiles)) = result.latency else {
            panic!()
        };
        assert_eq!(percentiles.p95, Some(80.0));
        assert_eq!(percentiles.p99, None);
    }

    #[test]
    fn refuses_what_is_wrong_and_says_why() {
        for (line, why) in [
            ("ECS_LOADTEST_RESULT", "invalid JSON"),
            ("ECS_LOADTEST_RESULT {", "invalid JSON"),
            (
                r#"ECS_LOADTEST_RESULT {"v":2,"requests":1,"errors":0,"duration_ms":1}"#,
                "version 2",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"errors":0,"duration_ms":1}"#,
                "missing field `requests`",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":2,"duration_ms":1}"#,
                "exceed",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":0}"#,
                "duration_ms is 0",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":-1,"errors":0,"duration_ms":1}"#,
                "invalid JSON",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_hdr":"%%%"}"#,
                "not base64",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_hdr":"AAAA"}"#,
                "not an HdrHistogram",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_ms":{}}"#,
                "none of",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_ms":{"p95":-3}}"#,
                "negative",
            ),
            (
                r#"ECS_LOADTEST_RESULT {"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_ms":{"p42":3}}"#,
                "unknown field",
            ),
            ("hello", "does not start"),
        ] {
            let error = parse_line(line).unwrap_err();
            assert!(error.contains(why), "{line}: {error}");
        }
    }

    /// A V2 header declaring these bounds and `payload` bytes of counts, followed by `held` bytes.
    fn declared(figures: u32, lowest: u64, highest: u64, payload: u32, held: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&V2_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&payload.to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        bytes.extend_from_slice(&figures.to_be_bytes());
        bytes.extend_from_slice(&lowest.to_be_bytes());
        bytes.extend_from_slice(&highest.to_be_bytes());
        bytes.extend_from_slice(&1f64.to_be_bytes());
        bytes.extend(std::iter::repeat_n(0u8, held));
        bytes
    }

    fn deflated(plain: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(plain).unwrap();
        let compressed = encoder.finish().unwrap();
        let mut bytes = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
        bytes.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
        bytes.extend(compressed);
        bytes
    }

    fn line_with(histogram: &[u8]) -> String {
        let encoded = base64::engine::general_purpose::STANDARD.encode(histogram);
        format!(
            r#"{RESULT_MARKER} {{"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_hdr":"{encoded}"}}"#
        )
    }

    #[test]
    fn a_histogram_is_bounded_before_it_is_decoded() {
        for (histogram, why) in [
            (
                declared(5, 1, 1 << 62, 0, 0),
                "5 significant figures; at most 3",
            ),
            (
                deflated(&declared(4, 1, 1000, 0, 0)),
                "4 significant figures",
            ),
            (declared(3, 1, 1 << 40, 0, 0), "from 1 to 1099511627776 µs"),
            (declared(3, 0, 1000, 0, 0), "from at least 1"),
            (
                declared(3, 1, 1000, u32::MAX, 0),
                "declares 4294967295 bytes of counts but holds 0",
            ),
            (
                deflated(&declared(3, 1, 1000, 4 << 20, 4 << 20)),
                "inflates to more than 1024 KiB",
            ),
            (
                declared(3, 1, 1000, 0, 0)[..20].to_vec(),
                "ends inside its header",
            ),
            (
                vec![0x1c, 0x84, 0x93, 0x15, 0, 0, 0, 0],
                "its cookie is not one",
            ),
        ] {
            let error = parse_line(&line_with(&histogram)).unwrap_err();
            assert!(error.contains(why), "{why}: {error}");
        }
        // Within the bounds: decoded, as every tester of this protocol writes them.
        let tally = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let mut bytes = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new()
            .serialize(&tally, &mut bytes)
            .unwrap();
        assert!(parse_line(&line_with(&bytes)).is_ok());
        assert!(parse_line(&line_with(&declared(3, 1, MAX_TRACKABLE_US, 0, 0))).is_ok());
    }

    #[test]
    fn a_tasks_histograms_together_are_bounded() {
        // Each at the largest bounds allowed (about 240 KiB decoded): 200 names and 120 points
        // together ask for more than the budget, and the result is refused naming where.
        let largest = base64::engine::general_purpose::STANDARD.encode(declared(
            3,
            1,
            MAX_TRACKABLE_US,
            0,
            0,
        ));
        let names: BTreeMap<String, serde_json::Value> = (0..MAX_NAMES)
            .map(|index| {
                (
                    format!("n{index:03}"),
                    serde_json::json!({"requests": 1, "errors": 0, "latency_hdr": largest}),
                )
            })
            .collect();
        let points: Vec<serde_json::Value> = (0..MAX_SERIES_POINTS)
            .map(|_| serde_json::json!({"requests": 1, "errors": 0, "latency_hdr": largest}))
            .collect();
        let line = format!(
            "{RESULT_MARKER} {}",
            serde_json::json!({"v": 1, "requests": 200, "errors": 0, "duration_ms": 1,
                "names": names, "series": {"start_ms": 0, "interval_ms": 1000, "points": points}})
        );
        let error = parse_line(&line).unwrap_err();
        assert!(
            error.contains("more than 64 MiB decoded, the most one task's result may take"),
            "{error}"
        );
        // The names alone fit.
        let line = format!(
            "{RESULT_MARKER} {}",
            serde_json::json!({"v": 1, "requests": 200, "errors": 0, "duration_ms": 1, "names": names})
        );
        assert!(parse_line(&line).is_ok());
    }

    #[test]
    fn chunks_carry_the_text_whole() {
        let json = format!(r#"{{"v":1,"pad":"{}é"}}"#, "x".repeat(20_000));
        let lines = chunk_lines(&json, "ab12");
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|line| line.len() < 16 * 1024));
        let chunks: Vec<Chunk> = lines
            .iter()
            .map(|line| parse_chunk(line).unwrap())
            .collect();
        assert_eq!((chunks[2].number, chunks[2].count), (3, 3));
        let joined: String = chunks.iter().map(|chunk| chunk.piece.as_str()).collect();
        assert_eq!(joined, json);
        for (line, why) in [
            ("ECS_LOADTEST_RESULT_CHUNK a 1", "PIECE"),
            ("ECS_LOADTEST_RESULT_CHUNK a x 2 {", "not a whole number"),
            ("ECS_LOADTEST_RESULT_CHUNK a 3 2 {", "out of range"),
        ] {
            assert!(parse_chunk(line).unwrap_err().contains(why), "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let _ = parse_line(&format!("{RESULT_MARKER} {text}"));
            let _ = parse_line(&text);
        }

        #[test]
        fn never_panics_on_arbitrary_histogram_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let _ = parse_line(&format!(
                r#"{RESULT_MARKER} {{"v":1,"requests":1,"errors":0,"duration_ms":1,"latency_hdr":"{encoded}"}}"#
            ));
        }

        #[test]
        fn never_panics_on_json_shaped_input(
            v in 0u64..3, requests in proptest::prelude::any::<u64>(), errors in proptest::prelude::any::<u64>(),
            duration in proptest::prelude::any::<u64>(), p95 in proptest::prelude::any::<f64>(),
        ) {
            let _ = parse_line(&format!(
                r#"{RESULT_MARKER} {{"v":{v},"requests":{requests},"errors":{errors},"duration_ms":{duration},"latency_ms":{{"p95":{p95}}}}}"#
            ));
        }
    }
}
