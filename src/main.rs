//! The `motcua` binary: parse the command line and run it; everything else is in the library.

use clap::Parser;
use motcua_gateway::cli::{run, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("motcua: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
