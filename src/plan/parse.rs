//! Small parsers for input values; each returns `None` for a value it does not accept.

use super::env_var::EnvVar;
use crate::input_error::{Problems, SECRET_INPUTS};

/// Lists accept commas, whitespace or newlines.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

pub fn parse_positive(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|value| *value > 0)
}

/// `75` -> `1m15s`: a length as people read it (and as `parse_duration_seconds` reads it back).
pub fn duration_text(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// `300`, `90s`, `5m`, `1h`: a positive whole number of seconds, minutes or hours.
pub fn parse_duration_seconds(text: &str) -> Option<u64> {
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let multiplier = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|value| *value > 0)
        .and_then(|value| value.checked_mul(multiplier))
}

/// A JSON array of strings when it starts with `[`, else words split like a POSIX shell.
pub fn parse_command(text: &str) -> Option<Vec<String>> {
    let words = if text.starts_with('[') {
        serde_json::from_str::<Vec<String>>(text).ok()?
    } else {
        shell_words::split(text).ok()?
    };
    (!words.is_empty()).then_some(words)
}

/// One `KEY=VALUE` pair a line; blank lines are skipped. The value is kept as written after `=`.
pub fn parse_key_values(problems: &mut Problems, input: &'static str, text: &str) -> Vec<EnvVar> {
    let mut pairs: Vec<EnvVar> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) if is_env_name(key.trim_end()) => {
                let name = key.trim_end().to_string();
                let value = value.trim_end_matches('\r').to_string();
                // A later line for the same key replaces the earlier one, as in a shell.
                pairs.retain(|pair| pair.name != name);
                pairs.push(if SECRET_INPUTS.contains(&input) {
                    EnvVar::secret(name, value)
                } else {
                    EnvVar::new(name, value)
                });
            }
            _ => problems.add(
                input,
                line.trim_end(),
                "one `KEY=VALUE` a line, KEY made of letters, digits and `_`, not starting with a digit",
            ),
        }
    }
    pairs
}

fn is_env_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Letters, digits, `-` and `_`, 1 to `max` characters.
pub fn is_name(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE…`
pub fn is_arn(text: &str, service: &str, resource_prefix: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == service
        && parts[5].starts_with(resource_prefix)
        && parts[5].len() > resource_prefix.len()
}

pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()))
}

pub fn is_url(text: &str) -> bool {
    match text.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !rest.starts_with('/')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, seconds) in [
            ("300", Some(300)),
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
        ] {
            assert_eq!(parse_duration_seconds(text), seconds, "{text}");
        }
        for text in [
            "",
            "m",
            "5 m",
            "5min",
            "1d",
            "-1",
            "1.5m",
            "0",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration_seconds(text), None, "{text}");
        }
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(r#"["k6", "run", "--vus", "10 20"]"#).unwrap(),
            ["k6", "run", "--vus", "10 20"]
        );
        assert_eq!(
            parse_command(r#"k6 run "my test.js" --tag 'a b'"#).unwrap(),
            ["k6", "run", "my test.js", "--tag", "a b"]
        );
        assert_eq!(parse_command("[]"), None);
    }

    #[test]
    fn lists_accept_commas_spaces_and_newlines() {
        assert_eq!(
            split_list("subnet-1, subnet-2\nsubnet-3  subnet-4,"),
            ["subnet-1", "subnet-2", "subnet-3", "subnet-4"]
        );
    }
}
