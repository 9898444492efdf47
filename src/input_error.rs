//! Bad inputs: each names the input, what was given and what is accepted, and all of them are
//! collected while the inputs are read, so that they are reported at once.

use std::fmt;

use crate::inputs::given;

/// One bad input: its name, what was given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: &'static str,
    pub given: String,
    pub accepted: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.given.is_empty() {
            write!(f, "input `{}` is required: {}", self.input, self.accepted)
        } else {
            write!(
                f,
                "input `{}`: got {}; expected {}",
                self.input,
                crate::quote::code(&self.given),
                self.accepted
            )
        }
    }
}

/// Every problem found in the inputs. The run exits 2 and starts nothing.
#[derive(Debug, thiserror::Error)]
pub struct InvalidInputs(pub Vec<InputError>);

impl fmt::Display for InvalidInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "{count} invalid input{}; nothing was started",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

/// Inputs whose values may hold secrets (an `Authorization` header, a token in the environment
/// or a build argument, credentials in a body). Their values are never echoed: not in an error,
/// which a comment run posts on the pull request where log masking does not apply, nor in a
/// plan.
pub const SECRET_INPUTS: [&str; 4] = ["headers", "environment", "body", "build-args"];

/// What an error shows in place of a secret input's value: the name of a `Name: value` or
/// `KEY=VALUE` line, which says which line is meant, and never the value.
fn redacted(input: &str, given: &str) -> String {
    let separator = match input {
        "headers" => Some(':'),
        "environment" | "build-args" => Some('='),
        _ => None,
    };
    let (name, value) = match separator.and_then(|separator| {
        given
            .split_once(separator)
            .map(|(name, value)| (format!("{name}{separator}"), value))
    }) {
        Some((name, value)) => (name, value),
        None => (String::new(), given),
    };
    format!("{name}<{} characters, not shown>", value.chars().count())
}

/// Collects errors while each input is read, so one pass reports all of them.
#[derive(Debug, Default)]
pub struct Problems(Vec<InputError>);

impl Problems {
    pub fn add(&mut self, input: &'static str, given: &str, accepted: impl Into<String>) {
        let given = if SECRET_INPUTS.contains(&input) && !given.is_empty() {
            redacted(input, given)
        } else {
            given.to_string()
        };
        self.0.push(InputError {
            input,
            given,
            accepted: accepted.into(),
        });
    }

    /// The input's value, or `None` (and a problem noted) when it was not given.
    pub fn required<'a>(
        &mut self,
        input: &'static str,
        value: &'a Option<String>,
        accepted: &str,
    ) -> Option<&'a str> {
        let value = given(value);
        if value.is_none() {
            self.add(input, "", accepted);
        }
        value
    }

    /// Parses an optional input; `None` when it was not given or is bad (and then noted).
    pub fn parse<T>(
        &mut self,
        input: &'static str,
        value: &Option<String>,
        accepted: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let text = given(value)?;
        let parsed = parse(text);
        if parsed.is_none() {
            self.add(input, text, accepted);
        }
        parsed
    }

    /// Notes a problem found by another collector, unless the same one is noted already (an
    /// input several places fall back to is read once a place).
    pub fn push(&mut self, error: InputError) {
        if !self.0.contains(&error) {
            self.0.push(error);
        }
    }

    /// The problems noted, for a collector that reports them under another name.
    pub fn into_errors(self) -> Vec<InputError> {
        self.0
    }

    /// `Ok(value)` when no problem was found: then every required value is present.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, InvalidInputs> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(InvalidInputs(self.0)),
        }
    }
}

/// Inputs given but not used, each with why: the user is told once per reason, never refused.
#[derive(Debug, Default)]
pub struct Ignored(Vec<(&'static str, &'static str)>);

/// Why build inputs are not used.
pub const BESIDE_IMAGE: &str = "`image` is given, so nothing is built";

impl Ignored {
    pub fn add(&mut self, why: &'static str, input: &'static str) {
        self.0.push((why, input));
    }

    /// One notice a reason: `WHY: `a`, `b` ignored`.
    pub fn notices(&self) -> Vec<String> {
        let mut reasons: Vec<&str> = Vec::new();
        for (why, _) in &self.0 {
            if !reasons.contains(why) {
                reasons.push(why);
            }
        }
        reasons
            .into_iter()
            .map(|reason| {
                let names: Vec<String> = self
                    .0
                    .iter()
                    .filter(|(why, _)| *why == reason)
                    .map(|(_, input)| format!("`{input}`"))
                    .collect();
                format!("{reason}: {} ignored", names.join(", "))
            })
            .collect()
    }
}
