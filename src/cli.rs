//! Command-line interface. With no subcommand the binary does what the action does: `run`, with
//! the inputs from `INPUT_*` variables. Flags set the same inputs and win over the environment.

use clap::{Parser, Subcommand};

use crate::generate::GenerateArgs;
use crate::history::HistoryArgs;
use crate::inputs::Inputs;
use crate::wrap::WrapArgs;

#[derive(Debug, Parser)]
#[command(name = "ecs-loadtest", version, about = "Run load tests on AWS Fargate", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the tasks, follow them to the end and exit with the test's status (the default)
    Run(Inputs),
    /// Validate the inputs and print the plan as JSON; makes no network call
    Plan(Inputs),
    /// Stop every task this workflow run attempt started that is still running (the action's
    /// post step)
    Cleanup(Inputs),
    /// Send HTTP load and print the result line: the built-in tester the tasks run
    Generate(GenerateArgs),
    /// Run a tester (k6) with this task's share of the load from START_AT, and print its progress
    /// and result lines: `ecs-loadtest wrap k6 -- k6 run load.js`
    Wrap(WrapArgs),
    /// Print a test's recent runs from the results table (`results-table`), newest first
    History(HistoryArgs),
}
