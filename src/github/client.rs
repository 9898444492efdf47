//! The one place the GitHub client is built.

use anyhow::{Context, Result};
use octocrab::Octocrab;

/// github.com's API, when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A client for `api_url` (GitHub Enterprise: `https://HOST/api/v3`; the path is kept) with the
/// token. octocrab needs a Tokio runtime.
pub fn build(api_url: Option<&str>, token: &str) -> Result<Octocrab> {
    let api_url = api_url.unwrap_or(DEFAULT_API_URL).trim_end_matches('/');
    Octocrab::builder()
        .base_uri(api_url)
        .with_context(|| format!("GITHUB_API_URL `{api_url}` is not a URL"))?
        .personal_token(token.to_string())
        .build()
        .with_context(|| format!("building the GitHub client for {api_url}"))
}

/// The HTTP status of a GitHub error answer, when it is one.
pub fn status_of(error: &octocrab::Error) -> Option<u16> {
    match error {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

/// GitHub's message for an error, without a debug dump.
pub fn describe(error: &octocrab::Error) -> String {
    match error {
        octocrab::Error::GitHub { source, .. } => {
            format!("{} {}", source.status_code, source.message)
        }
        other => other.to_string(),
    }
}
