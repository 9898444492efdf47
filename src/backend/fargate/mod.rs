//! Tasks on AWS Fargate: the image pushed to ECR, a task definition revision, RunTask,
//! DescribeTasks, StopTask, ListTasks, and the tasks' logs in CloudWatch Logs.

mod classify;
mod cloudwatch;
mod ecr;
mod log_location;
mod prepare;
mod pricing;
mod rate;
mod regional_logs;
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
pub use settings::{Place, Settings};

use super::{Backend, Listed, Polled, Resource, Snapshot, Start, Unanswered};
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
use pricing::Listed as ListedPrices;
use rate::RateLimiter;
use regional_logs::{RegionalLogs, arn_region};
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
    settings: Settings,
    plan: Plan,
    /// One a place: the run's region, or each region of `regions` in its order.
    regions: Vec<Regional>,
    /// A k6 script's thresholds, read by `k6 inspect` in the image `prepare` built.
    inspected: Vec<ScriptThreshold>,
    /// Which of the run's tasks `leftovers` finds.
    reach: Reach,
    /// Tasks this run stopped itself, and why: such a task ends as timed out or cancelled,
    /// whatever its container reported.
    stopped_by_us: Mutex<HashMap<String, StopCause>>,
    /// When the first RunTask was sent (epoch ms): no task of the run logs before it. The logs
    /// are followed from then, not from when following began: a launch slowed by throttling
    /// or paced over a thousand tasks ends long after its first tasks started writing.
    first_start_ms: OnceLock<i64>,
}

/// One region of the run: its clients (every call about a task is made in the task's own
/// region), its place, what was prepared there, and its own RunTask pace (the quota is a
/// region's).
struct Regional {
    clients: Clients,
    place: Place,
    /// The image and the revision registered in this region; `None` for a backend that only
    /// looks after tasks already started (cleanup).
    prepared: Option<(String, Revision)>,
    /// Paces RunTask (one task a call) to Fargate's documented quota.
    starts: tokio::sync::Mutex<RateLimiter>,
    /// The region's prices from the AWS Price List API, asked for while the tasks start (`None`:
    /// not asked, as when the `fargate-prices` input gives them).
    listed: Mutex<Option<Background<Result<ListedPrices, String>>>>,
}

impl Regional {
    fn new(clients: Clients, place: Place, prepared: Option<(String, Revision)>) -> Regional {
        Regional {
            clients,
            place,
            prepared,
            starts: tokio::sync::Mutex::new(RateLimiter::bucket(
                RUN_TASK_BURST,
                RUN_TASK_PER_SECOND,
            )),
            listed: Mutex::new(None),
        }
    }

    fn region(&self) -> &str {
        &self.clients.region
    }

    fn cluster(&self) -> &str {
        &self.place.cluster
    }

    /// `cluster `lt` in eu-west-1`: where a call went, for its error.
    fn at(&self) -> String {
        format!("cluster `{}` in {}", self.cluster(), self.region())
    }

    fn revision(&self) -> Result<&Revision> {
        self.prepared
            .as_ref()
            .map(|(_, revision)| revision)
            .ok_or_else(|| {
                anyhow::anyhow!("no task definition revision was registered for this run")
            })
    }

    /// Asks the Price List API for the region's Fargate prices in the background.
    fn ask_for_prices(&self) {
        let client = self.clients.pricing();
        let region = self.region().to_string();
        let asking = Background::spawn(async move { pricing::listed(&client, &region).await });
        if let Ok(mut listed) = self.listed.lock() {
            *listed = Some(asking);
        }
    }

    fn network(&self) -> Result<NetworkConfiguration> {
        let network = &self.place.network;
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

    /// Those of `arns` that `invocation` started, by their tag: ListTasks filters by
    /// `startedBy` only, which every job of a workflow run shares.
    async fn of_invocation(&self, arns: Vec<String>, invocation: &str) -> Result<Vec<String>> {
        let mut own = Vec::new();
        for batch in arns.chunks(DESCRIBE_BATCH) {
            let request = self
                .clients
                .ecs
                .describe_tasks()
                .cluster(self.cluster())
                .set_tasks(Some(batch.to_vec()))
                .include(TaskField::Tags);
            let answer = persist(|| async {
                request.clone().send().await.aws_context(|| {
                    format!(
                        "DescribeTasks (with tags) of {} tasks in {}",
                        batch.len(),
                        self.at()
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

    async fn describe(&self, ids: &[String]) -> Result<Vec<aws_sdk_ecs::types::Task>> {
        let mut tasks = Vec::with_capacity(ids.len());
        for batch in ids.chunks(DESCRIBE_BATCH) {
            let request = self
                .clients
                .ecs
                .describe_tasks()
                .cluster(self.cluster())
                .set_tasks(Some(batch.to_vec()));
            let answer = persist(|| async {
                request.clone().send().await.aws_context(|| {
                    format!("DescribeTasks of {} tasks in {}", batch.len(), self.at())
                })
            })
            .await?;
            tasks.extend(answer.tasks().iter().cloned());
        }
        Ok(tasks)
    }

    async fn marked(&self, mark: &str) -> Result<Vec<String>> {
        let request = self
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
                let page =
                    page.aws_context(|| format!("ListTasks started by `{mark}` in {}", self.at()))?;
                arns.extend(page.task_arns().iter().cloned());
            }
            Ok(arns)
        })
        .await?;
        Ok(arns)
    }
}

impl Fargate {
    fn new(
        settings: Settings,
        plan: &Plan,
        regions: Vec<Regional>,
        inspected: Vec<ScriptThreshold>,
        reach: Reach,
    ) -> Self {
        Fargate {
            inner: Arc::new(Inner {
                settings,
                plan: plan.clone(),
                regions,
                inspected,
                reach,
                stopped_by_us: Mutex::new(HashMap::new()),
                first_start_ms: OnceLock::new(),
            }),
        }
    }

    /// The region a task runs in, by its ARN; the first when none matches (one region).
    fn regional_of(&self, id: &str) -> &Regional {
        let regions = &self.inner.regions;
        arn_region(id)
            .and_then(|region| regions.iter().find(|regional| regional.region() == region))
            .unwrap_or(&regions[0])
    }

    /// The region a task is started in.
    fn regional_for(&self, spec: &TaskSpec) -> &Regional {
        let regions = &self.inner.regions;
        spec.region
            .as_deref()
            .and_then(|region| regions.iter().find(|regional| regional.region() == region))
            .unwrap_or(&regions[0])
    }

    fn several(&self) -> bool {
        self.inner.regions.len() > 1
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

    /// Runs `call` in every region at once; the answers in the regions' order.
    async fn in_every_region<'a, T, F, Fut>(&'a self, call: F) -> Vec<(&'a Regional, T)>
    where
        F: Fn(&'a Regional) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let calls = self.inner.regions.iter().map(|regional| {
            let call = &call;
            async move { (regional, call(regional).await) }
        });
        futures_util::future::join_all(calls).await
    }
}

impl Backend for Fargate {
    type Settings = Settings;
    type Logs = RegionalLogs;
    const SERVICE: &'static str = "ECS";
    /// Fargate tasks commonly reach RUNNING 30 to 60 s after RunTask, more with a large image to
    /// pull.
    const DEFAULT_START_DELAY: std::time::Duration = std::time::Duration::from_secs(90);

    fn settings(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        regions: &[String],
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Settings> {
        Settings::from_inputs(inputs, image, regions, problems, ignored)
    }

    fn cleanup_settings(
        inputs: &Inputs,
        regions: &[String],
        problems: &mut Problems,
    ) -> Option<Settings> {
        Settings::for_cleanup(inputs, regions, problems)
    }

    fn describe(settings: &Settings) -> String {
        match settings.places.as_slice() {
            [place] => format!(
                "cluster `{}` · task definition `{}`",
                place.cluster, place.task_definition
            ),
            places => places
                .iter()
                .map(|place| {
                    format!(
                        "{}: cluster `{}` · task definition `{}`",
                        place.region.as_deref().unwrap_or_default(),
                        place.cluster,
                        place.task_definition
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    async fn prepare(settings: Settings, plan: &Plan, gha: &Gha, events: &Events) -> Result<Self> {
        let prepared = prepare::prepare(&settings, plan, gha, events).await?;
        let regions = prepared
            .regions
            .into_iter()
            .zip(settings.places.iter().cloned())
            .map(|(region, place)| {
                Regional::new(region.clients, place, Some((region.image, region.revision)))
            })
            .collect();
        let fargate = Fargate::new(
            settings,
            plan,
            regions,
            prepared.inspected,
            Reach::Invocation,
        );
        // Only a run that is waited for reports a cost.
        if plan.wait && fargate.inner.settings.prices.is_none() {
            for regional in &fargate.inner.regions {
                regional.ask_for_prices();
            }
        }
        Ok(fargate)
    }

    async fn attach(settings: Settings, plan: &Plan) -> Result<Self> {
        let mut regions = Vec::with_capacity(settings.places.len());
        for place in &settings.places {
            let clients =
                prepare::clients(place.region.as_deref().or(plan.region.as_deref())).await?;
            regions.push(Regional::new(clients, place.clone(), None));
        }
        let reach = plan.identity.cleanup_reach;
        Ok(Fargate::new(settings, plan, regions, Vec::new(), reach))
    }

    fn place(&self) -> String {
        match self.inner.regions.as_slice() {
            [regional] => format!("in cluster `{}`", regional.cluster()),
            regions => format!(
                "in {}",
                regions
                    .iter()
                    .map(Regional::at)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn resources(&self) -> Vec<Resource> {
        let prepared: Vec<(&Regional, &String, &Revision)> = self
            .inner
            .regions
            .iter()
            .filter_map(|regional| {
                let (image, revision) = regional.prepared.as_ref()?;
                Some((regional, image, revision))
            })
            .collect();
        if prepared.is_empty() {
            return Vec::new();
        }
        // Several regions: one line a region, the region first.
        let join = |value: &dyn Fn(&String, &Revision) -> String| match prepared.as_slice() {
            [(_, image, revision)] => value(image, revision),
            _ => prepared
                .iter()
                .map(|(regional, image, revision)| {
                    format!("{}: {}", regional.region(), value(image, revision))
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        vec![
            Resource {
                output: "image",
                label: "Image",
                value: join(&|image, _| image.clone()),
            },
            Resource {
                output: "task-definition-arn",
                label: "task definition",
                value: join(&|_, revision| revision.arn.clone()),
            },
        ]
    }

    async fn start(&self, spec: &TaskSpec, token: &str) -> Result<Start> {
        let settings = &self.inner.settings;
        let regional = self.regional_for(spec);
        let revision = regional.revision()?;
        // RunTask applies one set of overrides to every task of a call, and each task has its own
        // TASK_INDEX and share of the load, so every call starts exactly one task.
        let mut request = regional
            .clients
            .ecs
            .run_task()
            .cluster(regional.cluster())
            .task_definition(&revision.arn)
            .count(1)
            .platform_version(&settings.platform_version)
            .network_configuration(regional.network()?)
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
        let answer =
            persist(|| async {
                regional.starts.lock().await.acquire().await;
                request.clone().send().await.aws_context(|| {
                    format!("RunTask of task {} in {}", spec.index + 1, regional.at())
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
            by: if self.several() {
                format!("RunTask in {}", regional.region())
            } else {
                "RunTask".to_string()
            },
            reason: format!(
                "{}reason {reason}{}",
                arn.map(|arn| format!("{arn}: ")).unwrap_or_default(),
                detail
                    .map(|detail| format!(", detail {detail}"))
                    .unwrap_or_default()
            ),
        })
    }

    async fn poll(&self, ids: &[String]) -> Result<Polled> {
        let asked = self
            .in_every_region(|regional| async move {
                let own: Vec<String> = ids
                    .iter()
                    .filter(|id| std::ptr::eq(self.regional_of(id), regional))
                    .cloned()
                    .collect();
                if own.is_empty() {
                    return (own, Ok(Vec::new()));
                }
                let answer = regional.describe(&own).await;
                (own, answer)
            })
            .await;
        let mut polled = Polled::default();
        let mut first_error = None;
        let mut answered = false;
        for (regional, (own, answer)) in asked {
            match answer {
                Ok(tasks) => {
                    answered |= !own.is_empty();
                    polled
                        .snapshots
                        .extend(tasks.iter().map(|task| self.snapshot(regional, task)));
                }
                Err(error) => {
                    polled.unanswered.push(Unanswered {
                        place: regional.region().to_string(),
                        ids: own,
                        error: format!("{error:#}"),
                    });
                    first_error.get_or_insert(error);
                }
            }
        }
        // One region that did not answer: the poll failed, as it always has. With several, the
        // regions that answered go on, and the watcher gives up on the others' tasks in time.
        if !self.several()
            && !answered
            && let Some(error) = first_error
        {
            return Err(error);
        }
        Ok(polled)
    }

    async fn stop(&self, id: &str, cause: StopCause, reason: &str) -> Result<()> {
        // Noted first: the task may be reported STOPPED before StopTask answers.
        self.inner
            .stopped_by_us
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id.to_string(), cause);
        let regional = self.regional_of(id);
        // StopTask takes a reason of at most 255 characters.
        let reason: String = reason.chars().take(255).collect();
        let request = regional
            .clients
            .ecs
            .stop_task()
            .cluster(regional.cluster())
            .task(id)
            .reason(reason);
        persist(|| async {
            request
                .clone()
                .send()
                .await
                .aws_context(|| format!("StopTask of {} in {}", self.short_id(id), regional.at()))
        })
        .await?;
        Ok(())
    }

    async fn leftovers(&self) -> Result<Listed> {
        let invocation = &self.inner.plan.identity.invocation;
        let started_by = &self.inner.plan.identity.started_by;
        let reach = self.inner.reach;
        let found = self
            .in_every_region(|regional| async move {
                let arns = regional.marked(started_by).await?;
                match reach {
                    Reach::Run => Ok(arns),
                    Reach::Invocation => regional.of_invocation(arns, invocation).await,
                }
            })
            .await;
        listed(found)
    }

    async fn marked(&self, mark: &str) -> Result<Listed> {
        let found = self.in_every_region(|regional| regional.marked(mark)).await;
        listed(found)
    }

    /// Fargate tasks leave nothing to remove: stopped tasks are ECS's to forget.
    async fn release(&self, _events: &Events) {}

    async fn script_thresholds(&self, _k6: &ScriptPlan) -> Result<Vec<ScriptThreshold>> {
        Ok(self.inner.inspected.clone())
    }

    fn log_source(&self) -> Result<RegionalLogs, String> {
        let mut sources = Vec::with_capacity(self.inner.regions.len());
        for regional in &self.inner.regions {
            let location = regional
                .revision()
                .map_err(|error| error.to_string())?
                .logs
                .clone()
                .map_err(|why| {
                    if self.several() {
                        format!("in {}: {why}", regional.region())
                    } else {
                        why
                    }
                })?;
            sources.push((
                regional.region().to_string(),
                CloudWatchLogs {
                    client: regional.clients.logs(location.region.as_deref()),
                    location,
                    since_ms: self.inner.first_start_ms.get().copied(),
                },
            ));
        }
        Ok(RegionalLogs { sources })
    }

    async fn prices(&self) -> Option<Vec<Prices>> {
        let mut all = Vec::with_capacity(self.inner.regions.len());
        for regional in &self.inner.regions {
            let asking = regional
                .listed
                .lock()
                .ok()
                .and_then(|mut asking| asking.take());
            let listed = match asking {
                // The ask ends by itself within `LISTED_WITHIN`; the regions' were asked at once.
                Some(asking) => asking.finish().await.ok(),
                None => None,
            };
            all.push(pricing::prices(
                self.inner.settings.prices.as_ref(),
                listed.as_ref(),
                Some(regional.region()),
            ));
        }
        Some(all)
    }

    fn links(&self, id: &str) -> TaskLinks {
        let regional = self.regional_of(id);
        let region = regional.region();
        let cluster = regional
            .cluster()
            .rsplit('/')
            .next()
            .unwrap_or(regional.cluster());
        let task_id = self.short_id(id);
        TaskLinks {
            console: Some(format!(
                "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}"
            )),
            logs: regional
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

/// Every region's listing together; an error only when no region answered (as with one).
fn listed(found: Vec<(&Regional, Result<Vec<String>>)>) -> Result<Listed> {
    let places = found.len();
    let mut listed = Listed::default();
    let mut errors = Vec::new();
    for (_, answer) in found {
        match answer {
            Ok(ids) => listed.ids.extend(ids),
            Err(error) => errors.push(error),
        }
    }
    if errors.len() == places {
        if let Some(error) = errors.into_iter().next() {
            return Err(error);
        }
        return Ok(listed);
    }
    listed.failures = errors.iter().map(|error| format!("{error:#}")).collect();
    Ok(listed)
}

impl Fargate {
    fn snapshot(&self, regional: &Regional, task: &aws_sdk_ecs::types::Task) -> Snapshot {
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
                        essential: regional
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
        let main_container = regional
            .revision()
            .map(|revision| revision.container.as_str())
            .unwrap_or_default();
        let usage = ended.and_then(|ended| self.usage(regional, task, ended));
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
        regional: &Regional,
        task: &aws_sdk_ecs::types::Task,
        ended: &aws_sdk_ecs::primitives::DateTime,
    ) -> Option<Usage> {
        let revision = regional.revision().ok();
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
        let place = self
            .inner
            .regions
            .iter()
            .position(|other| std::ptr::eq(other, regional))
            .unwrap_or(0);
        Some(Usage {
            place,
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
