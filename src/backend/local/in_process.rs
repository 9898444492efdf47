//! Tasks as concurrent runs inside this process: what the local backend does when the tester is
//! the built-in generator (`generate`), so that a terminal user needs nothing but the binary, or
//! a k6 script (`wrap k6`, each task's k6 a child process), so that a k6 user needs only k6.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::lock;
use crate::backend::{Snapshot, Start};
use crate::generate::{GenerateArgs, run as generate};
use crate::logs::LineSink;
use crate::outcome::{OutcomeKind, StopCause, TaskOutcome};
use crate::plan::TaskSpec;
use crate::task::TaskRef;
use crate::wrap::{Tool, WrapArgs, run as wrap};

struct Running {
    started: Instant,
    join: Option<JoinHandle<Result<u8>>>,
    stop: Option<oneshot::Sender<String>>,
    outcome: Option<TaskOutcome>,
}

#[derive(Default)]
pub struct InProcess {
    /// The tasks' command: `generate` (or none), or `wrap k6 -- k6 run SCRIPT`.
    command: Vec<String>,
    tasks: Mutex<HashMap<String, Running>>,
    /// Each task's output, until a log source takes it.
    output: Mutex<HashMap<usize, mpsc::UnboundedReceiver<String>>>,
}

impl InProcess {
    pub fn new(command: Option<Vec<String>>) -> InProcess {
        InProcess {
            command: command.unwrap_or_default(),
            ..InProcess::default()
        }
    }

    /// The tool a task runs under `wrap` (`wrap k6 -- …`, `wrap locust -- …`); `None` for the
    /// built-in generator.
    fn wrapped_tool(&self) -> Option<Tool> {
        match self.command.as_slice() {
            [wrap, tool, ..] if wrap == "wrap" => clap::ValueEnum::from_str(tool, true).ok(),
            _ => None,
        }
    }

    pub fn start(&self, spec: &TaskSpec) -> Start {
        let id = format!("in-process-{}", spec.index + 1);
        let (lines, received) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<String>();
        let stopped = async move {
            stopped
                .await
                .unwrap_or_else(|_| "the run ended".to_string())
        };
        let send = |lines: &mpsc::UnboundedSender<String>| {
            let lines = lines.clone();
            move |line: &str| {
                let _ = lines.send(line.to_string());
            }
        };
        let wrapped = self.wrapped_tool().and_then(|tool| {
            let at = self.command.iter().position(|word| word == "--")?;
            Some(WrapArgs::from_environment(
                tool,
                &spec.environment,
                self.command[at + 1..].to_vec(),
            ))
        });
        let args = GenerateArgs::from_environment(&spec.environment);
        let join = tokio::spawn(async move {
            let result = match wrapped {
                Some(wrap_args) => wrap(&wrap_args, send(&lines), send(&lines), stopped).await,
                None => generate(&args, send(&lines), stopped).await,
            };
            if let Err(error) = &result {
                let _ = lines.send(format!("error: {error:#}"));
            }
            result
        });
        lock(&self.output).insert(spec.index, received);
        lock(&self.tasks).insert(
            id.clone(),
            Running {
                started: Instant::now(),
                join: Some(join),
                stop: Some(stop),
                outcome: None,
            },
        );
        Start::Started { id }
    }

    pub async fn poll(
        &self,
        ids: &[String],
        stopped_by_us: &HashMap<String, StopCause>,
    ) -> Vec<Snapshot> {
        let mut snapshots = Vec::with_capacity(ids.len());
        let tester = match self.wrapped_tool() {
            Some(Tool::K6) => "wrap k6",
            Some(Tool::Locust) => "wrap locust",
            Some(Tool::Artillery) => "wrap artillery",
            Some(Tool::Jmeter) => "wrap jmeter",
            None => "generate",
        };
        for id in ids {
            let finished = {
                let mut tasks = lock(&self.tasks);
                let Some(task) = tasks.get_mut(id) else {
                    continue;
                };
                match task.join.take() {
                    Some(join) if join.is_finished() => Some(join),
                    Some(join) => {
                        task.join = Some(join);
                        None
                    }
                    None => None,
                }
            };
            if let Some(join) = finished {
                let outcome = match join.await {
                    Ok(Ok(0)) => succeeded(),
                    Ok(Ok(code)) => {
                        failed(Some(code as i32), format!("{tester} exited with {code}"))
                    }
                    Ok(Err(error)) => failed(
                        Some(crate::exit::of_error(&error) as i32),
                        format!("{error:#}"),
                    ),
                    Err(error) => failed(None, format!("{tester} did not finish: {error}")),
                };
                let outcome = match stopped_by_us.get(id) {
                    Some(cause) => cause.outcome(outcome.reason),
                    None => outcome,
                };
                if let Some(task) = lock(&self.tasks).get_mut(id) {
                    task.outcome = Some(outcome);
                }
            }
            let tasks = lock(&self.tasks);
            let Some(task) = tasks.get(id) else {
                continue;
            };
            snapshots.push(Snapshot {
                id: id.clone(),
                status: if task.outcome.is_some() {
                    "STOPPED"
                } else {
                    "RUNNING"
                }
                .to_string(),
                outcome: task.outcome.clone(),
                run_seconds: Some(task.started.elapsed().as_secs() as i64),
                usage: None,
            });
        }
        snapshots
    }

    /// Asks the task to start no more requests; its result follows.
    pub fn stop(&self, id: &str, reason: &str) {
        if let Some(stop) = lock(&self.tasks)
            .get_mut(id)
            .and_then(|task| task.stop.take())
        {
            let _ = stop.send(reason.to_string());
        }
    }

    /// Tasks still running: at the end of the run, none may be.
    pub fn running(&self) -> Vec<String> {
        lock(&self.tasks)
            .iter()
            .filter(|(_, task)| task.outcome.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Stops every task still running and waits for it: an in-process task cannot outlive the
    /// run.
    pub async fn end_all(&self) {
        let joins: Vec<JoinHandle<Result<u8>>> = {
            let mut tasks = lock(&self.tasks);
            tasks
                .values_mut()
                .filter_map(|task| {
                    if let Some(stop) = task.stop.take() {
                        let _ = stop.send("the run ended".to_string());
                    }
                    task.join.take()
                })
                .collect()
        };
        for join in joins {
            let _ = join.await;
        }
    }

    /// The tasks' output, taken once.
    pub fn take_output(&self) -> HashMap<usize, mpsc::UnboundedReceiver<String>> {
        std::mem::take(&mut *lock(&self.output))
    }
}

/// Hands each task's output to the sink until the task ends.
pub async fn follow(
    mut output: HashMap<usize, mpsc::UnboundedReceiver<String>>,
    tasks: Vec<TaskRef>,
    mut sink: LineSink,
) -> Result<LineSink> {
    let (lines, mut received) = mpsc::unbounded_channel::<(usize, Option<String>)>();
    for task in &tasks {
        let Some(mut task_output) = output.remove(&task.index()) else {
            sink.complete(task.index())?;
            continue;
        };
        let (lines, index) = (lines.clone(), task.index());
        tokio::spawn(async move {
            while let Some(line) = task_output.recv().await {
                let _ = lines.send((index, Some(line)));
            }
            let _ = lines.send((index, None));
        });
    }
    drop(lines);
    while let Some((index, line)) = received.recv().await {
        match line {
            Some(line) => sink.line(index, &line)?,
            None => sink.complete(index)?,
        }
    }
    Ok(sink)
}

fn succeeded() -> TaskOutcome {
    TaskOutcome {
        kind: OutcomeKind::Succeeded,
        exit_code: Some(0),
        reason: String::new(),
    }
}

fn failed(exit_code: Option<i32>, reason: String) -> TaskOutcome {
    TaskOutcome {
        kind: OutcomeKind::ContainerFailed,
        exit_code,
        reason,
    }
}
