use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

/// Invoked under this name, the binary runs `cleanup`: the action's `post-entrypoint` is one
/// executable path passed to `docker run --entrypoint`, with no room for a subcommand.
const CLEANUP_NAME: &str = "ecs-loadtest-cleanup";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args
        .first()
        .and_then(|program| Path::new(program).file_name())
        .is_some_and(|name| name == CLEANUP_NAME)
    {
        args.insert(1, "cleanup".into());
    }
    let cli = ecs_loadtest::cli::Cli::parse_from(args);
    let gha = ecs_loadtest::gha::Gha::from_env();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(ecs_loadtest::run(cli, &gha)));
    match result {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            ecs_loadtest::report_error(&gha, &error);
            ExitCode::from(ecs_loadtest::exit_status_of(&error))
        }
    }
}
