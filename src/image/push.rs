//! Pushing the built image to a registry, and the digest the push reports.

use anyhow::{Result, anyhow};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptions;
use futures_util::StreamExt;

use crate::gha::Gha;

/// Where to push and with what.
pub struct RegistryLogin {
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com`, `ghcr.io`, …
    pub host: String,
    pub username: String,
    pub password: String,
}

impl RegistryLogin {
    fn credentials(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(self.host.clone()),
            ..Default::default()
        }
    }
}

/// The digest `repository:tag` has in the registry, or `None` when the registry has no such tag,
/// asked of the registry through the engine (`GET /distribution/{name}/json`). A re-run of a
/// commit must run what is there rather than push over it: ECR refuses to overwrite a tag of an
/// immutable repository, and a rebuild on a fresh runner has another digest.
pub async fn pushed_digest(
    docker: &Docker,
    registry: &RegistryLogin,
    repository: &str,
    tag: &str,
) -> Result<Option<String>> {
    let name = format!("{repository}:{tag}");
    match docker
        .inspect_registry_image(&name, Some(registry.credentials()))
        .await
    {
        Ok(inspected) => {
            let digest = inspected.descriptor.digest.ok_or_else(|| {
                anyhow!("asking the registry for {name}: the answer names no digest")
            })?;
            Ok(Some(digest))
        }
        // The engine passes on the registry's "manifest unknown" (404; some engines answer 403 or
        // 500 with the same words).
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        }) if status_code == 404
            || message.contains("manifest unknown")
            || message.contains("not found") =>
        {
            Ok(None)
        }
        Err(error) => Err(anyhow!("asking the registry for {name}: {error}")),
    }
}

/// The value of `label` on `reference` (`HOST/REPOSITORY@sha256:…`) in `registry`: the image is
/// pulled by its digest with the registry's login, and its configuration read.
pub async fn label_of(
    docker: &Docker,
    registry: &RegistryLogin,
    reference: &str,
    label: &str,
) -> Result<Option<String>> {
    let options = bollard::query_parameters::CreateImageOptions {
        from_image: Some(reference.to_string()),
        ..Default::default()
    };
    let mut pull = docker.create_image(Some(options), None, Some(registry.credentials()));
    while let Some(progress) = pull.next().await {
        progress.map_err(|error| anyhow!("pulling {reference} to read its labels: {error}"))?;
    }
    let inspected = docker
        .inspect_image(reference)
        .await
        .map_err(|error| anyhow!("inspecting {reference} on the Docker engine: {error}"))?;
    Ok(inspected
        .config
        .and_then(|config| config.labels)
        .and_then(|mut labels| labels.remove(label)))
}

/// Pushes `repository:tag` (repository including the registry host) and returns the digest the
/// registry gave it. An error inside the push stream is an error.
pub async fn push(
    docker: &Docker,
    registry: &RegistryLogin,
    repository: &str,
    tag: &str,
    gha: &Gha,
) -> Result<String> {
    let credentials = registry.credentials();
    let options = PushImageOptions {
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    let mut stream = docker.push_image(repository, Some(options), Some(credentials));
    let mut digest = None;
    let mut layers_pushed = 0;
    let mut layers_present = 0;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|error| anyhow!("pushing {repository}:{tag}: {error}"))?;
        if let Some(message) = info.error_detail.and_then(|detail| detail.message) {
            return Err(anyhow!("pushing {repository}:{tag}: {message}"));
        }
        match info.status.as_deref() {
            Some("Pushed") => layers_pushed += 1,
            Some("Layer already exists") => layers_present += 1,
            Some(status) => {
                if let Some(found) = parse_digest(status) {
                    digest = Some(found);
                }
            }
            None => {}
        }
    }
    let digest = digest
        .ok_or_else(|| anyhow!("pushing {repository}:{tag}: the registry reported no digest"))?;
    gha.line(&format!(
        "Pushed {repository}:{tag} ({layers_pushed} layers uploaded, {layers_present} already there): {digest}"
    ));
    Ok(digest)
}

/// `abc1234: digest: sha256:… size: 735` -> `sha256:…`.
fn parse_digest(status: &str) -> Option<String> {
    let (_, rest) = status.split_once("digest: ")?;
    let digest = rest.split_whitespace().next()?;
    digest.starts_with("sha256:").then(|| digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_digest_of_the_last_status() {
        assert_eq!(
            parse_digest("abc1234: digest: sha256:ca2c589a size: 735").as_deref(),
            Some("sha256:ca2c589a")
        );
        assert_eq!(parse_digest("Preparing"), None);
    }
}
