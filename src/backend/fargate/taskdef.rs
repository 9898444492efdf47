//! The base task definition and the revision this run registers with its image.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ContainerDefinition, Secret, TaskDefinition, TaskDefinitionField};

use super::log_location::LogLocation;
use crate::aws::{AwsContext, AwsError, persist};
use crate::plan::SecretRef;

/// A registered task definition revision and what the run needs to know about its containers.
#[derive(Debug, Clone)]
pub struct Revision {
    pub arn: String,
    /// The container whose image was replaced, whose exit code counts.
    pub container: String,
    /// Every container's name and whether it is essential (DescribeTasks does not say).
    pub essential: BTreeMap<String, bool>,
    /// Where the chosen container's logs go, or why they cannot be followed.
    pub logs: Result<LogLocation, String>,
    /// The task size it asks for (CPU units, MiB), as ECS writes them.
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// Runs on ARM (Graviton), which Fargate prices apart.
    pub arm: bool,
}

/// Which container the run is about: the named one, else the single essential container.
pub fn choose_container(
    definitions: &[ContainerDefinition],
    wanted: Option<&str>,
) -> Result<String, String> {
    let names: Vec<&str> = definitions
        .iter()
        .filter_map(|definition| definition.name())
        .collect();
    if let Some(wanted) = wanted {
        return if names.contains(&wanted) {
            Ok(wanted.to_string())
        } else {
            Err(format!(
                "input `container-name`: got `{wanted}`; the task definition has {}",
                quoted_list(&names)
            ))
        };
    }
    let essential: Vec<&str> = definitions
        .iter()
        .filter(|definition| is_essential(definition))
        .filter_map(|definition| definition.name())
        .collect();
    match essential.as_slice() {
        [single] => Ok(single.to_string()),
        [] => Err(format!(
            "the task definition has no essential container; set `container-name` to one of {}",
            quoted_list(&names)
        )),
        several => Err(format!(
            "the task definition has {} essential containers ({}); set `container-name` to the one that runs the test",
            several.len(),
            quoted_list(several)
        )),
    }
}

/// ECS treats a container without `essential` as essential.
fn is_essential(definition: &ContainerDefinition) -> bool {
    definition.essential().unwrap_or(true)
}

fn quoted_list(names: &[&str]) -> String {
    if names.is_empty() {
        return "no containers".to_string();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The container definitions with `container`'s image replaced and `secrets` added to its own
/// (one of the same name replaced): ECS reads each value with the execution role when a task
/// starts, so no request of the action's holds it.
pub fn for_run(
    definitions: &[ContainerDefinition],
    container: &str,
    image: &str,
    secrets: &[SecretRef],
) -> anyhow::Result<Vec<ContainerDefinition>> {
    let ours = secrets
        .iter()
        .map(|secret| {
            Secret::builder()
                .name(&secret.name)
                .value_from(&secret.value_from)
                .build()
                .map_err(|error| anyhow::anyhow!("input `secrets`: `{}`: {error}", secret.name))
        })
        .collect::<anyhow::Result<Vec<Secret>>>()?;
    Ok(definitions
        .iter()
        .cloned()
        .map(|mut definition| {
            if definition.name() == Some(container) {
                definition.image = Some(image.to_string());
                if !ours.is_empty() {
                    let mut all: Vec<Secret> = definition
                        .secrets
                        .take()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|kept| !ours.iter().any(|our| our.name == kept.name))
                        .collect();
                    all.extend(ours.iter().cloned());
                    definition.secrets = Some(all);
                }
            }
            definition
        })
        .collect())
}

/// Describes `task_definition` (with its tags) and registers a new revision of its family that is
/// identical but for the image of the chosen container and the `secrets` it reads.
pub async fn register_revision(
    ecs: &aws_sdk_ecs::Client,
    task_definition: &str,
    container_name: Option<&str>,
    image: &str,
    secrets: &[SecretRef],
) -> anyhow::Result<Revision> {
    let request = ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .include(TaskDefinitionField::Tags);
    let described = persist(|| async {
        request
            .clone()
            .send()
            .await
            .aws_context(|| format!("DescribeTaskDefinition of `{task_definition}`"))
    })
    .await?;
    let Some(base) = described.task_definition() else {
        anyhow::bail!("DescribeTaskDefinition of `{task_definition}` returned no task definition");
    };
    let definitions = base.container_definitions();
    let container = choose_container(definitions, container_name)
        .map_err(|message| anyhow::anyhow!("task definition `{task_definition}`: {message}"))?;
    if !secrets.is_empty() && base.execution_role_arn().is_none() {
        anyhow::bail!(
            "input `secrets`: task definition `{task_definition}` has no execution role, which ECS needs to read secrets when a task starts; give it one that may read them (infra/terraform's does, under `secrets_prefix`)"
        );
    }
    let logs = definitions
        .iter()
        .find(|definition| definition.name() == Some(container.as_str()))
        .map_or_else(
            || Err(format!("container `{container}` is not defined")),
            LogLocation::of,
        );
    let essential = definitions
        .iter()
        .filter_map(|definition| Some((definition.name()?.to_string(), is_essential(definition))))
        .collect();

    let request = registration(
        ecs,
        base,
        for_run(definitions, &container, image, secrets)?,
        described.tags(),
    );
    // A repeat after a lost answer registers one more identical revision; the run uses the last.
    let registered = persist(|| async {
        request.clone().send().await.aws_context(|| {
            format!(
                "RegisterTaskDefinition of family `{}`",
                base.family().unwrap_or(task_definition)
            )
        })
    })
    .await?;
    let arn = registered
        .task_definition()
        .and_then(TaskDefinition::task_definition_arn)
        .ok_or_else(|| AwsError {
            operation: "RegisterTaskDefinition".into(),
            code: None,
            message: "the answer holds no task definition ARN".into(),
            transient: false,
        })?
        .to_string();
    Ok(Revision {
        arn,
        container,
        essential,
        logs,
        cpu: base.cpu().map(str::to_string),
        memory: base.memory().map(str::to_string),
        arm: base
            .runtime_platform()
            .and_then(|platform| platform.cpu_architecture())
            .is_some_and(|architecture| architecture.as_str() == "ARM64"),
    })
}

/// Every registrable field of `base`, copied; the read-only ones (ARN, revision, status,
/// compatibilities, requiresAttributes, registeredAt/By, deregisteredAt) are left out, and so
/// are inference accelerators, which ECS no longer accepts.
fn registration(
    ecs: &aws_sdk_ecs::Client,
    base: &TaskDefinition,
    container_definitions: Vec<ContainerDefinition>,
    tags: &[aws_sdk_ecs::types::Tag],
) -> aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder
{
    // RegisterTaskDefinition refuses an empty tag list, so none is sent when there are none.
    let tags = (!tags.is_empty()).then(|| tags.to_vec());
    ecs.register_task_definition()
        .set_family(base.family.clone())
        .set_task_role_arn(base.task_role_arn.clone())
        .set_execution_role_arn(base.execution_role_arn.clone())
        .set_network_mode(base.network_mode.clone())
        .set_container_definitions(Some(container_definitions))
        .set_volumes(base.volumes.clone())
        .set_placement_constraints(base.placement_constraints.clone())
        .set_requires_compatibilities(base.requires_compatibilities.clone())
        .set_cpu(base.cpu.clone())
        .set_memory(base.memory.clone())
        .set_tags(tags)
        .set_pid_mode(base.pid_mode.clone())
        .set_ipc_mode(base.ipc_mode.clone())
        .set_proxy_configuration(base.proxy_configuration.clone())
        .set_ephemeral_storage(base.ephemeral_storage.clone())
        .set_runtime_platform(base.runtime_platform.clone())
        .set_enable_fault_injection(base.enable_fault_injection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, essential: Option<bool>) -> ContainerDefinition {
        ContainerDefinition::builder()
            .name(name)
            .image("old")
            .set_essential(essential)
            .build()
    }

    #[test]
    fn the_single_essential_container_is_chosen() {
        let definitions = [
            container("log-router", Some(false)),
            container("tester", None),
        ];
        assert_eq!(choose_container(&definitions, None).unwrap(), "tester");
    }

    #[test]
    fn ambiguous_or_unknown_names_list_the_candidates() {
        let definitions = [
            container("tester", Some(true)),
            container("proxy", Some(true)),
        ];
        let error = choose_container(&definitions, None).unwrap_err();
        assert!(
            error.contains("2 essential containers (`tester`, `proxy`)"),
            "{error}"
        );
        let error = choose_container(&definitions, Some("k6")).unwrap_err();
        assert!(
            error.contains("got `k6`") && error.contains("`tester`, `proxy`"),
            "{error}"
        );
        assert_eq!(
            choose_container(&definitions, Some("proxy")).unwrap(),
            "proxy"
        );
        let error = choose_container(&[container("sidecar", Some(false))], None).unwrap_err();
        assert!(
            error.contains("no essential container") && error.contains("`sidecar`"),
            "{error}"
        );
    }

    #[test]
    fn only_the_chosen_image_changes() {
        let definitions = [container("tester", None), container("proxy", Some(false))];
        let replaced = for_run(&definitions, "tester", "new", &[]).unwrap();
        assert_eq!(replaced[0].image(), Some("new"));
        assert_eq!(replaced[0].secrets, None);
        assert_eq!(replaced[1].image(), Some("old"));
        assert_eq!(replaced[1], definitions[1]);
    }

    #[test]
    fn secrets_join_the_chosen_containers_own() {
        let mut tester = container("tester", None);
        let secret = |name: &str, from: &str| {
            Secret::builder()
                .name(name)
                .value_from(from)
                .build()
                .unwrap()
        };
        tester.secrets = Some(vec![
            secret("KEPT", "arn:kept"),
            secret("API_TOKEN", "arn:old"),
        ]);
        let ours = [SecretRef {
            name: "API_TOKEN".into(),
            value_from: "arn:new".into(),
        }];
        let replaced = for_run(
            &[tester, container("proxy", Some(false))],
            "tester",
            "new",
            &ours,
        )
        .unwrap();
        let names: Vec<(&str, &str)> = replaced[0]
            .secrets()
            .iter()
            .map(|secret| (secret.name.as_str(), secret.value_from.as_str()))
            .collect();
        assert_eq!(names, [("KEPT", "arn:kept"), ("API_TOKEN", "arn:new")]);
        assert_eq!(replaced[1].secrets, None);
    }
}
