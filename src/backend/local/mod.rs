//! The same test without AWS: tasks as containers on the local Docker engine (`DOCKER_HOST`, else
//! `/var/run/docker.sock`), or, when the tester is the built-in generator, as concurrent
//! `generate` runs inside this process.

mod containers;
mod in_process;
mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;

pub use settings::Settings;

use super::{Backend, Listed, Polled, Resource, Start};
use crate::cost::Prices;
use crate::event::Events;
use crate::gha::Gha;
use crate::image;
use crate::input_error::{Ignored, Problems};
use crate::inputs::Inputs;
use crate::logs::{LineSink, LogSource};
use crate::outcome::StopCause;
use crate::plan::{ImageSource, Plan, ScriptPlan, TaskSpec};
use crate::task::{TaskLinks, TaskRef};
use crate::workflow::Reach;
use crate::wrap::{self, ScriptThreshold};
use containers::Containers;
use in_process::InProcess;

#[derive(Clone)]
pub struct Local {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    /// The image the containers run; `None` in-process.
    image: Option<String>,
    /// A k6 script's thresholds, read by `k6 inspect` in the image built for it; `None` when
    /// the tasks run k6 from the PATH.
    inspected: Option<Vec<ScriptThreshold>>,
    stopped_by_us: Mutex<HashMap<String, StopCause>>,
}

enum Mode {
    Containers(Box<Containers>),
    InProcess(InProcess),
}

/// Where the local tasks' output is read from.
pub enum LocalLogs {
    Docker(bollard::Docker),
    InProcess(HashMap<usize, tokio::sync::mpsc::UnboundedReceiver<String>>),
}

impl LogSource for LocalLogs {
    async fn follow(
        self,
        tasks: Vec<TaskRef>,
        stopped: tokio::sync::mpsc::UnboundedReceiver<usize>,
        sink: LineSink,
    ) -> Result<LineSink> {
        match self {
            LocalLogs::Docker(docker) => Containers::follow(docker, tasks, stopped, sink).await,
            LocalLogs::InProcess(output) => in_process::follow(output, tasks, sink).await,
        }
    }
}

impl Local {
    fn stopped_by_us(&self) -> HashMap<String, StopCause> {
        lock(&self.inner.stopped_by_us).clone()
    }

    fn new(mode: Mode, image: Option<String>) -> Local {
        Local {
            inner: Arc::new(Inner {
                mode,
                image,
                inspected: None,
                stopped_by_us: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Backend for Local {
    type Settings = Settings;
    type Logs = LocalLogs;
    const SERVICE: &'static str = "Docker";
    /// A container starts in about a second; an in-process task at once.
    const DEFAULT_START_DELAY: Duration = Duration::from_secs(2);

    fn settings(
        inputs: &Inputs,
        image: Option<&ImageSource>,
        _regions: &[String],
        problems: &mut Problems,
        ignored: &mut Ignored,
    ) -> Option<Settings> {
        Settings::from_inputs(inputs, image, problems, ignored)
    }

    /// What a run leaves on the local backend are containers: in-process tasks end with it.
    fn cleanup_settings(
        _inputs: &Inputs,
        _regions: &[String],
        _problems: &mut Problems,
    ) -> Option<Settings> {
        Some(Settings {
            cpu: None,
            memory: None,
            in_process: false,
        })
    }

    fn describe(settings: &Settings) -> String {
        if settings.in_process {
            "local, in this process".to_string()
        } else {
            "local Docker engine".to_string()
        }
    }

    async fn prepare(settings: Settings, plan: &Plan, gha: &Gha, events: &Events) -> Result<Self> {
        if settings.in_process {
            events.info(match &plan.image {
                ImageSource::Script(script) => format!(
                    "Each task runs {tool} under `ecs-loadtest wrap {tool}`, from this process",
                    tool = script.tool.name()
                ),
                _ => "The built-in generator runs in this process, one run a task".to_string(),
            });
            return Ok(Local::new(
                Mode::InProcess(InProcess::new(plan.load.command.clone())),
                None,
            ));
        }
        let mut inspected = None;
        let image = match &plan.image {
            ImageSource::Given(image) | ImageSource::Generator { image: Some(image) } => {
                let docker = image::docker_engine().await?;
                image::ensure_image(&docker, image).await?;
                image.clone()
            }
            ImageSource::Build(build) => image::build_local(build, gha).await?,
            ImageSource::Generator { image: None } => {
                anyhow::bail!("the built-in generator has no image to run from")
            }
            // Without k6 on the PATH, or with `tester-image`: an image made for the script.
            ImageSource::Script(k6) => {
                let Some(action_image) = &k6.wrapper_image else {
                    anyhow::bail!(
                        "input `generator-image` is required to take this action's binary from"
                    );
                };
                let engine = image::engine().await?;
                let build = image::script_build(&engine, k6, action_image).await?;
                let reference = image::build_local(&build, gha).await?;
                inspected = Some(wrap::check_script_in_image(&engine, &reference, k6).await?);
                reference
            }
        };
        let docker = image::docker_engine().await?;
        events.info(format!(
            "Tasks run {image} on the local Docker engine, on the host's network"
        ));
        let mut local = Local::new(
            Mode::Containers(Box::new(Containers::new(
                docker,
                image.clone(),
                settings,
                plan,
                Reach::Invocation,
            ))),
            Some(image),
        );
        if let Some(inner) = Arc::get_mut(&mut local.inner) {
            inner.inspected = inspected;
        }
        Ok(local)
    }

    async fn attach(settings: Settings, plan: &Plan) -> Result<Self> {
        if settings.in_process {
            return Ok(Local::new(Mode::InProcess(InProcess::default()), None));
        }
        // The post step reads too little to know whether the tasks were containers: without an
        // engine they were not (the built-in generator ran in the step's process and ended with
        // it), and nothing can be running there.
        let Ok(docker) = image::docker_engine().await else {
            return Ok(Local::new(Mode::InProcess(InProcess::default()), None));
        };
        Ok(Local::new(
            Mode::Containers(Box::new(Containers::new(
                docker,
                String::new(),
                settings,
                plan,
                plan.identity.cleanup_reach,
            ))),
            None,
        ))
    }

    fn place(&self) -> String {
        match &self.inner.mode {
            Mode::Containers(_) => "on the local Docker engine".to_string(),
            Mode::InProcess(_) => "in this process".to_string(),
        }
    }

    fn resources(&self) -> Vec<Resource> {
        self.inner
            .image
            .iter()
            .map(|image| Resource {
                output: "image",
                label: "Image",
                value: image.clone(),
            })
            .collect()
    }

    async fn start(&self, spec: &TaskSpec, token: &str) -> Result<Start> {
        match &self.inner.mode {
            Mode::Containers(containers) => containers.start(spec, token).await,
            Mode::InProcess(in_process) => Ok(in_process.start(spec)),
        }
    }

    async fn poll(&self, ids: &[String]) -> Result<Polled> {
        let stopped_by_us = self.stopped_by_us();
        let snapshots = match &self.inner.mode {
            Mode::Containers(containers) => containers.poll(ids, &stopped_by_us).await?,
            Mode::InProcess(in_process) => in_process.poll(ids, &stopped_by_us).await,
        };
        Ok(Polled {
            snapshots,
            unanswered: Vec::new(),
        })
    }

    async fn stop(&self, id: &str, cause: StopCause, reason: &str) -> Result<()> {
        lock(&self.inner.stopped_by_us).insert(id.to_string(), cause);
        match &self.inner.mode {
            Mode::Containers(containers) => containers.stop(id).await,
            Mode::InProcess(in_process) => {
                in_process.stop(id, reason);
                Ok(())
            }
        }
    }

    async fn leftovers(&self) -> Result<Listed> {
        let ids = match &self.inner.mode {
            Mode::Containers(containers) => containers.of_run(true).await?,
            Mode::InProcess(in_process) => in_process.running(),
        };
        Ok(Listed {
            ids,
            failures: Vec::new(),
        })
    }

    async fn marked(&self, mark: &str) -> Result<Listed> {
        let ids = match &self.inner.mode {
            Mode::Containers(containers) => containers.marked(mark).await?,
            // Tasks in a process end with it: another attempt's are gone.
            Mode::InProcess(_) => Vec::new(),
        };
        Ok(Listed {
            ids,
            failures: Vec::new(),
        })
    }

    async fn release(&self, events: &Events) {
        match &self.inner.mode {
            Mode::Containers(containers) => match containers.remove_all().await {
                Ok(0) => {}
                Ok(removed) => events.info(format!("Removed {removed} container(s) of this run")),
                Err(error) => events.warning(format!(
                    "could not remove this run's containers: {error:#}; `docker ps -a --filter label={}` lists them",
                    containers::RUN_LABEL
                )),
            },
            Mode::InProcess(in_process) => in_process.end_all().await,
        }
    }

    async fn script_thresholds(&self, k6: &ScriptPlan) -> Result<Vec<ScriptThreshold>> {
        match &self.inner.inspected {
            Some(inspected) => Ok(inspected.clone()),
            None => wrap::check_script(k6).await,
        }
    }

    fn log_source(&self) -> Result<LocalLogs, String> {
        match &self.inner.mode {
            Mode::Containers(containers) => Ok(LocalLogs::Docker(containers.docker())),
            Mode::InProcess(in_process) => Ok(LocalLogs::InProcess(in_process.take_output())),
        }
    }

    fn links(&self, _id: &str) -> TaskLinks {
        TaskLinks::default()
    }

    /// A local run costs nothing anyone bills.
    async fn prices(&self) -> Option<Vec<Prices>> {
        None
    }

    /// Docker's short container ID; an in-process task's whole ID.
    fn short_id<'a>(&self, id: &'a str) -> &'a str {
        match &self.inner.mode {
            Mode::Containers(_) => containers::short(id),
            Mode::InProcess(_) => id,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
