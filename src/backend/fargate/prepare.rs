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
use crate::plan::{ImageSource, Plan, ScriptPlan};
use crate::wrap::{self, ScriptThreshold};

pub struct Prepared {
    pub clients: Clients,
    /// The image reference the tasks run.
    pub image: String,
    pub revision: Revision,
    /// A k6 script's thresholds, read in the image built for it.
    pub inspected: Vec<ScriptThreshold>,
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
    let mut inspected = Vec::new();
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
        (ImageSource::Script(k6), Some(repository)) => {
            let (pushed, thresholds) = k6_image(k6, repository, &clients, gha, events).await?;
            inspected = thresholds;
            pushed
        }
        // Validation requires a repository beside a k6 script on Fargate.
        (ImageSource::Script(_), None) => {
            anyhow::bail!("input `ecr-repository` is required to push a k6 script's image")
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
        inspected,
    })
}

/// A k6 script's image: composed, built, checked by `k6 inspect` in it (a script k6 refuses
/// fails here, before anything is pushed or started), then pushed unless ECR has its tag.
async fn k6_image(
    k6: &ScriptPlan,
    repository: &str,
    clients: &Clients,
    gha: &Gha,
    events: &Events,
) -> Result<(String, Vec<ScriptThreshold>)> {
    let Some(action_image) = &k6.wrapper_image else {
        anyhow::bail!("input `generator-image` is required to take this action's binary from");
    };
    let engine = image::engine().await?;
    let build = image::script_build(&engine, k6, action_image).await?;
    let ecr = clients.ecr();
    ecr::check_repository(&ecr, repository, &clients.region).await?;
    let registry = ecr::login(&ecr, gha).await?;
    let built = image::build_for(&engine, &build, &registry, repository, gha).await?;
    let thresholds = wrap::check_script_in_image(&engine, &built, k6).await?;
    let pushed = image::push_built(&engine, &build, &registry, repository, gha).await?;
    say_already_there(&pushed, repository, events);
    Ok((pushed.reference, thresholds))
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
