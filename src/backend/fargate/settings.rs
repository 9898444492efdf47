//! The inputs only the Fargate backend reads: cluster, task definition, network, capacity,
//! task size, the ECR repository a built image is pushed to, and the prices of the cost estimate.

use serde::Serialize;

use super::pricing::{PRICES_ACCEPTED, PriceInput};
use crate::input_error::{BESIDE_IMAGE, Ignored, Problems};
use crate::inputs::{Inputs, given};
use crate::plan::{ImageSource, is_arn, is_name, parse_bool, split_list};

/// Task-level CPU units Fargate accepts.
const FARGATE_CPU_UNITS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];
/// awsvpc limits of RunTask's `networkConfiguration`.
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub cluster: String,
    pub task_definition: String,
    pub container_name: Option<String>,
    pub network: Network,
    pub capacity_provider: CapacityProvider,
    pub platform_version: String,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    /// Where a built image is pushed; `None` when an image is given as it is.
    pub ecr_repository: Option<String>,
    /// The `fargate-prices` input; `None`: the kept list prices.
    pub prices: Option<PriceInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CapacityProvider {
    #[serde(rename = "FARGATE")]
    Fargate,
    #[serde(rename = "FARGATE_SPOT")]
    FargateSpot,
}

fn cluster(inputs: &Inputs, problems: &mut Problems) -> Option<String> {
    problems
        .required("cluster", &inputs.cluster, "an ECS cluster name or ARN")
        .and_then(|text| {
            let ok = is_name(text, 255) || is_arn(text, "ecs", "cluster/");
            if !ok {
                problems.add(
                    "cluster",
                    text,
                    "an ECS cluster name (letters, digits, `-`, `_`) or a cluster ARN",
                );
            }
            ok.then(|| text.to_string())
        })
}

impl Settings {
    /// For the post step, which only lists and stops the run's tasks in `cluster`: nothing else
    /// of the settings is read there, so nothing else is asked of the inputs.
    pub fn for_cleanup(inputs: &Inputs, problems: &mut Problems) -> Option<Settings> {
        Some(Settings {
            cluster: cluster(inputs, problems)?,
            task_definition: String::new(),
            container_name: None,
            network: Network {
                subnets: Vec::new(),
                security_groups: Vec::new(),
                assign_public_ip: false,
            },
            capacity_provider: CapacityProvider::Fargate,
            platform_version: String::new(),
            cpu: None,
            memory: None,
            ecr_repository: None,
            prices: None,
        })
    }

    /// Reads the Fargate inputs, noting every problem; `None` when one was found.
    pub fn from_inputs(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Settings> {
        let cluster = cluster(inputs, problems);

        let task_definition = task_definition(inputs, problems);
        let container_name = problems.parse(
            "container-name",
            &inputs.container_name,
            "a container name from the task definition (letters, digits, `-`, `_`)",
            |text| is_name(text, 255).then(|| text.to_string()),
        );

        let network = network(inputs, problems);
        let capacity_provider = problems
            .parse(
                "capacity-provider",
                &inputs.capacity_provider,
                "`FARGATE` or `FARGATE_SPOT`",
                |text| match text.to_ascii_uppercase().as_str() {
                    "FARGATE" => Some(CapacityProvider::Fargate),
                    "FARGATE_SPOT" => Some(CapacityProvider::FargateSpot),
                    _ => None,
                },
            )
            .unwrap_or(CapacityProvider::Fargate);
        let platform_version = problems
            .parse(
                "platform-version",
                &inputs.platform_version,
                "`LATEST` or a version such as `1.4.0`",
                |text| (text == "LATEST" || is_version(text)).then(|| text.to_string()),
            )
            .unwrap_or_else(|| "LATEST".to_string());

        let (cpu, memory) = task_size(inputs, problems);
        let ecr_repository = ecr_repository(inputs, image, problems, ignored);
        let prices = problems.parse(
            "fargate-prices",
            &inputs.fargate_prices,
            PRICES_ACCEPTED,
            PriceInput::parse,
        );

        Some(Settings {
            cluster: cluster?,
            task_definition: task_definition?,
            container_name,
            network,
            capacity_provider,
            platform_version,
            cpu,
            memory,
            ecr_repository: ecr_repository?,
            prices,
        })
    }
}

/// `task-definition`: a family, `family:revision` or an ARN.
fn task_definition(inputs: &Inputs, problems: &mut Problems) -> Option<String> {
    problems
        .required(
            "task-definition",
            &inputs.task_definition,
            "a task definition family, `family:revision` or ARN",
        )
        .and_then(|text| {
            let ok = is_family_revision(text) || is_arn(text, "ecs", "task-definition/");
            if !ok {
                problems.add(
                    "task-definition",
                    text,
                    "a task definition family, `family:revision` (revision a whole number) or ARN",
                );
            }
            ok.then(|| text.to_string())
        })
}

/// The tasks' `awsvpc` network: subnets, security groups, a public IP or not.
fn network(inputs: &Inputs, problems: &mut Problems) -> Network {
    let subnets = problems
        .required(
            "subnets",
            &inputs.subnets,
            "one or more subnet IDs (`subnet-…`), separated by commas, spaces or newlines",
        )
        .map(split_list)
        .unwrap_or_default();
    check_ids(problems, "subnets", &subnets, "subnet-", MAX_SUBNETS);
    let security_groups = given(&inputs.security_groups)
        .map(split_list)
        .unwrap_or_default();
    check_ids(
        problems,
        "security-groups",
        &security_groups,
        "sg-",
        MAX_SECURITY_GROUPS,
    );
    let assign_public_ip = problems
        .parse(
            "assign-public-ip",
            &inputs.assign_public_ip,
            "`true` or `false`",
            parse_bool,
        )
        .unwrap_or(true);
    Network {
        subnets,
        security_groups,
        assign_public_ip,
    }
}

/// Task-level `cpu` and `memory` overrides, as Fargate accepts them.
fn task_size(inputs: &Inputs, problems: &mut Problems) -> (Option<u32>, Option<u32>) {
    let cpu = problems.parse(
        "cpu",
        &inputs.cpu,
        "task CPU units Fargate accepts: 256, 512, 1024, 2048, 4096, 8192 or 16384",
        |text| {
            text.parse::<u32>()
                .ok()
                .filter(|units| FARGATE_CPU_UNITS.contains(units))
        },
    );
    let memory = problems.parse(
        "memory",
        &inputs.memory,
        "task memory in MiB, a whole number from 512 to 122880",
        |text| {
            text.parse::<u32>()
                .ok()
                .filter(|mib| (512..=122_880).contains(mib))
        },
    );
    (cpu, memory)
}

const REPOSITORY_ACCEPTED: &str =
    "an ECR repository name: lowercase letters, digits, `.`, `_`, `-` and `/`, 2 to 256 characters";

/// The repository a built image is pushed to: required when building (a k6 script's image too),
/// ignored beside `image`,
/// optional for the built-in generator (whose image is pushed there when it is given).
/// `Some(None)` when there is nothing to push.
fn ecr_repository(
    inputs: &Inputs,
    image: Option<&ImageSource>,
    problems: &mut Problems,
    ignored: &mut Ignored,
) -> Option<Option<String>> {
    let for_k6 = if let Some(ImageSource::Script(k6)) = image {
        if k6.wrapper_image.is_none() {
            problems.add(
                "generator-image",
                "",
                "the image this action's binary is taken from for a k6 script's image, since this build of the action does not name its own",
            );
        }
        true
    } else {
        false
    };
    if !for_k6 && given(&inputs.image).is_some() {
        if given(&inputs.ecr_repository).is_some() {
            ignored.add(BESIDE_IMAGE, "ecr-repository");
        }
        return Some(None);
    }
    if let Some(ImageSource::Generator { image: None }) = image {
        problems.add(
            "generator-image",
            "",
            "the image the tasks run the built-in generator from, since there is no `image` and no Dockerfile in `context`, and this build of the action does not name its own image",
        );
    }
    if matches!(image, Some(ImageSource::Generator { .. }))
        && given(&inputs.ecr_repository).is_none()
    {
        return Some(None);
    }
    let needed = if for_k6 {
        "an ECR repository name, to push the k6 script's image to (k6, this action's binary and the script's folder)"
    } else {
        "an ECR repository name, to push the built image to (or give `image` to run an image as it is)"
    };
    let name = problems.required("ecr-repository", &inputs.ecr_repository, needed)?;
    if !is_repository_name(name) {
        problems.add("ecr-repository", name, REPOSITORY_ACCEPTED);
        return None;
    }
    Some(Some(name.to_string()))
}

/// ECR repository names: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
fn is_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len())
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}

fn check_ids(
    problems: &mut Problems,
    input: &'static str,
    ids: &[String],
    prefix: &str,
    max: usize,
) {
    for id in ids {
        let hex = id.strip_prefix(prefix).unwrap_or_default();
        if hex.len() < 8 || hex.len() > 17 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            problems.add(
                input,
                id,
                format!("IDs of the form `{prefix}0123456789abcdef0`"),
            );
        }
    }
    if ids.len() > max {
        problems.add(input, &ids.join(","), format!("at most {max} IDs"));
    }
}

fn is_family_revision(text: &str) -> bool {
    match text.split_once(':') {
        Some((family, revision)) => {
            is_name(family, 255)
                && !revision.is_empty()
                && revision.chars().all(|c| c.is_ascii_digit())
        }
        None => is_name(text, 255),
    }
}

fn is_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
}
