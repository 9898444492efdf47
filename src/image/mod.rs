//! The tester image: the build context, the build, the push to ECR.

pub mod build;
pub mod context;
pub mod docker;
pub mod dockerfile;
pub mod dockerignore;
pub mod ecr;
pub mod push;

use anyhow::Result;

use crate::aws::Clients;
use crate::gha::Gha;
use crate::plan::ImageSource;

/// The reference the tasks run: the given image, or the built and pushed one as
/// `HOST/REPO@sha256:…`, so the tasks run exactly what was built.
pub async fn resolve(source: &ImageSource, clients: &Clients, gha: &Gha) -> Result<String> {
    let plan = match source {
        ImageSource::Given(image) => return Ok(image.clone()),
        ImageSource::Build(plan) => plan,
    };
    context::check(std::path::Path::new(&plan.context), &plan.dockerfile)?;
    let docker = docker::connect().await?;
    let ecr = clients.ecr();
    ecr::check_repository(&ecr, &plan.repository, &clients.region).await?;
    let registry = ecr::login(&ecr, gha).await?;
    let repository = format!("{}/{}", registry.host, plan.repository);
    build::build(&docker, plan, &format!("{repository}:{}", plan.tag), gha).await?;
    let digest = push::push(&docker, &registry, &repository, &plan.tag, gha).await?;
    Ok(format!("{repository}@{digest}"))
}
