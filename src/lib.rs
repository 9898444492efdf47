//! ecs-loadtest: run load tests on AWS Fargate from GitHub Actions or a terminal.
//!
//! The pipeline runs one way: inputs -> plan -> backend (prepare, launch, watch) -> outcomes ->
//! results -> verdict -> report -> exit status. `src/ARCHITECTURE.md` is the map.

mod aws;
mod backend;
pub mod cli;
mod event;
mod exit;
pub mod gha;
mod github;
mod image;
mod inputs;
mod launch;
mod logs;
mod outcome;
mod plan;
mod report;
mod results;
mod run;
mod signals;
mod stop;
mod task;
mod watch;
mod workflow;

use anyhow::{Context, Result};

use crate::backend::{configure, dispatch};
use crate::cli::{Cli, Command};
use crate::gha::{Gha, Level, Location};
use crate::inputs::Inputs;
use crate::plan::InvalidInputs;
use crate::run::{CleanupCommand, RunCommand};
use crate::workflow::WorkflowEnv;

pub use crate::exit::of_error as exit_status_of;

pub async fn run(cli: Cli, gha: &Gha) -> Result<u8> {
    let workflow = WorkflowEnv::from_env();
    match cli.command {
        Some(Command::Plan(flags)) => {
            let configured = configure(&flags.or(Inputs::from_env()?)?, &workflow)?;
            gha.line(&serde_json::to_string_pretty(&configured).context("printing the plan")?);
            Ok(exit::PASSED)
        }
        Some(Command::Run(flags)) => run_and_set_status(flags, &workflow, gha).await,
        Some(Command::Cleanup(flags)) => {
            // Inputs that were invalid in the main step started nothing there.
            match configure(&flags.or(Inputs::from_env()?)?, &workflow) {
                Ok(configured) => {
                    let command = CleanupCommand {
                        plan: configured.plan,
                        gha,
                    };
                    dispatch(configured.backend, command).await?;
                    Ok(exit::PASSED)
                }
                Err(_) => {
                    gha.line(
                        "The inputs are invalid, so the step started no task; nothing to clean up",
                    );
                    Ok(exit::PASSED)
                }
            }
        }
        None => run_and_set_status(Inputs::default(), &workflow, gha).await,
    }
}

async fn run_and_set_status(flags: Inputs, workflow: &WorkflowEnv, gha: &Gha) -> Result<u8> {
    // Installed first, so that a signal at any later point is handled rather than fatal.
    let mut shutdown = signals::Shutdown::install()?;
    let result = async {
        let inputs = flags.or(Inputs::from_env()?)?;
        // Registered before anything could print it.
        if let Some(token) = inputs::given(&inputs.github_token) {
            gha.mask(token);
        }
        let configured = configure(&inputs, workflow)?;
        let command = RunCommand {
            plan: configured.plan,
            gha,
            shutdown: &mut shutdown,
        };
        dispatch(configured.backend, command).await
    }
    .await;
    let status = match &result {
        Ok(status) => *status,
        Err(error) => exit::of_error(error),
    };
    gha.set_output("exit-code", &status.to_string())?;
    gha.set_output(
        "passed",
        if status == exit::PASSED {
            "true"
        } else {
            "false"
        },
    )?;
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
