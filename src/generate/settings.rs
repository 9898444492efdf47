//! The generator's inputs: flags, else the task environment the action sets (`TARGET_URL`,
//! `RATE`, …). Every problem is reported at once, and nothing is sent.

use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::input_error::{InvalidInputs, Problems};
use crate::inputs::given;
use crate::plan::Profile;
use crate::plan::{
    DEFAULT_HTTP2_STREAMS, HEADERS_ACCEPTED, HTTP_VERSION_ACCEPTED, HTTP2_STREAMS_ACCEPTED,
    HttpVersion, METHOD_ACCEPTED, STAGES_ACCEPTED, STATUSES_ACCEPTED, StageUnit, Stages, StatusSet,
    expand_placeholders, parse_duration_seconds, parse_headers, parse_http2_streams, parse_method,
};

/// The request timeout when none is given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest load the generator runs: the action's longest `timeout-minutes` (48 hours).
const MAX_LOAD_SECONDS: u64 = 48 * 3600;
/// How far ahead `START_AT` may be: far more than any start delay.
const MAX_START_AHEAD_MS: u64 = 24 * 3600 * 1000;

/// What `generate` reads. Each flag falls back to the environment variable the action sets.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct GenerateArgs {
    /// The URL every request goes to
    #[arg(long, env = "TARGET_URL", value_name = "URL")]
    pub target_url: Option<String>,
    /// Requests per second (the open model); without it, VUS virtual users loop (closed model)
    #[arg(long, env = "RATE", value_name = "N")]
    pub rate: Option<String>,
    /// Virtual users: with a rate, the most requests in flight at once
    #[arg(long, env = "VUS", value_name = "N")]
    pub vus: Option<String>,
    /// How long to send load: 300, 90s, 5m or 1h
    #[arg(long, env = "DURATION", value_name = "DURATION")]
    pub duration: Option<String>,
    /// Load shape `30s:200, 2m:200, 30s:0` (rates) or `1m:50vus, 1m:0vus`; replaces rate/duration
    #[arg(long, env = "STAGES", value_name = "STAGES")]
    pub stages: Option<String>,
    /// HTTP method [default: GET]
    #[arg(long, env = "METHOD", value_name = "METHOD")]
    pub method: Option<String>,
    /// Request headers, one `Name: value` a line
    #[arg(long, env = "HEADERS", value_name = "LINES")]
    pub headers: Option<String>,
    /// Request body, or `@FILE` to read it from a file
    #[arg(long, env = "BODY", value_name = "TEXT|@FILE")]
    pub body: Option<String>,
    /// Seconds a request may take before it counts as a timeout [default: 30]
    #[arg(long, env = "REQUEST_TIMEOUT", value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// auto, 1.1 or 2 [default: auto]
    #[arg(long, env = "HTTP_VERSION", value_name = "VERSION")]
    pub http_version: Option<String>,
    /// HTTP/2: virtual users that share one connection, 1 to 1000 [default: 100]
    #[arg(long, env = "HTTP2_STREAMS", value_name = "N")]
    pub http2_streams: Option<String>,
    /// Statuses that count as success [default: 2xx, 3xx]
    #[arg(long, env = "SUCCESS_STATUSES", value_name = "LIST")]
    pub success_statuses: Option<String>,
    /// true: the target's TLS certificate is not verified [default: false]
    #[arg(long, env = "INSECURE_TLS", value_name = "BOOL")]
    pub insecure_tls: Option<String>,
    /// Epoch milliseconds when the load begins (the action gives every task the same one)
    #[arg(long, env = "START_AT", value_name = "EPOCH_MS")]
    pub start_at: Option<String>,
    /// This task's index, for the log lines
    #[arg(long, env = "TASK_INDEX", value_name = "N")]
    pub task_index: Option<String>,
    /// How many tasks share the load, for the log lines
    #[arg(long, env = "TASK_COUNT", value_name = "N")]
    pub task_count: Option<String>,
}

impl GenerateArgs {
    /// The arguments a task's environment gives (what clap reads from the process environment
    /// for a task run as a container).
    pub fn from_environment(environment: &[crate::plan::EnvVar]) -> GenerateArgs {
        let mut args = GenerateArgs::default();
        for var in environment {
            let value = Some(var.value.clone());
            match var.name.as_str() {
                "TARGET_URL" => args.target_url = value,
                "RATE" => args.rate = value,
                "VUS" => args.vus = value,
                "DURATION" => args.duration = value,
                "STAGES" => args.stages = value,
                "METHOD" => args.method = value,
                "HEADERS" => args.headers = value,
                "BODY" => args.body = value,
                "REQUEST_TIMEOUT" => args.request_timeout = value,
                "HTTP_VERSION" => args.http_version = value,
                "HTTP2_STREAMS" => args.http2_streams = value,
                "SUCCESS_STATUSES" => args.success_statuses = value,
                "INSECURE_TLS" => args.insecure_tls = value,
                "START_AT" => args.start_at = value,
                "TASK_INDEX" => args.task_index = value,
                "TASK_COUNT" => args.task_count = value,
                _ => {}
            }
        }
        args
    }
}

/// The open model (requests start on a schedule) or the closed one (virtual users loop).
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// `profile` is requests per second; at most `max_in_flight` requests at once.
    Open {
        profile: Profile,
        max_in_flight: u64,
    },
    /// `profile` is virtual users.
    Closed { profile: Profile },
}

impl Model {
    pub fn profile(&self) -> &Profile {
        match self {
            Model::Open { profile, .. } | Model::Closed { profile } => profile,
        }
    }

    /// Connections (open: in-flight slots; closed: the peak of virtual users).
    pub fn slots(&self) -> u64 {
        match self {
            Model::Open { max_in_flight, .. } => *max_in_flight,
            Model::Closed { profile } => profile.peak().ceil() as u64,
        }
    }

    /// Part `index` of `parts` (one a worker thread).
    pub fn share(&self, parts: usize, index: usize) -> Model {
        match self {
            Model::Open {
                profile,
                max_in_flight,
            } => Model::Open {
                profile: profile.share(parts, index),
                max_in_flight: crate::plan::share(*max_in_flight, parts, index).max(1),
            },
            Model::Closed { profile } => Model::Closed {
                profile: profile.share(parts, index),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Absolute, as HTTP/2 sends it.
    pub absolute: Uri,
    /// Path and query, as HTTP/1.1 sends it with a `Host` header.
    pub origin_form: Uri,
    pub host_header: HeaderValue,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    pub method: http::Method,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
    pub http_version: HttpVersion,
    /// HTTP/2: the virtual users (slots) that share one connection, each with its own stream.
    pub http2_streams: usize,
    pub success: StatusSet,
    /// The target's TLS certificate is not verified.
    pub insecure_tls: bool,
    pub model: Model,
    /// Epoch milliseconds when the load begins; `None`: at once.
    pub start_at_ms: Option<u64>,
    pub task_index: Option<u64>,
    pub task_count: Option<u64>,
}

impl Settings {
    pub fn from_args(args: &GenerateArgs) -> Result<Settings, InvalidInputs> {
        let mut problems = Problems::default();
        let target = problems
            .required(
                "target-url",
                &args.target_url,
                "the URL to send load to, such as `https://staging.example.com/health`",
            )
            .and_then(|text| match target(text) {
                Ok(target) => Some(target),
                Err(why) => {
                    problems.add("target-url", text, why);
                    None
                }
            });
        let model = load_model(&mut problems, args);
        let method = problems
            .parse("method", &args.method, METHOD_ACCEPTED, parse_method)
            .unwrap_or_else(|| "GET".to_string());
        let method = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
        let headers = match given(&args.headers).map(parse_headers) {
            None => HeaderMap::new(),
            Some(Ok(pairs)) => match with_secrets(pairs, |name| std::env::var(name).ok()) {
                Ok(pairs) => header_map(&pairs),
                Err((line, why)) => {
                    problems.add("headers", &line, why);
                    HeaderMap::new()
                }
            },
            Some(Err(line)) => {
                problems.add("headers", &line, HEADERS_ACCEPTED);
                HeaderMap::new()
            }
        };
        let body = request_body(&mut problems, args);
        let timeout = problems
            .parse(
                "request-timeout",
                &args.request_timeout,
                "a positive length such as `30s` or `2m`",
                parse_duration_seconds,
            )
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
        let http_version = problems
            .parse(
                "http-version",
                &args.http_version,
                HTTP_VERSION_ACCEPTED,
                HttpVersion::parse,
            )
            .unwrap_or(HttpVersion::Auto);
        let http2_streams = problems
            .parse(
                "http2-streams",
                &args.http2_streams,
                HTTP2_STREAMS_ACCEPTED,
                parse_http2_streams,
            )
            .unwrap_or(DEFAULT_HTTP2_STREAMS);
        let success = problems
            .parse(
                "success-statuses",
                &args.success_statuses,
                STATUSES_ACCEPTED,
                StatusSet::parse,
            )
            .unwrap_or_default();
        let insecure_tls = problems
            .parse(
                "insecure-tls",
                &args.insecure_tls,
                "`true` or `false`",
                crate::plan::parse_bool,
            )
            .unwrap_or(false);
        let start_at_ms = start_at(&mut problems, args);
        let task_index = problems.parse("task-index", &args.task_index, "a whole number", |text| {
            text.parse().ok()
        });
        let task_count = problems.parse("task-count", &args.task_count, "a whole number", |text| {
            text.parse().ok()
        });
        let settings = target.zip(model).map(|(target, model)| Settings {
            target,
            method,
            headers,
            body,
            timeout,
            http_version,
            http2_streams,
            success,
            insecure_tls,
            model,
            start_at_ms,
            task_index,
            task_count,
        });
        problems.finish(settings)
    }
}

/// The load: an open model (a rate), a closed one (virtual users) or stages, with its length.
fn load_model(problems: &mut Problems, args: &GenerateArgs) -> Option<Model> {
    let whole = |what: &str| format!("a whole number of {what} from 1 up");
    let rate = problems.parse("rate", &args.rate, &whole("requests per second"), positive);
    let vus = problems.parse("vus", &args.vus, &whole("virtual users"), positive);
    let duration = problems.parse(
        "duration",
        &args.duration,
        "a positive length: seconds (`300`), or a number with `s`, `m` or `h` (`90s`, `5m`, `1h`)",
        parse_duration_seconds,
    );
    let stages = given(&args.stages).and_then(|text| match Stages::parse(text) {
        Ok(stages) => Some(stages),
        Err(why) => {
            problems.add("stages", text, format!("{STAGES_ACCEPTED} ({why})"));
            None
        }
    });
    model(problems, args, rate, vus, duration, stages).filter(|model| {
        // The load's end is an instant: a length past any run's must not overflow it.
        let seconds = model.profile().seconds();
        let fits = seconds <= MAX_LOAD_SECONDS as f64;
        if !fits {
            let input = if given(&args.stages).is_some() {
                "stages"
            } else {
                "duration"
            };
            problems.add(
                input,
                given(if input == "stages" {
                    &args.stages
                } else {
                    &args.duration
                })
                .unwrap_or_default(),
                format!("a load of at most {} hours", MAX_LOAD_SECONDS / 3600),
            );
        }
        fits
    })
}

/// The request body: the text given, or the bytes of `@FILE`.
fn request_body(problems: &mut Problems, args: &GenerateArgs) -> Bytes {
    match args.body.as_deref().filter(|body| !body.is_empty()) {
        None => Bytes::new(),
        Some(body) => match body.strip_prefix('@') {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => Bytes::from(bytes),
                Err(error) => {
                    problems.add(
                        "body",
                        body,
                        format!(
                            "the body text, or `@FILE` naming a readable file ({path}: {error})"
                        ),
                    );
                    Bytes::new()
                }
            },
            None => Bytes::from(body.to_string()),
        },
    }
}

/// `START_AT` in epoch milliseconds, at most `MAX_START_AHEAD_MS` ahead.
fn start_at(problems: &mut Problems, args: &GenerateArgs) -> Option<u64> {
    // A START_AT in the past starts the load at once (the report names the task late); one
    // further ahead than any start delay is refused rather than waited for.
    let latest_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() as u64)
        .saturating_add(MAX_START_AHEAD_MS);
    problems.parse(
        "start-at",
        &args.start_at,
        "epoch milliseconds, at most a day from now",
        |text| text.parse::<u64>().ok().filter(|at| *at <= latest_ms),
    )
}

fn positive(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|value| *value > 0)
}

/// The open model when a rate (or rate stages) is given; else the closed one.
fn model(
    problems: &mut Problems,
    args: &GenerateArgs,
    rate: Option<u64>,
    vus: Option<u64>,
    duration: Option<u64>,
    stages: Option<Stages>,
) -> Option<Model> {
    if given(&args.stages).is_some() {
        if given(&args.duration).is_some() {
            problems.add(
                "duration",
                given(&args.duration).unwrap_or_default(),
                "no `duration` beside `stages`: the stages' lengths add up to the duration",
            );
        }
        if given(&args.rate).is_some() {
            problems.add(
                "rate",
                given(&args.rate).unwrap_or_default(),
                "no `rate` beside `stages`: the stages give the rate",
            );
        }
        let stages = stages?;
        return match stages.unit {
            StageUnit::Rate => {
                let profile = Profile::ramp(&stages);
                let max_in_flight = vus.unwrap_or_else(|| default_in_flight(profile.peak()));
                Some(Model::Open {
                    profile,
                    max_in_flight,
                })
            }
            StageUnit::Vus => {
                if given(&args.vus).is_some() {
                    problems.add(
                        "vus",
                        given(&args.vus).unwrap_or_default(),
                        "no `vus` beside stages of virtual users: the stages give them",
                    );
                }
                Some(Model::Closed {
                    profile: Profile::ramp(&stages),
                })
            }
        };
    }
    if given(&args.duration).is_none() {
        problems.add(
            "duration",
            "",
            "how long to send load, such as `60s` (or give `stages`)",
        );
    }
    if given(&args.rate).is_none() && given(&args.vus).is_none() {
        problems.add(
            "rate",
            "",
            "requests per second (or `vus`, virtual users that loop, or `stages`)",
        );
    }
    let seconds = duration?;
    match (rate, vus) {
        (Some(rate), vus) => Some(Model::Open {
            profile: Profile::constant(rate, seconds),
            max_in_flight: vus.unwrap_or_else(|| default_in_flight(rate as f64)),
        }),
        (None, Some(vus)) => Some(Model::Closed {
            profile: Profile::constant(vus, seconds),
        }),
        (None, None) => None,
    }
}

/// Without `vus` the open model allows in flight what the peak rate sends in 100 ms, at least 10
/// and at most 1,000: enough for a service that answers in 100 ms; slower answers show as
/// dropped requests, which the result reports.
fn default_in_flight(peak_rate: f64) -> u64 {
    ((peak_rate / 10.0).ceil() as u64).clamp(10, 1000)
}

fn target(text: &str) -> Result<Target, String> {
    let uri: Uri = text
        .parse()
        .map_err(|error| format!("an absolute `http://` or `https://` URL ({error})"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("an absolute `http://` or `https://` URL".into()),
    };
    let authority = uri
        .authority()
        .ok_or("an absolute URL with a host")?
        .clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_string();
    Ok(Target {
        https,
        host,
        port,
        origin_form: path
            .parse()
            .map_err(|error| format!("a URL with a valid path ({error})"))?,
        host_header: HeaderValue::from_str(authority.as_str())
            .map_err(|error| format!("a URL with a valid host ({error})"))?,
        absolute: uri,
    })
}

/// The headers with each `${NAME}` in a value replaced by the task's variable `NAME`: a secret the
/// task definition revision gives the task (`secrets`), so its value travels in no request of
/// the action's. A problem names the header line as written, never a secret's value.
fn with_secrets(
    pairs: Vec<(String, String)>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, (String, String)> {
    pairs
        .into_iter()
        .map(|(name, value)| {
            let line = format!("{name}: {value}");
            let expanded = expand_placeholders(&value, &lookup).map_err(|why| (line.clone(), why))?;
            if expanded != value && HeaderValue::from_str(&expanded).is_err() {
                return Err((
                    line,
                    "secrets whose values make a valid header value (visible characters, no line break)"
                        .to_string(),
                ));
            }
            Ok((name, expanded))
        })
        .collect()
}

fn header_map(pairs: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        // Both were checked by `parse_headers`.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_placeholder_in_a_header_takes_the_tasks_variable() {
        let pairs = parse_headers("Authorization: Bearer ${API_TOKEN}\nAccept: */*").unwrap();
        let lookup = |name: &str| (name == "API_TOKEN").then(|| "s3cr3t-value".to_string());
        assert_eq!(
            with_secrets(pairs.clone(), lookup).unwrap(),
            [
                (
                    "Authorization".to_string(),
                    "Bearer s3cr3t-value".to_string()
                ),
                ("Accept".to_string(), "*/*".to_string())
            ]
        );
        let (line, why) = with_secrets(pairs.clone(), |_| None).unwrap_err();
        assert_eq!(line, "Authorization: Bearer ${API_TOKEN}");
        assert!(why.contains("has no `API_TOKEN`"), "{why}");
        let (line, why) =
            with_secrets(pairs, |_| Some("two\nlines s3cr3t".to_string())).unwrap_err();
        assert!(
            !line.contains("s3cr3t") && !why.contains("s3cr3t"),
            "{line} {why}"
        );
    }

    fn args(pairs: &[(&str, &str)]) -> GenerateArgs {
        let mut args = GenerateArgs::default();
        for (name, value) in pairs {
            let value = Some(value.to_string());
            match *name {
                "target-url" => args.target_url = value,
                "rate" => args.rate = value,
                "vus" => args.vus = value,
                "duration" => args.duration = value,
                "stages" => args.stages = value,
                "method" => args.method = value,
                "headers" => args.headers = value,
                "success-statuses" => args.success_statuses = value,
                "http-version" => args.http_version = value,
                "http2-streams" => args.http2_streams = value,
                "start-at" => args.start_at = value,
                _ => panic!("{name}"),
            }
        }
        args
    }

    fn problems(pairs: &[(&str, &str)]) -> Vec<&'static str> {
        Settings::from_args(&args(pairs))
            .expect_err("refused")
            .0
            .iter()
            .map(|problem| problem.input)
            .collect()
    }

    /// Lengths and start times that no run has are refused, not overflowed into an instant.
    #[test]
    fn absurd_lengths_and_start_times_are_refused() {
        let url = ("target-url", "http://127.0.0.1:8080/");
        assert_eq!(
            problems(&[url, ("rate", "10"), ("duration", "18446744073709551615")]),
            ["duration"]
        );
        assert_eq!(
            problems(&[
                url,
                (
                    "stages",
                    "18446744073709551615s:10, 18446744073709551615s:10"
                )
            ]),
            ["stages"]
        );
        assert_eq!(
            problems(&[url, ("rate", "10"), ("duration", "49h")]),
            ["duration"]
        );
        assert_eq!(
            problems(&[
                url,
                ("rate", "10"),
                ("duration", "5s"),
                ("start-at", "18446744073709551615")
            ]),
            ["start-at"]
        );
        // In the past: accepted (the load starts at once, late).
        assert!(
            Settings::from_args(&args(&[
                url,
                ("rate", "10"),
                ("duration", "48h"),
                ("start-at", "1")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn models() {
        let settings = Settings::from_args(&args(&[
            ("target-url", "http://127.0.0.1:8080/x?y=1"),
            ("rate", "200"),
            ("duration", "5s"),
        ]))
        .unwrap();
        assert_eq!(
            settings.model,
            Model::Open {
                profile: Profile::constant(200, 5),
                max_in_flight: 20
            }
        );
        assert_eq!(settings.target.origin_form, "/x?y=1");
        assert_eq!(settings.target.port, 8080);
        let settings = Settings::from_args(&args(&[
            ("target-url", "https://example.test/"),
            ("stages", "10s:5vus, 10s:0vus"),
        ]))
        .unwrap();
        assert!(matches!(settings.model, Model::Closed { .. }));
        assert_eq!(settings.model.slots(), 5);
        assert_eq!(settings.target.port, 443);
    }

    #[test]
    fn every_problem_at_once() {
        assert_eq!(problems(&[]), ["target-url", "duration", "rate"]);
        assert_eq!(
            problems(&[
                ("target-url", "ftp://x/"),
                ("stages", "10s:5"),
                ("duration", "10s"),
                ("rate", "5"),
                ("method", "G T"),
                ("headers", "nope"),
                ("success-statuses", "7xx"),
                ("http-version", "3"),
                ("http2-streams", "0"),
            ]),
            [
                "target-url",
                "duration",
                "rate",
                "method",
                "headers",
                "http-version",
                "http2-streams",
                "success-statuses"
            ]
        );
        for refused in ["1001", "-1", "ten", "1.5"] {
            assert!(
                problems(&[
                    ("target-url", "http://x/"),
                    ("vus", "2"),
                    ("duration", "1s"),
                    ("http2-streams", refused)
                ])
                .contains(&"http2-streams"),
                "{refused}"
            );
        }
    }
}
