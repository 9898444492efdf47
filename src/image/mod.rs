//! The tester image: the build context, the build on the Docker engine, the push to a registry.

mod build;
mod build_context;
mod compose;
mod docker;
mod dockerfile;
mod dockerignore;
mod push;

use anyhow::{Context, Result};
use bollard::Docker;

use crate::gha::Gha;
use crate::plan::{BuildPlan, REVISION_LABEL};

pub use compose::{ensure_image, run_once, script_build};
pub use docker::connect as docker_engine;
pub use push::RegistryLogin;

/// The Docker engine a build runs on, reached once the build context was found sound.
pub struct Engine(Docker);

/// Connects to the engine at `DOCKER_HOST` for a build the action writes itself.
pub async fn engine() -> Result<Engine> {
    Ok(Engine(docker::connect().await?))
}

/// Checks the build context and the Dockerfile, then connects to the engine at `DOCKER_HOST`:
/// both before anything is asked of a registry.
pub async fn engine_for(plan: &BuildPlan) -> Result<Engine> {
    build_context::check(
        std::path::Path::new(&plan.context),
        &plan.dockerfile,
        plan.written.is_some(),
    )?;
    Ok(Engine(docker::connect().await?))
}

/// An image in the registry for the tasks to run: `HOST/REPOSITORY@sha256:…`, and whether it
/// was already there under its tag (and so neither built nor pushed).
pub struct Pushed {
    pub reference: String,
    pub tag: String,
    pub already_there: bool,
}

impl Pushed {
    /// `tag` of `repository` (`HOST/REPOSITORY`), run by its `digest`.
    fn at(repository: &str, tag: String, digest: &str, already_there: bool) -> Pushed {
        Pushed {
            reference: format!("{repository}@{digest}"),
            tag,
            already_there,
        }
    }
}

/// Pushes `source`, an image the engine has (the runner pulled the action's own image to run
/// it), to `HOST/REPOSITORY:ecs-loadtest-sha256-…`, tagged with its own image ID so that one tag
/// always names one image and a repository whose tags are immutable takes it, once.
pub async fn copy_to_registry(
    source: &str,
    registry: &RegistryLogin,
    repository: &str,
    gha: &Gha,
) -> Result<Pushed> {
    let docker = docker::connect().await?;
    let id = docker
        .inspect_image(source)
        .await
        .with_context(|| {
            format!("inspecting {source} on the Docker engine (the engine must have it: docker pull it first)")
        })?
        .id
        .with_context(|| format!("the Docker engine gives no ID for {source}"))?;
    let tag = format!("ecs-loadtest-{}", id.replace(':', "-"));
    push_as(
        &Engine(docker),
        source,
        registry,
        repository,
        (&tag, None),
        gha,
    )
    .await
}

/// The digest `repository:tag` (`HOST/REPOSITORY`) has in `registry`, when the tag is there. An
/// image tagged for a commit (`revision`) is taken only when its revision label names that
/// commit: a tag is never pushed over, so an image found under it that was built from another
/// commit (a reused `image-tag`, a tag pushed by someone else) would otherwise be run as this
/// one's. Such a find stops the run, said in words.
async fn found(
    engine: &Engine,
    registry: &RegistryLogin,
    repository: &str,
    tag: &str,
    revision: Option<&str>,
) -> Result<Option<String>> {
    let Some(digest) = push::pushed_digest(&engine.0, registry, repository, tag).await? else {
        return Ok(None);
    };
    let Some(revision) = revision else {
        return Ok(Some(digest));
    };
    let reference = format!("{repository}@{digest}");
    let built_from = push::label_of(&engine.0, registry, &reference, REVISION_LABEL).await?;
    if built_from.as_deref() == Some(revision) {
        return Ok(Some(digest));
    }
    let was = match built_from {
        Some(other) => format!("was built from commit `{other}`"),
        None => {
            format!("carries no `{REVISION_LABEL}` label to say which commit it was built from")
        }
    };
    anyhow::bail!(
        "`{repository}:{tag}` is in the registry already and {was}, not from this run's commit `{revision}`; a tag is never pushed over, so nothing was built or started. Leave `image-tag` unset (each commit then gets its own tag, its full SHA) or give a tag not used before"
    )
}

/// Pushes `source`, an image the engine has (built for another region's registry, or the
/// action's own), as `HOST/REPOSITORY:TAG` of `registry`, unless that registry has the tag
/// already: a tag is never pushed over. The push uploads only the layers that registry lacks.
pub async fn push_as(
    engine: &Engine,
    source: &str,
    registry: &RegistryLogin,
    repository: &str,
    (tag, revision): (&str, Option<&str>),
    gha: &Gha,
) -> Result<Pushed> {
    let repository = format!("{}/{repository}", registry.host);
    if let Some(digest) = found(engine, registry, &repository, tag, revision).await? {
        return Ok(Pushed::at(&repository, tag.to_string(), &digest, true));
    }
    let options = bollard::query_parameters::TagImageOptions {
        repo: Some(repository.clone()),
        tag: Some(tag.to_string()),
    };
    engine
        .0
        .tag_image(source, Some(options))
        .await
        .with_context(|| format!("tagging {source} as {repository}:{tag} on the Docker engine"))?;
    let digest = push::push(&engine.0, registry, &repository, tag, gha).await?;
    Ok(Pushed::at(&repository, tag.to_string(), &digest, false))
}

/// Whether `registry` has `plan`'s tag in `repository` already (of `plan`'s commit).
pub async fn has_tag(
    engine: &Engine,
    registry: &RegistryLogin,
    repository: &str,
    plan: &BuildPlan,
) -> Result<bool> {
    let repository = format!("{}/{repository}", registry.host);
    Ok(
        found(engine, registry, &repository, &plan.tag, plan.revision())
            .await?
            .is_some(),
    )
}

/// Builds `plan` on the local engine as `ecs-loadtest-local:TAG`, for tasks run there.
pub async fn build_local(plan: &BuildPlan, gha: &Gha) -> Result<String> {
    let engine = engine_for(plan).await?;
    let reference = format!("ecs-loadtest-local:{}", plan.tag);
    build::build(&engine.0, plan, &reference, gha).await?;
    Ok(reference)
}

/// Builds `plan` as `HOST/REPOSITORY:TAG` and pushes it with `registry`'s login, unless the
/// registry has that tag already (a re-run of the same commit): a tag is never pushed over. The
/// reference is `HOST/REPOSITORY@sha256:…`, so that the tasks run exactly what the tag names.
pub async fn build_and_push(
    engine: &Engine,
    plan: &BuildPlan,
    registry: &RegistryLogin,
    repository: &str,
    gha: &Gha,
) -> Result<Pushed> {
    let repository = format!("{}/{repository}", registry.host);
    let tag = plan.tag.clone();
    if let Some(digest) = found(engine, registry, &repository, &tag, plan.revision()).await? {
        return Ok(Pushed::at(&repository, tag, &digest, true));
    }
    build::build(&engine.0, plan, &format!("{repository}:{tag}"), gha).await?;
    let digest = push::push(&engine.0, registry, &repository, &tag, gha).await?;
    Ok(Pushed::at(&repository, tag, &digest, false))
}

/// Builds `plan` on the engine as `HOST/REPOSITORY:TAG`, whether or not the registry has that tag
/// (the engine's cache makes a repeat quick), so that the image can be checked before
/// `push_built`. Returns that reference.
pub async fn build_for(
    engine: &Engine,
    plan: &BuildPlan,
    registry: &RegistryLogin,
    repository: &str,
    gha: &Gha,
) -> Result<String> {
    let reference = format!("{}/{repository}:{}", registry.host, plan.tag);
    build::build(&engine.0, plan, &reference, gha).await?;
    Ok(reference)
}

/// Pushes what `build_for` built, unless the registry has its tag already: a tag is never
/// pushed over.
pub async fn push_built(
    engine: &Engine,
    plan: &BuildPlan,
    registry: &RegistryLogin,
    repository: &str,
    gha: &Gha,
) -> Result<Pushed> {
    let repository = format!("{}/{repository}", registry.host);
    let tag = plan.tag.clone();
    let (digest, already_there) =
        match found(engine, registry, &repository, &tag, plan.revision()).await? {
            Some(digest) => (digest, true),
            None => (
                push::push(&engine.0, registry, &repository, &tag, gha).await?,
                false,
            ),
        };
    Ok(Pushed::at(&repository, tag, &digest, already_there))
}
