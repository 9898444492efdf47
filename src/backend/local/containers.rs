//! Tasks as containers on the local Docker engine: created with the task's environment, the run's
//! labels, the task size as limits and the host's network (so that `localhost` is the host, as a
//! user means it), followed by their output, and removed at the end.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::lock;
use super::settings::Settings;
use crate::backend::{Snapshot, Start};
use crate::logs::LineSink;
use crate::outcome::{OutcomeKind, StopCause, TaskOutcome};
use crate::plan::{Plan, TaskSpec};
use crate::results::capture::SPLIT_BYTES;
use crate::task::TaskRef;
use crate::workflow::Reach;

/// The label that marks every container of a run with the run's mark.
pub const RUN_LABEL: &str = "ecs-loadtest.run";
/// The label that marks a container with the invocation that started it (one of a run's tags).
const INVOCATION_LABEL: &str = "ecs-loadtest.invocation";
/// How long a container may take to stop after SIGTERM before it is killed.
const STOP_SECONDS: i32 = 10;

pub struct Containers {
    docker: Docker,
    image: String,
    /// The label (name, value) that finds the containers this value looks after: this
    /// invocation's, or every container of the run (cleanup, after the step that started them).
    scope: (String, String),
    labels: HashMap<String, String>,
    command: Option<Vec<String>>,
    settings: Settings,
    /// When each container was started, for its run time.
    started: Mutex<HashMap<String, Instant>>,
    /// Containers of another run attempt (`marked`): removed once stopped, as no step of theirs
    /// is left to remove them.
    foreign: Mutex<HashSet<String>>,
    /// When a container under a memory limit was first seen killed (137) without Docker's OOM
    /// flag: its judgement waits `OOM_SETTLE`, as Docker may record the kernel's OOM kill just
    /// after the exit.
    killed_at: Mutex<HashMap<String, Instant>>,
}

/// How long a killed container under a memory limit waits for Docker's OOM flag.
const OOM_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

impl Containers {
    /// Containers for `plan`, looking after this invocation's, or every container of the
    /// workflow run (two jobs of one run may share a Docker engine).
    pub fn new(
        docker: Docker,
        image: String,
        settings: Settings,
        plan: &Plan,
        reach: Reach,
    ) -> Containers {
        let identity = &plan.identity;
        let mut labels: HashMap<String, String> = identity
            .tags
            .iter()
            .map(|tag| (tag.key.replacen(':', ".", 1), tag.value.clone()))
            .collect();
        labels.insert(RUN_LABEL.to_string(), identity.started_by.clone());
        let run = (RUN_LABEL.to_string(), identity.started_by.clone());
        let scope = match labels.get(INVOCATION_LABEL) {
            Some(invocation) if reach == Reach::Invocation => {
                (INVOCATION_LABEL.to_string(), invocation.clone())
            }
            _ => run,
        };
        Containers {
            docker,
            image,
            scope,
            labels,
            command: plan.load.command.clone(),
            settings,
            started: Mutex::new(HashMap::new()),
            killed_at: Mutex::new(HashMap::new()),
            foreign: Mutex::new(HashSet::new()),
        }
    }

    pub fn docker(&self) -> Docker {
        self.docker.clone()
    }

    pub async fn start(&self, spec: &TaskSpec, token: &str) -> Result<Start> {
        let mut labels = self.labels.clone();
        labels.insert("ecs-loadtest.task-index".into(), spec.index.to_string());
        let host_config = HostConfig {
            network_mode: Some("host".to_string()),
            memory: self.settings.memory.map(|mib| (mib * 1024 * 1024) as i64),
            // Fargate's CPU units: 1024 a CPU.
            nano_cpus: self
                .settings
                .cpu
                .map(|units| (units * 1_000_000_000 / 1024) as i64),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(
                spec.environment
                    .iter()
                    .map(|var| format!("{}={}", var.name, var.value))
                    .collect(),
            ),
            cmd: self.command.clone(),
            labels: Some(labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        // The token names the container: a retried create finds the one it made.
        let options = CreateContainerOptions {
            name: Some(token.to_string()),
            ..Default::default()
        };
        let id = match self.docker.create_container(Some(options), body).await {
            Ok(created) => created.id,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => self
                .docker
                .inspect_container(token, None)
                .await
                .with_context(|| format!("inspecting container {token}"))?
                .id
                .unwrap_or_else(|| token.to_string()),
            Err(error) => {
                return Ok(Start::Refused {
                    by: "Docker".to_string(),
                    reason: format!("creating a container from {}: {error}", self.image),
                });
            }
        };
        if let Err(error) = self.docker.start_container(&id, None).await {
            return Ok(Start::Refused {
                by: "Docker".to_string(),
                reason: format!("starting container {}: {error}", short(&id)),
            });
        }
        lock(&self.started).insert(id.clone(), Instant::now());
        Ok(Start::Started { id })
    }

    pub async fn poll(
        &self,
        ids: &[String],
        stopped_by_us: &HashMap<String, StopCause>,
    ) -> Result<Vec<Snapshot>> {
        let mut snapshots = Vec::with_capacity(ids.len());
        for id in ids {
            let inspected = match self.docker.inspect_container(id, None).await {
                Ok(inspected) => inspected,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(error) => return Err(anyhow!("inspecting container {id}: {error}")),
            };
            let state = inspected.state.unwrap_or_default();
            let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
            let ended = matches!(
                status,
                ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD
            );
            let run_seconds = lock(&self.started)
                .get(id)
                .map(|started| started.elapsed().as_secs() as i64);
            let killed_under_limit = ended
                && state.exit_code == Some(137)
                && !state.oom_killed.unwrap_or(false)
                && self.settings.memory.is_some()
                && !stopped_by_us.contains_key(id);
            let settling = killed_under_limit
                && lock(&self.killed_at)
                    .entry(id.clone())
                    .or_insert_with(Instant::now)
                    .elapsed()
                    < OOM_SETTLE;
            let outcome = (ended && !settling).then(|| {
                let exit_code = state.exit_code.map(|code| code as i32);
                match stopped_by_us.get(id) {
                    Some(cause) => cause.outcome(format!(
                        "stopped by this run; the container exited with {}",
                        exit_code.map_or("no exit code".to_string(), |code| code.to_string())
                    )),
                    None => outcome_of(
                        exit_code,
                        state.oom_killed.unwrap_or(false),
                        state.error.filter(|error| !error.is_empty()),
                        self.settings.memory,
                    ),
                }
            });
            snapshots.push(Snapshot {
                id: id.clone(),
                status: status.to_string().to_ascii_uppercase(),
                outcome,
                run_seconds,
                usage: None,
            });
        }
        Ok(snapshots)
    }

    pub async fn stop(&self, id: &str) -> Result<()> {
        let options = StopContainerOptions {
            t: Some(STOP_SECONDS),
            signal: None,
        };
        match self.docker.stop_container(id, Some(options)).await {
            // 304: already stopped.
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(error) => return Err(anyhow!("stopping container {}: {error}", short(id))),
        }
        if lock(&self.foreign).contains(id) {
            self.remove(id).await?;
        }
        Ok(())
    }

    /// The running containers labelled with run mark `mark`.
    pub async fn marked(&self, mark: &str) -> Result<Vec<String>> {
        let ids = self.list(&format!("{RUN_LABEL}={mark}"), true).await?;
        lock(&self.foreign).extend(ids.iter().cloned());
        Ok(ids)
    }

    async fn remove(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(error) => Err(anyhow!("removing container {}: {error}", short(id))),
        }
    }

    /// The containers in scope: the running ones, or all of them.
    pub async fn of_run(&self, running_only: bool) -> Result<Vec<String>> {
        self.list(&format!("{}={}", self.scope.0, self.scope.1), running_only)
            .await
    }

    async fn list(&self, label: &str, running_only: bool) -> Result<Vec<String>> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![label.to_string()]);
        if running_only {
            filters.insert("status".to_string(), vec!["running".to_string()]);
        }
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .with_context(|| format!("listing the containers labelled {label}"))?;
        Ok(containers
            .into_iter()
            .filter_map(|container| container.id)
            .collect())
    }

    /// Removes every container of this run, stopped or not.
    pub async fn remove_all(&self) -> Result<usize> {
        let ids = self.of_run(false).await?;
        for id in &ids {
            self.remove(id).await?;
        }
        Ok(ids.len())
    }

    /// Follows every task's output (stdout and stderr) until its container ends.
    pub async fn follow(
        docker: Docker,
        tasks: Vec<TaskRef>,
        mut stopped: mpsc::UnboundedReceiver<usize>,
        mut sink: LineSink,
    ) -> Result<LineSink> {
        // Bounded: a container that prints faster than the lines are handed on waits for them,
        // rather than filling the memory.
        let (lines, mut received) = mpsc::channel::<(usize, Option<String>)>(WAITING_LINES);
        for task in &tasks {
            let (docker, lines, id, index) =
                (docker.clone(), lines.clone(), task.id.clone(), task.index());
            tokio::spawn(async move {
                read_output(&docker, &id, index, &lines).await;
                let _ = lines.send((index, None)).await;
            });
        }
        drop(lines);
        let mut open = tasks.len();
        while open > 0 {
            tokio::select! {
                received = received.recv() => match received {
                    Some((index, Some(line))) => sink.line(index, &line)?,
                    Some((index, None)) => {
                        sink.complete(index)?;
                        open -= 1;
                    }
                    None => break,
                },
                // A container's output ends with the container: nothing to do on its stop.
                Some(_) = stopped.recv() => {}
            }
        }
        Ok(sink)
    }
}

/// How often a container's output is opened again after reading it failed.
const READ_ATTEMPTS: u32 = 5;

/// Hands on every line of one container's output. A follow of the output that ends is opened
/// again past the bytes already read (the engine replays a container's output in the same
/// order): once more after it ended cleanly, which finds any last lines of a container that had
/// just exited when the follow ended, and after a failed read up to `READ_ATTEMPTS` times.
async fn read_output(
    docker: &Docker,
    id: &str,
    index: usize,
    lines: &mpsc::Sender<(usize, Option<String>)>,
) {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut pending = Vec::new();
    let mut consumed = 0usize;
    let (mut failures, mut ends) = (0, 0);
    while failures < READ_ATTEMPTS && ends < 2 {
        let mut skip = consumed;
        let mut output = docker.logs(id, Some(options.clone()));
        let mut failed = false;
        while let Some(item) = output.next().await {
            let Ok(chunk) = item else {
                failed = true;
                break;
            };
            let bytes = chunk.into_bytes();
            let from = skip.min(bytes.len());
            skip -= from;
            consumed += bytes.len() - from;
            pending.extend_from_slice(&bytes[from..]);
            while let Some(line) = next_line(&mut pending) {
                let text = String::from_utf8_lossy(&line).into_owned();
                let _ = lines.send((index, Some(text))).await;
            }
        }
        if failed {
            failures += 1;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        } else {
            ends += 1;
        }
    }
    if !pending.is_empty() {
        let text = String::from_utf8_lossy(&pending).into_owned();
        let _ = lines.send((index, Some(text))).await;
    }
}

/// Lines read from the containers that may wait to be handed on.
const WAITING_LINES: usize = 1024;

/// The next whole line of `pending`, its line break included, taken out of it. A line longer
/// than `SPLIT_BYTES` is handed on in pieces of exactly that size, as the awslogs driver splits
/// it on Fargate (and the results reader joins a result line split so), so that output with no
/// line break never grows without bound.
fn next_line(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    match pending.iter().position(|byte| *byte == b'\n') {
        Some(end) if end < SPLIT_BYTES => Some(pending.drain(..=end).collect()),
        _ if pending.len() >= SPLIT_BYTES => Some(pending.drain(..SPLIT_BYTES).collect()),
        _ => None,
    }
}

/// What a container's end means, in the words every backend shares.
fn outcome_of(
    exit_code: Option<i32>,
    oom_killed: bool,
    error: Option<String>,
    memory_mib: Option<u64>,
) -> TaskOutcome {
    let outcome = |kind, reason: String| TaskOutcome {
        kind,
        exit_code,
        reason,
    };
    match (exit_code, oom_killed, error) {
        (_, true, _) => outcome(
            OutcomeKind::OutOfMemory,
            format!(
                "the container was killed for using more than its memory limit{}",
                memory_mib.map_or(String::new(), |mib| format!(" ({mib} MiB)"))
            ),
        ),
        (Some(0), _, _) => outcome(OutcomeKind::Succeeded, String::new()),
        (_, _, Some(error)) => outcome(OutcomeKind::FailedToStart, error),
        (Some(code), _, None) => outcome(
            OutcomeKind::ContainerFailed,
            format!("the container exited with {code}"),
        ),
        (None, _, None) => outcome(
            OutcomeKind::ContainerFailed,
            "the container ended without an exit code".to_string(),
        ),
    }
}

/// Docker's short container ID.
pub fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_without_line_breaks_is_handed_on_in_bounded_pieces() {
        let mut pending = b"one\ntwo\nthr".to_vec();
        assert_eq!(next_line(&mut pending).unwrap(), b"one\n");
        assert_eq!(next_line(&mut pending).unwrap(), b"two\n");
        assert_eq!(next_line(&mut pending), None);
        assert_eq!(pending, b"thr");

        // Megabytes with no line break: pieces of the awslogs driver's size, never more waiting.
        let mut pending = vec![b'x'; 3 * SPLIT_BYTES + 10];
        let mut pieces = 0;
        while let Some(piece) = next_line(&mut pending) {
            assert_eq!(piece.len(), SPLIT_BYTES);
            pieces += 1;
        }
        assert_eq!((pieces, pending.len()), (3, 10));
    }

    #[test]
    fn container_ends() {
        assert_eq!(
            outcome_of(Some(0), false, None, None).kind,
            OutcomeKind::Succeeded
        );
        let failed = outcome_of(Some(3), false, None, None);
        assert_eq!(
            (failed.kind, failed.exit_code),
            (OutcomeKind::ContainerFailed, Some(3))
        );
        let oom = outcome_of(Some(137), true, None, Some(64));
        assert_eq!(oom.kind, OutcomeKind::OutOfMemory);
        assert!(oom.reason.contains("64 MiB"), "{}", oom.reason);
        let no_start = outcome_of(Some(127), false, Some("exec: not found".into()), None);
        assert_eq!(no_start.kind, OutcomeKind::FailedToStart);
        assert_eq!(
            outcome_of(None, false, None, None).kind,
            OutcomeKind::ContainerFailed
        );
    }
}
