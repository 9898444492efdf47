//! The request the built-in generator sends, as the action inputs and the generator's flags give
//! it: method, headers, the statuses that count as success, the HTTP version and its streams.

use std::fmt;

use serde::Serialize;

pub const METHOD_ACCEPTED: &str = "an HTTP method such as `GET`, `POST` or `PUT` (letters only)";
pub const HEADERS_ACCEPTED: &str = "one `Name: value` a line, the name a valid HTTP header name other than `Content-Length` and `Transfer-Encoding` (the generator frames the body)";
pub const STATUSES_ACCEPTED: &str =
    "status codes and ranges separated by commas, such as `2xx, 3xx`, `200-299, 404` or `201`";
pub const HTTP_VERSION_ACCEPTED: &str = "`auto`, `1.1` or `2`";
pub const HTTP2_STREAMS_ACCEPTED: &str = "a whole number of virtual users a connection from 1 to 1000 (servers commonly allow 100 or 128 streams at once; more wait for one to end)";
/// HTTP/2: the virtual users that share a connection when `http2-streams` is not given.
pub const DEFAULT_HTTP2_STREAMS: usize = 100;

/// `http2-streams`: how many virtual users share one HTTP/2 connection, each with its own stream.
pub fn parse_http2_streams(text: &str) -> Option<usize> {
    text.parse()
        .ok()
        .filter(|streams| (1..=1000).contains(streams))
}

/// `GET`, `post` -> `POST`.
pub fn parse_method(text: &str) -> Option<String> {
    (!text.is_empty() && text.len() <= 32 && text.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| text.to_ascii_uppercase())
}

/// One `Name: value` a line; blank lines are skipped. The error names the line. The body's
/// framing is the generator's: a `Content-Length` or `Transfer-Encoding` of the user's could only
/// contradict it.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(line.to_string());
        };
        let name = name.trim();
        let value = value.trim();
        if http::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::header::HeaderValue::from_str(value).is_err()
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(line.to_string());
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(headers)
}

/// The statuses that count as success: inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusSet(pub Vec<(u16, u16)>);

impl Default for StatusSet {
    /// 2xx and 3xx.
    fn default() -> Self {
        StatusSet(vec![(200, 399)])
    }
}

impl StatusSet {
    pub fn parse(text: &str) -> Option<StatusSet> {
        let mut ranges = Vec::new();
        for item in super::parse::split_list(text) {
            let item = item.to_ascii_lowercase();
            let range = if let Some(class) = item.strip_suffix("xx") {
                let class: u16 = class.parse().ok().filter(|class| (1..=5).contains(class))?;
                (class * 100, class * 100 + 99)
            } else if let Some((low, high)) = item.split_once('-') {
                (low.parse().ok()?, high.parse().ok()?)
            } else {
                let code = item.parse().ok()?;
                (code, code)
            };
            if !(100..=599).contains(&range.0)
                || !(100..=599).contains(&range.1)
                || range.0 > range.1
            {
                return None;
            }
            ranges.push(range);
        }
        (!ranges.is_empty()).then_some(StatusSet(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|(low, high)| (*low..=*high).contains(&status))
    }
}

/// The form `parse` reads.
impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(low, high)| {
                if low == high {
                    low.to_string()
                } else {
                    format!("{low}-{high}")
                }
            })
            .collect();
        f.write_str(&items.join(","))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HttpVersion {
    /// HTTPS: whatever ALPN agrees (HTTP/2 preferred); plain HTTP: HTTP/1.1.
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "1.1")]
    Http1,
    /// HTTPS: HTTP/2 by ALPN; plain HTTP: HTTP/2 with prior knowledge (h2c).
    #[serde(rename = "2")]
    Http2,
}

impl HttpVersion {
    pub fn parse(text: &str) -> Option<HttpVersion> {
        match text {
            "auto" => Some(HttpVersion::Auto),
            "1.1" | "1" => Some(HttpVersion::Http1),
            "2" => Some(HttpVersion::Http2),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let set = StatusSet::parse("2xx, 404, 500-503").unwrap();
        assert!(set.contains(204) && set.contains(404) && set.contains(502));
        assert!(!set.contains(301) && !set.contains(504));
        assert_eq!(set.to_string(), "200-299,404,500-503");
        assert_eq!(StatusSet::parse(&set.to_string()), Some(set));
        assert!(StatusSet::default().contains(302) && !StatusSet::default().contains(404));
        for bad in ["", "6xx", "200-100", "abc", "99"] {
            assert_eq!(StatusSet::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn headers_and_methods() {
        assert_eq!(
            parse_headers("Authorization: Bearer x\n\nX-Test:  1 ").unwrap(),
            [
                ("Authorization".to_string(), "Bearer x".to_string()),
                ("X-Test".to_string(), "1".to_string())
            ]
        );
        assert_eq!(parse_headers("no colon").unwrap_err(), "no colon");
        assert_eq!(parse_headers("bad name: x").unwrap_err(), "bad name: x");
        assert_eq!(
            parse_headers("Accept: */*\ncontent-length: 3").unwrap_err(),
            "content-length: 3"
        );
        assert_eq!(
            parse_headers("Transfer-Encoding: chunked").unwrap_err(),
            "Transfer-Encoding: chunked"
        );
        assert_eq!(parse_method("post").as_deref(), Some("POST"));
        assert_eq!(parse_method("GE T"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let _ = parse_headers(&text);
            let _ = parse_method(&text);
            let _ = StatusSet::parse(&text);
            let _ = HttpVersion::parse(&text);
        }

        #[test]
        fn never_panics_on_status_shaped_text(text in "([0-9]{0,4}(xx|XX)?(-[0-9]{0,4})?[, ]?){0,5}") {
            if let Some(set) = StatusSet::parse(&text) {
                for status in [0, 100, 200, 399, 599, 999, u16::MAX] {
                    let _ = set.contains(status);
                }
            }
        }
    }
}
