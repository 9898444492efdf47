//! The one place the GitHub client is built.

use std::time::Duration;

use anyhow::{Context, Result};
use octocrab::Octocrab;

/// github.com's API, when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How long a connection to GitHub may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long GitHub may leave a request unanswered (and a read or write stalled). GitHub itself
/// ends an API request it has worked on for 10 seconds ("Timeouts" in the REST API's best
/// practices), so a request silent for longer is not coming back; without a bound, a hung
/// connection would hold the step, and its verdict, until the job's timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// A client for `api_url` (GitHub Enterprise: `https://HOST/api/v3`; the path is kept) with the
/// token. octocrab needs a Tokio runtime.
pub fn build(api_url: Option<&str>, token: &str) -> Result<Octocrab> {
    let api_url = api_url.unwrap_or(DEFAULT_API_URL).trim_end_matches('/');
    Octocrab::builder()
        .base_uri(api_url)
        .with_context(|| format!("GITHUB_API_URL `{api_url}` is not a URL"))?
        .personal_token(token.to_string())
        .set_connect_timeout(Some(CONNECT_TIMEOUT))
        .set_read_timeout(Some(IO_TIMEOUT))
        .set_write_timeout(Some(IO_TIMEOUT))
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
