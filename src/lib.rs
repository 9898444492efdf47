//! ecs-loadtest: run load tests on AWS Fargate from GitHub Actions or a terminal.
//!
//! The pipeline runs one way: inputs -> plan -> launch -> watch -> outcome -> report -> exit status.

pub mod aws;
pub mod backend;
pub mod cli;
pub mod context;
pub mod gha;
pub mod github;
pub mod image;
pub mod inputs;
pub mod launch;
pub mod logs;
pub mod outcome;
pub mod plan;
pub mod report;
pub mod results;
pub mod run;
pub mod signals;
pub mod split;
pub mod stop;
pub mod taskdef;
pub mod validate;
pub mod watch;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};
use crate::context::RunContext;
use crate::gha::{Gha, Level, Location};
use crate::inputs::Inputs;
use crate::validate::InvalidInputs;

/// Exit status when the inputs are invalid and nothing was started.
pub const EXIT_INVALID_INPUTS: u8 = 2;

pub async fn run(cli: Cli, gha: &Gha) -> Result<u8> {
    let context = RunContext::from_env();
    match cli.command {
        Some(Command::Plan(flags)) => {
            let plan = validate::plan(&flags.or(Inputs::from_env()?)?, &context)?;
            gha.line(&serde_json::to_string_pretty(&plan).context("printing the plan")?);
            Ok(0)
        }
        Some(Command::Run(flags)) => run_and_set_status(flags, &context, gha).await,
        Some(Command::Cleanup(flags)) => {
            // Inputs that were invalid in the main step started nothing there.
            match validate::plan(&flags.or(Inputs::from_env()?)?, &context) {
                Ok(plan) => run::cleanup(plan, gha).await.map(|()| 0),
                Err(_) => {
                    gha.line(
                        "The inputs are invalid, so the step started no task; nothing to clean up",
                    );
                    Ok(0)
                }
            }
        }
        None => run_and_set_status(Inputs::default(), &context, gha).await,
    }
}

async fn run_and_set_status(flags: Inputs, context: &RunContext, gha: &Gha) -> Result<u8> {
    // Installed first, so that a signal at any later point is handled rather than fatal.
    let mut shutdown = signals::Shutdown::install()?;
    let result = async {
        let inputs = flags.or(Inputs::from_env()?)?;
        // Registered before anything could print it.
        if let Some(token) = inputs::given(&inputs.github_token) {
            gha.mask(token);
        }
        let plan = validate::plan(&inputs, context)?;
        run::run(plan, gha, &mut shutdown).await
    }
    .await;
    let status = match &result {
        Ok(status) => *status,
        Err(error) => exit_status_of(error),
    };
    gha.set_output("exit-code", &status.to_string())?;
    gha.set_output("passed", if status == 0 { "true" } else { "false" })?;
    result
}

/// The exit status an error maps to (DESIGN.md): 2 for invalid inputs, else 1.
pub fn exit_status_of(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<InvalidInputs>().is_some() {
        EXIT_INVALID_INPUTS
    } else {
        1
    }
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
