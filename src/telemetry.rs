//! Logging: one `tracing` subscriber on stderr, text for people or JSON lines for collectors,
//! filtered by `log.level` (or `RUST_LOG` when set). Colours only on a terminal.

use crate::config::LogConfig;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call does nothing.
pub fn init(config: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.format == crate::config::LogFormat::Json {
        builder.with_ansi(false).without_time().try_init()
    } else {
        // Colours for a person at a terminal; plain text for a file, a pipe or journald.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        builder.with_ansi(terminal).try_init()
    };
}
