//! Tasks on AWS Fargate: the image pushed to ECR, a task definition revision, RunTask,
//! DescribeTasks, StopTask, ListTasks, and the tasks' logs in CloudWatch Logs.

mod classify;
mod cloudwatch;
mod ecr;
mod log_location;
mod prepare;
mod pricing;
mod rate;
mod settings;
mod taskdef;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Result;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    DesiredStatus, KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskField, TaskOverride,
};

#[cfg(test)]
pub use settings::Network;
pub use settings::Settings;

use super::{Backend, Resource, Snapshot, Start};
use crate::aws::{AwsContext, Clients, persist};
use crate::background::Background;
use crate::cost::{Prices, Usage};
use crate::event::Events;
use crate::gha::Gha;
use crate::input_error::{Ignored, Problems};
use crate::inputs::Inputs;
use crate::outcome::StopCause;
use crate::plan::{ImageSource, Plan, ScriptPlan, TaskSpec};
use crate::task::TaskLinks;
use crate::workflow::Reach;
use crate::wrap::ScriptThreshold;
use classify::{ContainerState, StoppedTask, classify};
use cloudwatch::CloudWatchLogs;
use pricing::Listed;
use rate::RateLimiter;
pub use settings::CapacityProvider;
use taskdef::Revision;

/// DescribeTasks takes at most 100 tasks a call.
const DESCRIBE_BATCH: usize = 100;
/// Fargate bills a task for at least a minute.
const BILLED_AT_LEAST_SECONDS: f64 = 60.0;
/// Fargate's RunTask quota: 20 calls a second, burst and sustained, per account and region; the
/// task launch quota (a bucket of 100 refilled at 20 a second) allows as much with one task a
/// call ("AWS Fargate throttling quotas",
/// <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html>). A launch
/// paced to it is not throttled into failed starts; 1,000 tasks take about 50 s.
const RUN_TASK_BURST: u32 = 20;
const RUN_TASK_PER_SECOND: f64 = 20.0;
/// The tag that names the invocation that started a task.
const INVOCATION_TAG: &str = "ecs-loadtest:invocation";

#[derive(Clone)]
pub struct Fargate {
    inner: Arc<Inner>,
}

struct Inner {
    clients: Clients,
    settings: Settings,
    plan: Plan,
    /// `None` for a backend that only looks after tasks already started (cleanup).
    prepared: Option<(String, Revision)>,
    /// A k6 script's thresholds, read by `k6 inspect` in the image `prepare` built.
    inspected: Vec<ScriptThreshold>,
    /// Which of the run's tasks `leftovers` finds.
    reach: Reach,
    /// Tasks this run stopped itself, and why: such a task ends as timed out or cancelled,
    /// whatever its container reported.
    stopped_by_us: Mutex<HashMap<String, StopCause>>,
    /// Paces RunTask (one task a call) to Fargate's documented quota.
    starts: tokio::sync::Mutex<RateLimiter>,
    /// When the first RunTask was sent (epoch ms): no task of the run logs before it. The logs
    /// are followed from then, not from when following began: a launch slowed by throttling
    /// or paced over a thousand tasks ends long after its first tasks started writing.
    first_start_ms: OnceLock<i64>,
    /// The region's prices from the AWS Price List API, asked for while the tasks start (`None`:
    /// not asked, as when the `fargate-prices` input gives them).
    listed: Mutex<Option<Background<Result<Listed, String>>>>,
}

impl Fargate {
    fn new(
        clients: Clients,
        settings: Settings,
        plan: &Plan,
        prepared: Option<(String, Revision)>,
        inspected: Vec<ScriptThreshold>,
        reach: Reach,
    ) -> Self {
        Fargate {
            inner: Arc::new(Inner {
                clients,
                settings,
                plan: plan.clone(),
                prepared,
                inspected,
                reach,
                stopped_by_us: Mutex::new(HashMap::new()),
                starts: tokio::sync::Mutex::new(RateLimiter::bucket(
                    RUN_TASK_BURST,
                    RUN_TASK_PER_SECOND,
                )),
                first_start_ms: OnceLock::new(),
                listed: Mutex::new(None),
            }),
        }
    }

    /// Asks the Price List API for the region's Fargate prices in the background.
    fn ask_for_prices(&self) {
        let client = self.inner.clients.pricing();
        let region = self.region().to_string();
        let asking = Background::spawn(async move { pricing::listed(&client, &region).await });
        if let Ok(mut listed) = self.inner.listed.lock() {
            *listed = Some(asking);
        }
    }

    /// Those of `arns` that this invocation started, by their tag: ListTasks filters by
    /// `startedBy` only, which every job of a workflow run shares.
    async fn of_invocation(&self, arns: Vec<String>) -> Result<Vec<String>> {
        let invocation = &self.inner.plan.identity.invocation;
        let mut own = Vec::new();
        for batch in arns.chunks(DESCRIBE_BATCH) {
            let request = self
                .inner
                .clients
                .ecs
                .describe_tasks()
                .cluster(self.cluster())
                .set_tasks(Some(batch.to_vec()))
                .include(TaskField::Tags);
            let answer = persist(|| async {
                request.clone().send().await.aws_context(|| {
                    format!(
                        "DescribeTasks (with tags) of {} tasks in cluster `{}`",
                        batch.len(),
                        self.cluster()
                    )
                })
            })
            .await?;
            own.extend(
                answer
                    .tasks()
                    .iter()
                    .filter(|task| {
                        task.tags().iter().any(|tag| {
                            tag.key() == Some(INVOCATION_TAG) && tag.value() == Some(invocation)
                        })
                    })
                    .filter_map(|task| task.task_arn().map(str::to_string)),
            );
        }
        Ok(own)
    }

    fn revision(&self) -> Result<&Revision> {
        self.inner
            .prepared
            .as_ref()
            .map(|(_, revision)| revision)
            .ok_or_else(|| {
                anyhow::anyhow!("no task definition revision was registered for this run")
            })
    }

    fn cluster(&self) -> &str {
        &self.inner.settings.cluster
    }

    fn region(&self) -> &str {
        &self.inner.clients.region
    }

    fn network(&self) -> Result<NetworkConfiguration> {
        let network = &self.inner.settings.network;
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
        let settings = &self.inner.settings;
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
            .set_command(self.inner.plan.load.command.clone())
            .build();
        TaskOverride::builder()
            .container_overrides(container)
            .set_cpu(settings.cpu.map(|units| units.to_string()))
            .set_memory(settings.memory.map(|mib| mib.to_string()))
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
    type Settings = Settings;
    type Logs = CloudWatchLogs;
    const SERVICE: &'static str = "ECS";
    /// Fargate tasks commonly reach RUNNING 30 to 60 s after RunTask, more with a large image to
    /// pull.
    const DEFAULT_START_DELAY: std::time::Duration = std::time::Duration::from_secs(90);

    fn settings(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Settings> {
        Settings::from_inputs(inputs, image, problems, ignored)
    }

    fn cleanup_settings(inputs: &Inputs, problems: &mut Problems) -> Option<Settings> {
        Settings::for_cleanup(inputs, problems)
    }

    fn describe(settings: &Settings) -> String {
        format!(
            "cluster `{}` · task definition `{}`",
            settings.cluster, settings.task_definition
        )
    }

    async fn prepare(settings: Settings, plan: &Plan, gha: &Gha, events: &Events) -> Result<Self> {
        let prepared = prepare::prepare(&settings, plan, gha, events).await?;
        let fargate = Fargate::new(
            prepared.clients,
            settings,
            plan,
            Some((prepared.image, prepared.revision)),
            prepared.inspected,
            Reach::Invocation,
        );
        // Only a run that is waited for reports a cost.
        if plan.wait && fargate.inner.settings.prices.is_none() {
            fargate.ask_for_prices();
        }
        Ok(fargate)
    }

    async fn attach(settings: Settings, plan: &Plan) -> Result<Self> {
        let clients = prepare::clients(plan).await?;
        let reach = plan.identity.cleanup_reach;
        Ok(Fargate::new(
            clients,
            settings,
            plan,
            None,
            Vec::new(),
            reach,
        ))
    }

    fn place(&self) -> String {
        format!("in cluster `{}`", self.cluster())
    }

    fn resources(&self) -> Vec<Resource> {
        let Some((image, revision)) = &self.inner.prepared else {
            return Vec::new();
        };
        vec![
            Resource {
                output: "image",
                label: "Image",
                value: image.clone(),
            },
            Resource {
                output: "task-definition-arn",
                label: "task definition",
                value: revision.arn.clone(),
            },
        ]
    }

    async fn start(&self, spec: &TaskSpec, token: &str) -> Result<Start> {
        let settings = &self.inner.settings;
        let revision = self.revision()?;
        // RunTask applies one set of overrides to every task of a call, and each task has its own
        // TASK_INDEX and share of the load, so every call starts exactly one task.
        let mut request = self
            .inner
            .clients
            .ecs
            .run_task()
            .cluster(self.cluster())
            .task_definition(&revision.arn)
            .count(1)
            .platform_version(&settings.platform_version)
            .network_configuration(self.network()?)
            .overrides(self.overrides(spec, revision))
            .started_by(&self.inner.plan.identity.started_by)
            .set_tags(Some(self.tags(spec)))
            .client_token(token);
        request = match settings.capacity_provider {
            // A launch type needs no capacity provider associated with the cluster.
            CapacityProvider::Fargate => request.launch_type(LaunchType::Fargate),
            CapacityProvider::FargateSpot => request.capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()?,
            ),
        };
        self.inner.first_start_ms.get_or_init(cloudwatch::epoch_ms);
        // Sent again, with the same client token, while ECS answers with transient errors: a
        // request whose answer was lost started its task, and ECS answers its repeat with it.
        let answer = persist(|| async {
            self.inner.starts.lock().await.acquire().await;
            request.clone().send().await.aws_context(|| {
                format!(
                    "RunTask of task {} in cluster `{}`",
                    spec.index + 1,
                    self.cluster()
                )
            })
        })
        .await?;
        if let Some(arn) = answer.tasks().iter().find_map(|task| task.task_arn()) {
            return Ok(Start::Started {
                id: arn.to_string(),
            });
        }
        let failure = answer.failures().first();
        let arn = failure.and_then(|failure| failure.arn());
        let reason = failure
            .and_then(|failure| failure.reason())
            .unwrap_or("RunTask started no task and gave no reason");
        let detail = failure.and_then(|failure| failure.detail());
        Ok(Start::Refused {
            by: "RunTask".to_string(),
            reason: format!(
                "{}reason {reason}{}",
                arn.map(|arn| format!("{arn}: ")).unwrap_or_default(),
                detail
                    .map(|detail| format!(", detail {detail}"))
                    .unwrap_or_default()
            ),
        })
    }

    async fn poll(&self, ids: &[String]) -> Result<Vec<Snapshot>> {
        let mut snapshots = Vec::with_capacity(ids.len());
        for batch in ids.chunks(DESCRIBE_BATCH) {
            let request = self
                .inner
                .clients
                .ecs
                .describe_tasks()
                .cluster(self.cluster())
                .set_tasks(Some(batch.to_vec()));
            let answer = persist(|| async {
                request.clone().send().await.aws_context(|| {
                    format!(
                        "DescribeTasks of {} tasks in cluster `{}`",
                        batch.len(),
                        self.cluster()
                    )
                })
            })
            .await?;
            for task in answer.tasks() {
                snapshots.push(self.snapshot(task));
            }
        }
        Ok(snapshots)
    }

    async fn stop(&self, id: &str, cause: StopCause, reason: &str) -> Result<()> {
        // Noted first: the task may be reported STOPPED before StopTask answers.
        self.inner
            .stopped_by_us
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id.to_string(), cause);
        // StopTask takes a reason of at most 255 characters.
        let reason: String = reason.chars().take(255).collect();
        let request = self
            .inner
            .clients
            .ecs
            .stop_task()
            .cluster(self.cluster())
            .task(id)
            .reason(reason);
        persist(|| async {
            request.clone().send().await.aws_context(|| {
                format!(
                    "StopTask of {} in cluster `{}`",
                    self.short_id(id),
                    self.cluster()
                )
            })
        })
        .await?;
        Ok(())
    }

    async fn leftovers(&self) -> Result<Vec<String>> {
        let arns = self.marked(&self.inner.plan.identity.started_by).await?;
        match self.inner.reach {
            Reach::Run => Ok(arns),
            Reach::Invocation => self.of_invocation(arns).await,
        }
    }

    async fn marked(&self, mark: &str) -> Result<Vec<String>> {
        let request = self
            .inner
            .clients
            .ecs
            .list_tasks()
            .cluster(self.cluster())
            .started_by(mark)
            .desired_status(DesiredStatus::Running);
        // A listing cut short by a transient error is listed again from its first page.
        let arns = persist(|| async {
            let mut arns = Vec::new();
            let mut pages = request.clone().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.aws_context(|| {
                    format!(
                        "ListTasks started by `{mark}` in cluster `{}`",
                        self.cluster()
                    )
                })?;
                arns.extend(page.task_arns().iter().cloned());
            }
            Ok(arns)
        })
        .await?;
        Ok(arns)
    }

    /// Fargate tasks leave nothing to remove: stopped tasks are ECS's to forget.
    async fn release(&self, _events: &Events) {}

    async fn script_thresholds(&self, _k6: &ScriptPlan) -> Result<Vec<ScriptThreshold>> {
        Ok(self.inner.inspected.clone())
    }

    fn log_source(&self) -> Result<CloudWatchLogs, String> {
        let location = self
            .revision()
            .map_err(|error| error.to_string())?
            .logs
            .clone()?;
        Ok(CloudWatchLogs {
            client: self.inner.clients.logs(location.region.as_deref()),
            location,
            since_ms: self.inner.first_start_ms.get().copied(),
        })
    }

    async fn prices(&self) -> Option<Prices> {
        let asking = self
            .inner
            .listed
            .lock()
            .ok()
            .and_then(|mut asking| asking.take());
        let listed = match asking {
            // The ask ends by itself within `LISTED_WITHIN`.
            Some(asking) => asking.finish().await.ok(),
            None => None,
        };
        Some(pricing::prices(
            self.inner.settings.prices.as_ref(),
            listed.as_ref(),
            Some(self.region()),
        ))
    }

    fn links(&self, id: &str) -> TaskLinks {
        let region = self.region();
        let cluster = self.cluster().rsplit('/').next().unwrap_or(self.cluster());
        let task_id = self.short_id(id);
        TaskLinks {
            console: Some(format!(
                "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}"
            )),
            logs: self
                .revision()
                .ok()
                .and_then(|revision| revision.logs.as_ref().ok())
                .map(|location| location.console_url(region, task_id)),
        }
    }

    /// The task ID: the last part of its ARN.
    fn short_id<'a>(&self, id: &'a str) -> &'a str {
        id.rsplit('/').next().unwrap_or(id)
    }
}

impl Fargate {
    fn snapshot(&self, task: &aws_sdk_ecs::types::Task) -> Snapshot {
        let status = task.last_status().unwrap_or("UNKNOWN").to_string();
        let id = task.task_arn().unwrap_or_default().to_string();
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
                            .revision()
                            .ok()
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
        let stopped_by_us = self
            .inner
            .stopped_by_us
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&id)
            .copied();
        let main_container = self
            .revision()
            .map(|revision| revision.container.as_str())
            .unwrap_or_default();
        let usage = ended.and_then(|ended| self.usage(task, ended));
        Snapshot {
            outcome: stopped.map(|stopped| classify(&stopped, main_container, stopped_by_us)),
            id,
            status,
            run_seconds,
            usage,
        }
    }

    /// What Fargate bills for an ended task: its size (CPU units and MiB, from the task, else
    /// the overrides, else the revision) for the seconds from the start of its image pull (else
    /// its start) to its stop, rounded up, at least a minute.
    fn usage(
        &self,
        task: &aws_sdk_ecs::types::Task,
        ended: &aws_sdk_ecs::primitives::DateTime,
    ) -> Option<Usage> {
        let revision = self.revision().ok();
        let size = |from_task: Option<&str>, set: Option<u32>, from_revision: Option<&String>| {
            from_task
                .and_then(|text| text.parse::<f64>().ok())
                .or(set.map(f64::from))
                .or(from_revision.and_then(|text| text.parse::<f64>().ok()))
        };
        let cpu = size(
            task.cpu(),
            self.inner.settings.cpu,
            revision.and_then(|revision| revision.cpu.as_ref()),
        )?;
        let memory = size(
            task.memory(),
            self.inner.settings.memory,
            revision.and_then(|revision| revision.memory.as_ref()),
        )?;
        let began = task.pull_started_at().or(task.started_at())?;
        let millis = ended.to_millis().ok()? - began.to_millis().ok()?;
        Some(Usage {
            vcpu: cpu / 1024.0,
            memory_gb: memory / 1024.0,
            seconds: ((millis.max(0) as f64) / 1000.0)
                .ceil()
                .max(BILLED_AT_LEAST_SECONDS),
            spot: task.capacity_provider_name() == Some("FARGATE_SPOT"),
            arm: revision.is_some_and(|revision| revision.arm),
        })
    }
}
