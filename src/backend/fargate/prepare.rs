//! Everything before the first Fargate task starts: credentials, the image (built once and
//! pushed to each region's ECR repository, or given), and in each region the task definition
//! revision that runs it.

use anyhow::Result;
use futures_util::future::try_join_all;

use super::ecr;
use super::settings::{Place, Settings};
use super::taskdef::{self, Revision};
use crate::aws::{self, Clients};
use crate::event::Events;
use crate::gha::Gha;
use crate::image::{self, Engine, RegistryLogin};
use crate::plan::{BuildPlan, ImageSource, Plan, ScriptPlan};
use crate::wrap::{self, ScriptThreshold};

pub struct Prepared {
    /// One a place, in the settings' order.
    pub regions: Vec<PreparedRegion>,
    /// A k6 script's thresholds, read in the image built for it.
    pub inspected: Vec<ScriptThreshold>,
}

pub struct PreparedRegion {
    pub clients: Clients,
    /// The image reference the region's tasks run.
    pub image: String,
    pub revision: Revision,
}

pub async fn prepare(
    settings: &Settings,
    plan: &Plan,
    gha: &Gha,
    events: &Events,
) -> Result<Prepared> {
    let mut all_clients = Vec::with_capacity(settings.places.len());
    for place in &settings.places {
        all_clients.push(clients(place.region.as_deref().or(plan.region.as_deref())).await?);
    }
    let identity = aws::caller_identity(&all_clients[0].sts).await?;
    let regions: Vec<&str> = all_clients
        .iter()
        .map(|clients| clients.region.as_str())
        .collect();
    events.info(format!(
        "AWS account {} as {} in {}",
        identity.account,
        identity.arn,
        regions.join(", ")
    ));
    let places: Vec<(&Place, &Clients)> = settings.places.iter().zip(&all_clients).collect();
    let (images, inspected) = images(&places, plan, gha, events).await?;
    // Each region's revision, registered at once.
    let revisions = try_join_all(places.iter().zip(&images).map(|((place, clients), image)| {
        taskdef::register_revision(
            &clients.ecs,
            &place.task_definition,
            place.container_name.as_deref(),
            image,
            &plan.load.secrets,
        )
    }))
    .await?;
    let several = places.len() > 1;
    for ((_, clients), (image, revision)) in places.iter().zip(images.iter().zip(&revisions)) {
        events.info(format!(
            "Registered {} with image {image} for container `{}`{}",
            revision.arn,
            revision.container,
            if several {
                format!(" in {}", clients.region)
            } else {
                String::new()
            }
        ));
    }
    Ok(Prepared {
        regions: all_clients
            .into_iter()
            .zip(images)
            .zip(revisions)
            .map(|((clients, image), revision)| PreparedRegion {
                clients,
                image,
                revision,
            })
            .collect(),
        inspected,
    })
}

/// The image each place's tasks run: given, or built once and pushed to every place's
/// repository (each push uploads only what that region's registry lacks).
async fn images(
    places: &[(&Place, &Clients)],
    plan: &Plan,
    gha: &Gha,
    events: &Events,
) -> Result<(Vec<String>, Vec<ScriptThreshold>)> {
    let every = |image: &str| vec![image.to_string(); places.len()];
    match &plan.image {
        ImageSource::Given(image) => Ok((every(image), Vec::new())),
        // Validation requires the generator's image on Fargate.
        ImageSource::Generator { image: None } => {
            anyhow::bail!("input `generator-image` is required to run the built-in generator")
        }
        // Tasks in private subnets without internet pull only from ECR: the action's own image is
        // pushed to the repositories that are given.
        ImageSource::Generator { image: Some(image) } => {
            let images = try_join_all(places.iter().map(|(place, clients)| async move {
                let Some(repository) = &place.ecr_repository else {
                    return Ok(image.clone());
                };
                let registry = registry(clients, repository, gha).await?;
                let pushed = image::copy_to_registry(image, &registry, repository, gha).await?;
                say_already_there(&pushed, repository, events);
                Ok::<_, anyhow::Error>(pushed.reference)
            }))
            .await?;
            Ok((images, Vec::new()))
        }
        ImageSource::Build(build) => {
            let repositories = repositories(places, "to push the built image")?;
            let engine = image::engine_for(build).await?;
            let registries = registries(places, &repositories, gha).await?;
            if let [registry] = registries.as_slice() {
                let pushed =
                    image::build_and_push(&engine, build, registry, repositories[0], gha).await?;
                say_already_there(&pushed, repositories[0], events);
                return Ok((vec![pushed.reference], Vec::new()));
            }
            let mut built = None;
            for (registry, repository) in registries.iter().zip(&repositories) {
                if !image::has_tag(&engine, registry, repository, build).await? {
                    built =
                        Some(image::build_for(&engine, build, registry, repository, gha).await?);
                    break;
                }
            }
            let images = push_everywhere(
                &engine,
                built,
                build,
                &registries,
                &repositories,
                gha,
                events,
            )
            .await?;
            Ok((images, Vec::new()))
        }
        ImageSource::Script(k6) => {
            let repositories = repositories(places, "to push a k6 script's image")?;
            let (images, thresholds) = k6_images(k6, &repositories, places, gha, events).await?;
            Ok((images, thresholds))
        }
    }
}

/// Every place's repository; validation requires one beside a build.
fn repositories<'a>(places: &[(&'a Place, &Clients)], why: &str) -> Result<Vec<&'a str>> {
    places
        .iter()
        .map(|(place, clients)| {
            place.ecr_repository.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "input `ecr-repository` is required {why} (region {})",
                    clients.region
                )
            })
        })
        .collect()
}

/// The repository checked and the registry logged in, in every place at once.
async fn registries(
    places: &[(&Place, &Clients)],
    repositories: &[&str],
    gha: &Gha,
) -> Result<Vec<RegistryLogin>> {
    try_join_all(
        places
            .iter()
            .zip(repositories)
            .map(|((_, clients), repository)| registry(clients, repository, gha)),
    )
    .await
}

async fn registry(clients: &Clients, repository: &str, gha: &Gha) -> Result<RegistryLogin> {
    let ecr = clients.ecr();
    ecr::check_repository(&ecr, repository, &clients.region).await?;
    ecr::login(&ecr, gha).await
}

/// `built` (when a registry lacked the tag) pushed to every registry that lacks it, at once.
async fn push_everywhere(
    engine: &Engine,
    built: Option<String>,
    build: &BuildPlan,
    registries: &[RegistryLogin],
    repositories: &[&str],
    gha: &Gha,
    events: &Events,
) -> Result<Vec<String>> {
    let built = built.as_deref();
    try_join_all(
        registries
            .iter()
            .zip(repositories)
            .map(|(registry, repository)| async move {
                let tagged = (build.tag.as_str(), build.revision());
                let pushed = match built {
                    Some(source) => {
                        image::push_as(engine, source, registry, repository, tagged, gha).await?
                    }
                    // Every registry has the tag: nothing was built.
                    None => image::push_as(engine, "", registry, repository, tagged, gha).await?,
                };
                say_already_there(&pushed, repository, events);
                Ok::<_, anyhow::Error>(pushed.reference)
            }),
    )
    .await
}

/// A k6 script's image: composed, built, checked by `k6 inspect` in it (a script k6 refuses
/// fails here, before anything is pushed or started), then pushed to every place's repository
/// that does not have its tag.
async fn k6_images(
    k6: &ScriptPlan,
    repositories: &[&str],
    places: &[(&Place, &Clients)],
    gha: &Gha,
    events: &Events,
) -> Result<(Vec<String>, Vec<ScriptThreshold>)> {
    let Some(action_image) = &k6.wrapper_image else {
        anyhow::bail!("input `generator-image` is required to take this action's binary from");
    };
    let engine = image::engine().await?;
    let build = image::script_build(&engine, k6, action_image).await?;
    let registries = registries(places, repositories, gha).await?;
    let built = image::build_for(&engine, &build, &registries[0], repositories[0], gha).await?;
    let thresholds = wrap::check_script_in_image(&engine, &built, k6).await?;
    if let [registry] = registries.as_slice() {
        let pushed = image::push_built(&engine, &build, registry, repositories[0], gha).await?;
        say_already_there(&pushed, repositories[0], events);
        return Ok((vec![pushed.reference], thresholds));
    }
    let images = push_everywhere(
        &engine,
        Some(built),
        &build,
        &registries,
        repositories,
        gha,
        events,
    )
    .await?;
    Ok((images, thresholds))
}

fn say_already_there(pushed: &image::Pushed, repository: &str, events: &Events) {
    if pushed.already_there {
        events.info(format!(
            "`{repository}:{}` is in ECR already (a re-run of the same commit): the tasks run it, {}; a tag is never pushed over",
            pushed.tag, pushed.reference
        ));
    }
}

/// The AWS clients of one region, or of the SDK's chain's region.
pub async fn clients(region: Option<&str>) -> Result<Clients> {
    let config = aws::sdk_config(region).await?;
    Ok(Clients::new(&config))
}
