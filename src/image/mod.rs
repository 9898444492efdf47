//! The tester image: the build context, the build on the Docker engine, the push to a registry.

mod build;
mod build_context;
mod docker;
mod dockerfile;
mod dockerignore;
mod push;

use anyhow::{Context, Result};
use bollard::Docker;

use crate::gha::Gha;
use crate::plan::BuildPlan;

pub use docker::connect as docker_engine;
pub use push::RegistryLogin;

/// The Docker engine a build runs on, reached once the build context was found sound.
pub struct Engine(Docker);

/// Checks the build context and the Dockerfile, then connects to the engine at `DOCKER_HOST`:
/// both before anything is asked of a registry.
pub async fn engine_for(plan: &BuildPlan) -> Result<Engine> {
    build_context::check(std::path::Path::new(&plan.context), &plan.dockerfile)?;
    Ok(Engine(docker::connect().await?))
}

/// Pushes `source`, an image the engine has (the runner pulled the action's own image to run
/// it), to `HOST/REPOSITORY:TAG` with `registry`'s login. Returns `HOST/REPOSITORY@sha256:…`.
pub async fn copy_to_registry(
    source: &str,
    registry: &RegistryLogin,
    repository: &str,
    tag: &str,
    gha: &Gha,
) -> Result<String> {
    let docker = docker::connect().await?;
    let repository = format!("{}/{repository}", registry.host);
    let options = bollard::query_parameters::TagImageOptions {
        repo: Some(repository.clone()),
        tag: Some(tag.to_string()),
    };
    docker
        .tag_image(source, Some(options))
        .await
        .with_context(|| {
            format!("tagging {source} as {repository}:{tag} on the Docker engine (the engine must have {source}: docker pull it first)")
        })?;
    let digest = push::push(&docker, registry, &repository, tag, gha).await?;
    Ok(format!("{repository}@{digest}"))
}

/// Builds `plan` on the local engine as `ecs-loadtest-local:TAG`, for tasks run there.
pub async fn build_local(plan: &BuildPlan, gha: &Gha) -> Result<String> {
    let engine = engine_for(plan).await?;
    let reference = format!("ecs-loadtest-local:{}", plan.tag);
    build::build(&engine.0, plan, &reference, gha).await?;
    Ok(reference)
}

/// Builds `plan` as `HOST/REPOSITORY:TAG` and pushes it with `registry`'s login. Returns
/// `HOST/REPOSITORY@sha256:…`, so that the tasks run exactly what was built.
pub async fn build_and_push(
    engine: &Engine,
    plan: &BuildPlan,
    registry: &RegistryLogin,
    repository: &str,
    gha: &Gha,
) -> Result<String> {
    let repository = format!("{}/{repository}", registry.host);
    build::build(&engine.0, plan, &format!("{repository}:{}", plan.tag), gha).await?;
    let digest = push::push(&engine.0, registry, &repository, &plan.tag, gha).await?;
    Ok(format!("{repository}@{digest}"))
}
