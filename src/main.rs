//! The `motcua` binary: parse the command line and run it; everything else is in the library.

use clap::Parser;
use motcua_gateway::cli::{run, Cli};

/// mimalloc instead of glibc's malloc: the profiles of intake and of the paged list spent a
/// quarter of the gateway's CPU in glibc's `malloc`, `free` and `malloc_consolidate`
/// (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
