//! ecs-loadtest: run load tests on AWS Fargate from GitHub Actions or a terminal.
//!
//! The pipeline runs one way: inputs -> plan -> backend (prepare, launch, watch) -> outcomes ->
//! results -> verdict -> report -> exit status. `src/ARCHITECTURE.md` is the map.

mod aws;
mod backend;
mod background;
pub mod cli;
mod cost;
mod event;
mod exit;
mod generate;
pub mod gha;
mod github;
mod history;
mod image;
mod input_error;
mod inputs;
mod launch;
mod logs;
mod outcome;
mod plan;
mod quote;
mod report;
mod results;
mod run;
mod signals;
mod stop;
mod task;
mod tuning;
mod watch;
mod workflow;
mod wrap;

use anyhow::{Context, Result};

use crate::backend::dispatch::dispatch;
use crate::backend::{Backend, Pipeline, configure};
use crate::cli::{Cli, Command};
use crate::gha::{Gha, Level, Location};
use crate::github::Triggered;
use crate::input_error::InvalidInputs;
use crate::inputs::Inputs;
use crate::run::{CleanupCommand, RunCommand};
use crate::workflow::WorkflowEnv;

pub use crate::exit::of_error as exit_status_of;

pub async fn run(cli: Cli, gha: &Gha) -> Result<u8> {
    tuning::load()?;
    let workflow = WorkflowEnv::from_env();
    match cli.command {
        Some(Command::Plan(flags)) => {
            let inputs = flags.or(Inputs::from_env()?)?;
            dispatch(
                &inputs.backend.clone(),
                PlanCommand {
                    inputs,
                    workflow: &workflow,
                    gha,
                },
            )
            .await??;
            Ok(exit::PASSED)
        }
        Some(Command::Run(flags)) => run_and_set_status(flags, &workflow, gha).await,
        Some(Command::Cleanup(flags)) => {
            let inputs = flags.or(Inputs::from_env()?)?;
            dispatch(
                &inputs.backend.clone(),
                CleanupCommand {
                    inputs,
                    workflow: &workflow,
                    gha,
                },
            )
            .await??;
            Ok(exit::PASSED)
        }
        Some(Command::Generate(args)) => generate::generate(args, gha).await,
        Some(Command::Wrap(args)) => wrap::wrap(args, gha).await,
        Some(Command::History(args)) => {
            history::history(args, gha).await?;
            Ok(exit::PASSED)
        }
        None => run_and_set_status(Inputs::default(), &workflow, gha).await,
    }
}

/// The `plan` command: validate the inputs and print the plan as JSON, with no network call.
struct PlanCommand<'a> {
    inputs: Inputs,
    workflow: &'a WorkflowEnv,
    gha: &'a Gha,
}

impl Pipeline for PlanCommand<'_> {
    type Output = Result<()>;

    async fn with<B: Backend>(self) -> Result<()> {
        let configured = configure::<B>(&self.inputs, self.workflow)?;
        self.gha
            .line(&serde_json::to_string_pretty(&configured).context("printing the plan")?);
        Ok(())
    }
}

async fn run_and_set_status(flags: Inputs, workflow: &WorkflowEnv, gha: &Gha) -> Result<u8> {
    // Installed first, so that a signal at any later point is handled rather than fatal.
    let mut shutdown = signals::Shutdown::install()?;
    let mut triggered = None;
    let result = async {
        let inputs = flags.or(Inputs::from_env()?)?;
        // Registered before anything could print them.
        if let Some(token) = inputs::given(&inputs.github_token) {
            gha.mask(token);
        }
        for secret in inputs.secret_looking_values() {
            gha.mask(&secret);
        }
        // A pull request comment may start the run, change its inputs, or end the step.
        let (inputs, workflow) = match github::from_comment(&inputs, workflow, gha).await? {
            Triggered::NotAComment => (inputs, workflow.clone()),
            Triggered::Done(status) => return Ok(status),
            Triggered::Run { inputs, trigger } => {
                let workflow = workflow.triggered_by(trigger.clone());
                triggered = Some((inputs.clone(), workflow.clone(), trigger));
                (*inputs, workflow)
            }
        };
        dispatch(
            &inputs.backend.clone(),
            RunCommand {
                inputs,
                workflow: &workflow,
                gha,
                shutdown: &mut shutdown,
            },
        )
        .await?
    }
    .await;
    let status = match &result {
        Ok(status) => *status,
        Err(error) => exit::of_error(error),
    };
    if let Some((inputs, workflow, trigger)) = &triggered {
        if let Some(invalid) = result
            .as_ref()
            .err()
            .and_then(|error| error.downcast_ref::<InvalidInputs>())
        {
            let problems: Vec<String> = invalid.0.iter().map(ToString::to_string).collect();
            github::refuse_inputs(inputs, workflow, trigger, &problems, gha).await;
        }
        github::conclude_trigger(inputs, workflow, trigger, status, gha).await;
    }
    report::output(gha, "exit-code", &status.to_string());
    report::output(
        gha,
        "passed",
        if status == exit::PASSED {
            "true"
        } else {
            "false"
        },
    );
    result
}

/// Shows an error the way a user reads it: one annotation per invalid input, else the chain.
pub fn report_error(gha: &Gha, error: &anyhow::Error) {
    if let Some(invalid) = error.downcast_ref::<InvalidInputs>() {
        for problem in &invalid.0 {
            let location = Location {
                title: Some("Invalid input"),
                ..Default::default()
            };
            gha.annotate(Level::Error, &problem.to_string(), &location);
        }
        gha.line(&format!(
            "{} invalid input(s); nothing was started",
            invalid.0.len()
        ));
    } else {
        gha.error(&format!("{error:#}"));
    }
}
