use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ecs_loadtest::cli::Cli::parse();
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
