//! The one place the Docker client is built: `DOCKER_HOST`, else the local socket (in GitHub
//! Actions, a Docker container action gets the runner's socket at `/var/run/docker.sock`).

use anyhow::{Result, anyhow};
use bollard::Docker;

pub async fn connect() -> Result<Docker> {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
    let unreachable = |why: String| {
        anyhow!(
            "no Docker engine at {host} ({why}); start one, or point DOCKER_HOST at it (a Docker container action gets the runner's engine at /var/run/docker.sock)"
        )
    };
    let docker = Docker::connect_with_defaults().map_err(|error| unreachable(error.to_string()))?;
    docker
        .ping()
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    Ok(docker)
}
