//! ECR: the repository must exist, and the registry login.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_ecr::error::ProvideErrorMetadata;
use base64::Engine;

use crate::aws::{AwsContext, AwsError, persist};
use crate::gha::Gha;
use crate::image::RegistryLogin;

/// Fails with one clear error when the repository does not exist: nothing is created silently.
pub async fn check_repository(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    region: &str,
) -> Result<()> {
    let found = persist(|| async {
        match ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.code() == Some("RepositoryNotFoundException") => Ok(false),
            Err(error) => Err(AwsError::new(
                format!("DescribeRepositories of `{repository}`"),
                &error,
            )),
        }
    })
    .await?;
    if !found {
        bail!(
            "input `ecr-repository`: the ECR repository `{repository}` does not exist in {region}; create it first (infra/terraform does)"
        );
    }
    Ok(())
}

/// GetAuthorizationToken: the password is masked before anything else happens with it.
pub async fn login(ecr: &aws_sdk_ecr::Client, gha: &Gha) -> Result<RegistryLogin> {
    let answer = persist(|| async {
        ecr.get_authorization_token()
            .send()
            .await
            .aws_context(|| "ECR GetAuthorizationToken".to_string())
    })
    .await?;
    let data = answer
        .authorization_data()
        .first()
        .ok_or_else(|| anyhow!("ECR GetAuthorizationToken returned no authorization data"))?;
    let token = data
        .authorization_token()
        .ok_or_else(|| anyhow!("ECR GetAuthorizationToken returned no token"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .context("decoding the ECR authorization token")?;
    let decoded = String::from_utf8(decoded).context("decoding the ECR authorization token")?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| anyhow!("the ECR authorization token is not `user:password`"))?;
    gha.mask(password);
    gha.mask(token);
    let endpoint = data
        .proxy_endpoint()
        .ok_or_else(|| anyhow!("ECR GetAuthorizationToken returned no proxy endpoint"))?;
    let host = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Ok(RegistryLogin {
        host,
        username: username.to_string(),
        password: password.to_string(),
    })
}
