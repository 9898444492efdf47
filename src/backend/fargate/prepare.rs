//! Everything before the first Fargate task starts: credentials, the image (built and pushed to
//! ECR, or given), the task definition revision that runs it.

use anyhow::Result;

use super::ecr;
use super::settings::Settings;
use super::taskdef::{self, Revision};
use crate::aws::{self, Clients};
use crate::event::Events;
use crate::gha::Gha;
use crate::image;
use crate::plan::{ImageSource, Plan};

pub struct Prepared {
    pub clients: Clients,
    /// The image reference the tasks run.
    pub image: String,
    pub revision: Revision,
}

pub async fn prepare(
    settings: &Settings,
    plan: &Plan,
    gha: &Gha,
    events: &Events,
) -> Result<Prepared> {
    let clients = clients(plan).await?;
    let identity = aws::caller_identity(&clients.sts).await?;
    events.info(format!(
        "AWS account {} as {} in {}",
        identity.account, identity.arn, clients.region
    ));
    let image = match (&plan.image, &settings.ecr_repository) {
        (ImageSource::Given(image), _) => image.clone(),
        (ImageSource::Build(build), Some(repository)) => {
            let engine = image::engine_for(build).await?;
            let ecr = clients.ecr();
            ecr::check_repository(&ecr, repository, &clients.region).await?;
            let registry = ecr::login(&ecr, gha).await?;
            let pushed = image::build_and_push(&engine, build, &registry, repository, gha).await?;
            say_already_there(&pushed, repository, events);
            pushed.reference
        }
        (ImageSource::Build(_), None) => {
            anyhow::bail!("input `ecr-repository` is required to push the built image")
        }
        // Validation requires the generator's image on Fargate.
        (ImageSource::Generator { image: None }, _) => {
            anyhow::bail!("input `generator-image` is required to run the built-in generator")
        }
        (ImageSource::Generator { image: Some(image) }, None) => image.clone(),
        // Validation refuses a k6 script on Fargate for now (docs/k6.md).
        (ImageSource::K6(k6), _) => {
            anyhow::bail!(
                "input `script` ({}) runs on the local backend for now",
                k6.script
            )
        }
        // Tasks in private subnets without internet pull only from ECR: push the action's own
        // image there.
        (ImageSource::Generator { image: Some(image) }, Some(repository)) => {
            let ecr = clients.ecr();
            ecr::check_repository(&ecr, repository, &clients.region).await?;
            let registry = ecr::login(&ecr, gha).await?;
            let pushed = image::copy_to_registry(image, &registry, repository, gha).await?;
            say_already_there(&pushed, repository, events);
            pushed.reference
        }
    };
    let revision = taskdef::register_revision(
        &clients.ecs,
        &settings.task_definition,
        settings.container_name.as_deref(),
        &image,
    )
    .await?;
    events.info(format!(
        "Registered {} with image {image} for container `{}`",
        revision.arn, revision.container
    ));
    Ok(Prepared {
        clients,
        image,
        revision,
    })
}

fn say_already_there(pushed: &image::Pushed, repository: &str, events: &Events) {
    if pushed.already_there {
        events.info(format!(
            "`{repository}:{}` is in ECR already (a re-run of the same commit): the tasks run it, {}; a tag is never pushed over",
            pushed.tag, pushed.reference
        ));
    }
}

/// The AWS clients of a run, from the plan's region or the SDK's chain.
pub async fn clients(plan: &Plan) -> Result<Clients> {
    let config = aws::sdk_config(plan.region.as_deref()).await?;
    Ok(Clients::new(&config))
}
