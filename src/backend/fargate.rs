//! Tasks on AWS Fargate: RunTask, DescribeTasks, StopTask, ListTasks.

use std::sync::Arc;

use anyhow::Result;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskOverride,
};

use super::{Backend, Snapshot, Start};
use crate::aws::AwsContext;
use crate::outcome::{ContainerState, StoppedTask};
use crate::plan::{CapacityProvider, Plan, TaskSpec};
use crate::taskdef::Revision;

/// DescribeTasks takes at most 100 tasks a call.
pub const DESCRIBE_BATCH: usize = 100;

#[derive(Clone)]
pub struct Fargate {
    inner: Arc<Inner>,
}

struct Inner {
    ecs: aws_sdk_ecs::Client,
    region: String,
    plan: Plan,
    /// `None` for a backend that only looks after tasks already started (cleanup).
    revision: Option<Revision>,
}

impl Fargate {
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        region: String,
        plan: Plan,
        revision: Option<Revision>,
    ) -> Self {
        Fargate {
            inner: Arc::new(Inner {
                ecs,
                region,
                plan,
                revision,
            }),
        }
    }

    fn revision(&self) -> Result<&Revision> {
        self.inner.revision.as_ref().ok_or_else(|| {
            anyhow::anyhow!("no task definition revision was registered for this run")
        })
    }

    fn cluster(&self) -> &str {
        &self.inner.plan.cluster
    }

    fn network(&self) -> Result<NetworkConfiguration> {
        let network = &self.inner.plan.network;
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(network.subnets.clone()))
            // Omitted rather than empty: ECS then uses the VPC's default security group.
            .set_security_groups(
                (!network.security_groups.is_empty()).then(|| network.security_groups.clone()),
            )
            .assign_public_ip(if network.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()?;
        Ok(NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build())
    }

    fn overrides(&self, spec: &TaskSpec, revision: &Revision) -> TaskOverride {
        let plan = &self.inner.plan;
        let environment = spec
            .environment
            .iter()
            .map(|var| {
                KeyValuePair::builder()
                    .name(&var.name)
                    .value(&var.value)
                    .build()
            })
            .collect();
        let container = ContainerOverride::builder()
            .name(&revision.container)
            .set_environment(Some(environment))
            .set_command(plan.command.clone())
            .build();
        TaskOverride::builder()
            .container_overrides(container)
            .set_cpu(plan.cpu.map(|units| units.to_string()))
            .set_memory(plan.memory.map(|mib| mib.to_string()))
            .build()
    }

    fn tags(&self, spec: &TaskSpec) -> Vec<Tag> {
        let identity = &self.inner.plan.identity;
        let mut tags = Vec::new();
        for tag in &identity.tags {
            tags.push(Tag::builder().key(&tag.key).value(&tag.value).build());
        }
        tags.push(
            Tag::builder()
                .key("ecs-loadtest:task-index")
                .value(spec.index.to_string())
                .build(),
        );
        tags
    }
}

impl Backend for Fargate {
    async fn start(&self, spec: &TaskSpec, token: &str) -> Result<Start> {
        let plan = &self.inner.plan;
        let revision = self.revision()?;
        // RunTask applies one set of overrides to every task of a call, and each task has its own
        // TASK_INDEX and share of the load, so every call starts exactly one task.
        let mut request = self
            .inner
            .ecs
            .run_task()
            .cluster(self.cluster())
            .task_definition(&revision.arn)
            .count(1)
            .platform_version(&plan.platform_version)
            .network_configuration(self.network()?)
            .overrides(self.overrides(spec, revision))
            .started_by(&plan.identity.started_by)
            .set_tags(Some(self.tags(spec)))
            .client_token(token);
        request = match plan.capacity_provider {
            // A launch type needs no capacity provider associated with the cluster.
            CapacityProvider::Fargate => request.launch_type(LaunchType::Fargate),
            CapacityProvider::FargateSpot => request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()?,
            ),
        };
        let answer = request.send().await.aws_context(|| {
            format!(
                "RunTask of task {} in cluster `{}`",
                spec.index + 1,
                self.cluster()
            )
        })?;
        if let Some(arn) = answer.tasks().iter().find_map(|task| task.task_arn()) {
            return Ok(Start::Started {
                id: arn.to_string(),
            });
        }
        let failure = answer.failures().first();
        Ok(Start::Refused {
            arn: failure
                .and_then(|failure| failure.arn())
                .map(str::to_string),
            reason: failure
                .and_then(|failure| failure.reason())
                .unwrap_or("RunTask started no task and gave no reason")
                .to_string(),
            detail: failure
                .and_then(|failure| failure.detail())
                .map(str::to_string),
        })
    }

    async fn describe(&self, ids: &[String]) -> Result<Vec<Snapshot>> {
        let mut snapshots = Vec::with_capacity(ids.len());
        for batch in ids.chunks(DESCRIBE_BATCH) {
            let answer = self
                .inner
                .ecs
                .describe_tasks()
                .cluster(self.cluster())
                .set_tasks(Some(batch.to_vec()))
                .send()
                .await
                .aws_context(|| {
                    format!(
                        "DescribeTasks of {} tasks in cluster `{}`",
                        batch.len(),
                        self.cluster()
                    )
                })?;
            for task in answer.tasks() {
                snapshots.push(self.snapshot(task));
            }
        }
        Ok(snapshots)
    }

    async fn stop(&self, id: &str, reason: &str) -> Result<()> {
        // StopTask takes a reason of at most 255 characters.
        let reason: String = reason.chars().take(255).collect();
        self.inner
            .ecs
            .stop_task()
            .cluster(self.cluster())
            .task(id)
            .reason(reason)
            .send()
            .await
            .aws_context(|| {
                format!(
                    "StopTask of {} in cluster `{}`",
                    task_id(id),
                    self.cluster()
                )
            })?;
        Ok(())
    }

    async fn running_tasks_of_run(&self) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut pages = self
            .inner
            .ecs
            .list_tasks()
            .cluster(self.cluster())
            .started_by(&self.inner.plan.identity.started_by)
            .desired_status(DesiredStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.aws_context(|| {
                format!(
                    "ListTasks started by `{}` in cluster `{}`",
                    self.inner.plan.identity.started_by,
                    self.cluster()
                )
            })?;
            arns.extend(page.task_arns().iter().cloned());
        }
        Ok(arns)
    }

    fn task_url(&self, id: &str) -> Option<String> {
        let region = &self.inner.region;
        let cluster = self.cluster().rsplit('/').next().unwrap_or(self.cluster());
        Some(format!(
            "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{}/configuration?region={region}",
            task_id(id)
        ))
    }
}

impl Fargate {
    fn snapshot(&self, task: &aws_sdk_ecs::types::Task) -> Snapshot {
        let status = task.last_status().unwrap_or("UNKNOWN").to_string();
        let stopped = (status == "STOPPED").then(|| StoppedTask {
            stop_code: task.stop_code().map(|code| code.as_str().to_string()),
            stopped_reason: task.stopped_reason().map(str::to_string),
            containers: task
                .containers()
                .iter()
                .map(|container| {
                    let name = container.name().unwrap_or_default().to_string();
                    ContainerState {
                        essential: self
                            .inner
                            .revision
                            .as_ref()
                            .and_then(|revision| revision.essential.get(&name).copied())
                            .unwrap_or(true),
                        exit_code: container.exit_code(),
                        reason: container.reason().map(str::to_string),
                        name,
                    }
                })
                .collect(),
        });
        let ended = task.stopped_at().or(task.execution_stopped_at());
        let run_seconds = match (task.started_at(), ended) {
            (Some(started), Some(ended)) => Some(ended.secs() - started.secs()),
            _ => None,
        };
        Snapshot {
            id: task.task_arn().unwrap_or_default().to_string(),
            status,
            stopped,
            run_seconds,
        }
    }
}

/// The task ID: the last part of its ARN.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
