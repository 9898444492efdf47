//! The `secrets` input: values a task needs that must not travel in plain text. Each line
//! `NAME=ARN` names a Secrets Manager secret or an SSM parameter; the task definition revision
//! the action registers references it (`secrets` / `valueFrom`), so ECS puts its value in the
//! task's environment as `NAME` and no API request or log of the action ever holds it. `headers`
//! may use `${NAME}`, which the built-in generator expands inside the task.
//!
//! RunTask's container overrides (where `headers` and `environment` travel) are shown to anyone
//! with `ecs:DescribeTasks` and to every CloudTrail reader, so a credential written there gets a
//! warning that points here.

use regex::Regex;
use serde::Serialize;

use crate::input_error::Problems;
use crate::inputs::{Inputs, given};

/// One secret a task gets: its variable's name and where ECS reads its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    pub name: String,
    pub value_from: String,
}

pub const SECRETS_ACCEPTED: &str = "lines `NAME=ARN`: a variable name (letters, digits and `_`, not starting with a digit) and the ARN of a Secrets Manager secret (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`, a JSON key and version may follow as ECS allows) or of an SSM parameter (`arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`)";

fn arn_pattern() -> Regex {
    // A constant pattern: it compiles.
    Regex::new(
        r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:\s]*){0,3}|ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9/_.-]+)$",
    )
    .unwrap_or_else(|_| unreachable!("a constant pattern"))
}

/// A variable name a container's environment takes.
pub fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `secrets` input, each line checked; a problem noted for each bad one. The local backend
/// reads no Secrets Manager or SSM, so there the input is refused whole.
pub fn secrets(inputs: &Inputs, problems: &mut Problems) -> Vec<SecretRef> {
    let Some(text) = given(&inputs.secrets) else {
        return Vec::new();
    };
    if given(&inputs.backend).is_some_and(|backend| backend.eq_ignore_ascii_case("local")) {
        problems.add(
            "secrets",
            text,
            "nothing on the local backend, which reads no Secrets Manager or SSM: give the values in `environment` (they stay on this machine)",
        );
        return Vec::new();
    }
    let pattern = arn_pattern();
    let mut secrets: Vec<SecretRef> = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let Some((name, arn)) = line.split_once('=') else {
            problems.add("secrets", line, SECRETS_ACCEPTED);
            continue;
        };
        let (name, arn) = (name.trim(), arn.trim());
        if !is_variable_name(name) || !pattern.is_match(arn) {
            problems.add("secrets", line, SECRETS_ACCEPTED);
        } else if secrets.iter().any(|secret| secret.name == name) {
            problems.add(
                "secrets",
                line,
                format!("each name once; `{name}` is named twice"),
            );
        } else {
            secrets.push(SecretRef {
                name: name.to_string(),
                value_from: arn.to_string(),
            });
        }
    }
    secrets
}

/// The `${NAME}` placeholders in `text`, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        found.push(&after[..end]);
        rest = &after[end + 1..];
    }
    found
}

/// `text` with each `${NAME}` replaced by `lookup(NAME)`; the error names a placeholder that
/// `lookup` does not know. A `$` not followed by `{` stays as it is.
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let value = lookup(name).ok_or_else(|| {
            format!("`${{{name}}}`: the task's environment has no `{name}` (is it in `secrets`, and does the task definition revision reference it?)")
        })?;
        out.push_str(&rest[..start]);
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every `${NAME}` in `headers` names one of `secrets`.
pub fn check_placeholders(headers: &str, secrets: &[SecretRef], problems: &mut Problems) {
    for name in placeholders(headers) {
        if !secrets.iter().any(|secret| secret.name == name) {
            problems.add(
                "headers",
                &format!("${{{name}}}"),
                format!(
                    "`${{NAME}}` placeholders for variables that `secrets` names ({}); `${{{name}}}` is not one",
                    if secrets.is_empty() {
                        "it names none".to_string()
                    } else {
                        secrets
                            .iter()
                            .map(|secret| format!("`{}`", secret.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            );
        }
    }
}

/// Header names that carry credentials by what they are.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];
/// Parts of a name that say it holds a credential.
const CREDENTIAL_WORDS: [&str; 3] = ["token", "secret", "password"];

fn names_a_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_HEADERS.contains(&name.as_str())
        || CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// A warning for each credential written as it is in `headers` or `environment` (a value with no
/// `${NAME}` placeholder): it names the input and the header or variable, never the value.
pub fn credential_warnings(inputs: &Inputs) -> Vec<String> {
    if given(&inputs.backend).is_some_and(|backend| backend.eq_ignore_ascii_case("local")) {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    let travels = "travels in plain text in every RunTask request, which `ecs:DescribeTasks` and CloudTrail show";
    for line in given(&inputs.headers).unwrap_or_default().lines() {
        if let Some((name, value)) = line.split_once(':')
            && names_a_credential(name.trim())
            && placeholders(value).is_empty()
        {
            let name = name.trim();
            warnings.push(format!(
                "input `headers`: the value of `{name}` is written in the workflow and {travels}: keep it in Secrets Manager or SSM, name it in `secrets` (`API_TOKEN=arn:aws:secretsmanager:…`) and write `{name}: ${{API_TOKEN}}` (or `Bearer ${{API_TOKEN}}`)"
            ));
        }
    }
    for line in given(&inputs.environment).unwrap_or_default().lines() {
        if let Some((name, value)) = line.split_once('=')
            && names_a_credential(name.trim())
            && !value.trim().is_empty()
        {
            let name = name.trim();
            warnings.push(format!(
                "input `environment`: the value of `{name}` is written in the workflow and {travels}: keep it in Secrets Manager or SSM and name it in `secrets` instead (`{name}=arn:aws:secretsmanager:…`): the task gets `{name}` all the same"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:loadtest/api-AbCdEf";
    const PARAMETER: &str = "arn:aws:ssm:eu-west-1:123456789012:parameter/loadtest/cookie";

    fn read(text: &str, backend: Option<&str>) -> (Vec<SecretRef>, Vec<String>) {
        let inputs = Inputs {
            secrets: Some(text.into()),
            backend: backend.map(String::from),
            ..Default::default()
        };
        let mut problems = Problems::default();
        let secrets = secrets(&inputs, &mut problems);
        let errors = problems
            .into_errors()
            .iter()
            .map(ToString::to_string)
            .collect();
        (secrets, errors)
    }

    #[test]
    fn lines_name_secrets_and_parameters_by_arn() {
        let (secrets, errors) = read(
            &format!("API_TOKEN={SECRET}\n\n SESSION = {PARAMETER}\nDB={SECRET}:password::\n"),
            None,
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            secrets
                .iter()
                .map(|secret| (secret.name.as_str(), secret.value_from.as_str()))
                .collect::<Vec<_>>(),
            [
                ("API_TOKEN", SECRET),
                ("SESSION", PARAMETER),
                ("DB", &*format!("{SECRET}:password::")),
            ]
        );
        for bad in [
            format!("1TOKEN={SECRET}"),
            format!("API-TOKEN={SECRET}"),
            "API_TOKEN=hunter2".to_string(),
            "API_TOKEN=arn:aws:s3:::bucket/key".to_string(),
            format!("API_TOKEN {SECRET}"),
        ] {
            let (_, errors) = read(&bad, None);
            assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
            assert!(errors[0].contains("lines `NAME=ARN`"), "{errors:?}");
        }
        let (_, errors) = read(&format!("A={SECRET}\nA={PARAMETER}"), None);
        assert!(errors[0].contains("`A` is named twice"), "{errors:?}");
        let (secrets, errors) = read(&format!("A={SECRET}"), Some("local"));
        assert!(
            secrets.is_empty() && errors[0].contains("local backend"),
            "{errors:?}"
        );
    }

    #[test]
    fn placeholders_expand_and_a_missing_one_is_named() {
        assert_eq!(placeholders("Bearer ${API_TOKEN} ${B}"), ["API_TOKEN", "B"]);
        let lookup = |name: &str| (name == "API_TOKEN").then(|| "s3cr3t".to_string());
        assert_eq!(
            expand("Authorization: Bearer ${API_TOKEN}\nX: $1 ${", lookup).unwrap(),
            "Authorization: Bearer s3cr3t\nX: $1 ${"
        );
        let error = expand("Cookie: ${SESSION}", lookup).unwrap_err();
        assert!(error.contains("has no `SESSION`"), "{error}");
        let mut problems = Problems::default();
        let secrets = [SecretRef {
            name: "API_TOKEN".into(),
            value_from: SECRET.into(),
        }];
        check_placeholders(
            "Authorization: ${API_TOKEN}\nCookie: ${SESSION}",
            &secrets,
            &mut problems,
        );
        let errors = problems.into_errors();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .accepted
                .contains("(`API_TOKEN`); `${SESSION}` is not one"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn credentials_written_as_they_are_are_warned_of_by_name_only() {
        let inputs = Inputs {
            headers: Some(
                "Authorization: Bearer abc.def\nX-Api-Key: k-123\nCookie: ${SESSION}\nAccept: */*\nX-Session-Token: t".into(),
            ),
            environment: Some("DB_PASSWORD=hunter2\nREGION=eu-west-1\nAPI_SECRET=\n".into()),
            ..Default::default()
        };
        let warnings = credential_warnings(&inputs);
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        for (warning, name) in warnings.iter().zip([
            "Authorization",
            "X-Api-Key",
            "X-Session-Token",
            "DB_PASSWORD",
        ]) {
            assert!(warning.contains(&format!("`{name}`")), "{warning}");
            assert!(warning.contains("`secrets`"), "{warning}");
        }
        for value in ["abc.def", "k-123", "hunter2"] {
            assert!(!warnings.iter().any(|warning| warning.contains(value)));
        }
        let local = Inputs {
            backend: Some("local".into()),
            ..inputs
        };
        assert!(credential_warnings(&local).is_empty());
    }
}
