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
    /// Where tasks start: one place, or one a region of `regions`, in its order.
    pub places: Vec<Place>,
    pub capacity_provider: CapacityProvider,
    pub platform_version: String,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    /// The `fargate-prices` input; `None`: the kept list prices.
    pub prices: Option<PriceInput>,
}

/// What a region's tasks need: its cluster, task definition, network and repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// `None`: the run's region (`aws-region`, else the SDK's chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub cluster: String,
    pub task_definition: String,
    pub container_name: Option<String>,
    pub network: Network,
    /// Where a built image is pushed; `None` when an image is given as it is.
    pub ecr_repository: Option<String>,
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

/// The keys a region's settings may set: the inputs of the same name.
const REGION_KEYS: [&str; 7] = [
    "cluster",
    "task-definition",
    "container-name",
    "subnets",
    "security-groups",
    "assign-public-ip",
    "ecr-repository",
];

const REGION_SETTINGS_ACCEPTED: &str = "a JSON object keyed by region, each value an object of `cluster`, `task-definition`, `container-name`, `subnets`, `security-groups`, `assign-public-ip` and `ecr-repository` (strings; lists of strings for subnets and security groups; a boolean or string for assign-public-ip), such as `{\"eu-west-1\": {\"cluster\": \"lt\", \"subnets\": [\"subnet-0123456789abcdef0\"]}}`";

impl Settings {
    /// For the post step, which only lists and stops the run's tasks in each place's cluster:
    /// nothing else of the settings is read there, so nothing else is asked of the inputs.
    pub fn for_cleanup(
        inputs: &Inputs,
        regions: &[String],
        problems: &mut Problems,
    ) -> Option<Settings> {
        let places = places(inputs, regions, problems, |inputs, problems| {
            Some(Place {
                region: None,
                cluster: cluster(inputs, problems)?,
                task_definition: String::new(),
                container_name: None,
                network: Network {
                    subnets: Vec::new(),
                    security_groups: Vec::new(),
                    assign_public_ip: false,
                },
                ecr_repository: None,
            })
        })?;
        Some(Settings {
            places,
            capacity_provider: CapacityProvider::Fargate,
            platform_version: String::new(),
            cpu: None,
            memory: None,
            prices: None,
        })
    }

    /// Reads the Fargate inputs, noting every problem; `None` when one was found. With
    /// `regions`, each region's place is read from its `region-settings`, falling back to the
    /// inputs.
    pub fn from_inputs(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        regions: &[String],
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Settings> {
        let mut first = true;
        let places = places(inputs, regions, problems, |inputs, problems| {
            // Inputs ignored beside `image` are said once, not once a region.
            let mut again = Ignored::default();
            let ignored = if std::mem::take(&mut first) {
                &mut *ignored
            } else {
                &mut again
            };
            place(inputs, image, problems, ignored)
        });
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
        let prices = problems.parse(
            "fargate-prices",
            &inputs.fargate_prices,
            PRICES_ACCEPTED,
            PriceInput::parse,
        );

        Some(Settings {
            places: places?,
            capacity_provider,
            platform_version,
            cpu,
            memory,
            prices,
        })
    }
}

/// One place from the inputs (a region's, with its settings put in them).
fn place(
    inputs: &Inputs,
    image: Option<&ImageSource>,
    problems: &mut Problems,
    ignored: &mut Ignored,
) -> Option<Place> {
    let cluster = cluster(inputs, problems);
    let task_definition = task_definition(inputs, problems);
    let container_name = problems.parse(
        "container-name",
        &inputs.container_name,
        "a container name from the task definition (letters, digits, `-`, `_`)",
        |text| is_name(text, 255).then(|| text.to_string()),
    );
    let network = network(inputs, problems);
    let ecr_repository = ecr_repository(inputs, image, problems, ignored);
    Some(Place {
        region: None,
        cluster: cluster?,
        task_definition: task_definition?,
        container_name,
        network,
        ecr_repository: ecr_repository?,
    })
}

/// The places of a run: one from the inputs without `regions`; else one a region, each read by
/// `read` from the inputs with the region's `region-settings` put in them. A problem with a value
/// the region's settings gave is noted as `region-settings`, naming the region and the key; one
/// with an input a region falls back to names the input and the region.
fn places(
    inputs: &Inputs,
    regions: &[String],
    problems: &mut Problems,
    mut read: impl FnMut(&Inputs, &mut Problems) -> Option<Place>,
) -> Option<Vec<Place>> {
    let given_settings = given(&inputs.region_settings);
    if regions.is_empty() {
        if let Some(text) = given_settings {
            problems.add(
                "region-settings",
                text,
                "no region settings without `regions`, which names the regions they are for",
            );
        }
        return read(inputs, problems).map(|place| vec![place]);
    }
    let settings = match given_settings {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) | Err(_) => {
                problems.add("region-settings", text, REGION_SETTINGS_ACCEPTED);
                return None;
            }
        },
    };
    for region in settings.keys() {
        if !regions.contains(region) {
            problems.add(
                "region-settings",
                &format!("{region}: …"),
                format!(
                    "settings only for the regions `regions` names ({}); `{region}` is not one of them",
                    regions.join(", ")
                ),
            );
        }
    }
    let mut places = Vec::with_capacity(regions.len());
    let mut whole = true;
    for region in regions {
        let mut own = inputs.clone();
        let mut set: Vec<&str> = Vec::new();
        if let Some(value) = settings.get(region) {
            let Some(object) = value.as_object() else {
                problems.add(
                    "region-settings",
                    &format!("{region}: {value}"),
                    REGION_SETTINGS_ACCEPTED,
                );
                whole = false;
                continue;
            };
            for (key, value) in object {
                let Some(key) = REGION_KEYS.iter().find(|known| **known == key.as_str()) else {
                    problems.add(
                        "region-settings",
                        &format!("{region}: {key}"),
                        format!("keys among {}", REGION_KEYS.join(", ")),
                    );
                    whole = false;
                    continue;
                };
                let Some(text) = setting_text(value) else {
                    problems.add(
                        "region-settings",
                        &format!("{region}: {key}: {value}"),
                        "a string, a list of strings or a boolean",
                    );
                    whole = false;
                    continue;
                };
                set.push(key);
                let field = match *key {
                    "cluster" => &mut own.cluster,
                    "task-definition" => &mut own.task_definition,
                    "container-name" => &mut own.container_name,
                    "subnets" => &mut own.subnets,
                    "security-groups" => &mut own.security_groups,
                    "assign-public-ip" => &mut own.assign_public_ip,
                    _ => &mut own.ecr_repository,
                };
                *field = Some(text);
            }
        }
        let mut found = Problems::default();
        let place = read(&own, &mut found);
        for mut error in found.into_errors() {
            if set.contains(&error.input) {
                error.given = format!("{region}: {}: {}", error.input, error.given);
                error.input = "region-settings";
            } else if REGION_KEYS.contains(&error.input) {
                error.accepted = format!(
                    "{} (for region {region}: set `{}` in its `region-settings` or give the input)",
                    error.accepted, error.input
                );
            }
            problems.push(error);
        }
        match place {
            Some(place) => places.push(Place {
                region: Some(region.clone()),
                ..place
            }),
            None => whole = false,
        }
    }
    whole.then_some(places)
}

/// A region setting as the input of the same name would hold it.
fn setting_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|items| items.join(",")),
        _ => None,
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
