//! The `motcua` command line: serve, migrate, check mappings, operate the outbox, verify the
//! stored documents, make client tokens.

mod audit;
mod files;
mod outbox;
mod report;
mod serve;
mod sim;
mod token;

pub use audit::AuditCommand;
pub use files::FilesCommand;
pub use outbox::{OutboxCommand, Selection};
pub use sim::SimCommand;

use crate::config::Config;
use crate::dossiers::check;
use crate::store::Store;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// motcua-gateway: the Department of Culture and Sports' integration gateway.
#[derive(Debug, Parser)]
#[command(name = "motcua", version, about)]
pub struct Cli {
    /// A TOML file layered over the shipped defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (HTTP server and workers) until SIGTERM or SIGINT.
    Serve,
    /// Apply the database schema.
    Migrate,
    /// Procedure mappings.
    Mappings {
        /// What to do with them.
        #[command(subcommand)]
        command: MappingsCommand,
    },
    /// The delivery outbox: list messages, replay or discard dead ones.
    Outbox {
        /// What to do.
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// The dossiers' stored documents.
    Files {
        /// What to do.
        #[command(subcommand)]
        command: FilesCommand,
    },
    /// The tamper-evident partner message log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The gateway and the partners' simulators end to end on a fresh database: three
    /// dossiers through their whole life, every step checked.
    Demo {
        /// Keep the demo's database, documents and log in this (new or empty) folder.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Partner simulators: the city portal, PayGov, VNPAY.
    Sim {
        /// Which.
        #[command(subcommand)]
        command: SimCommand,
    },
    /// The load harness: start a gateway on a fresh database and measure it (release build).
    Bench(crate::bench::BenchArgs),
    /// Several gateways on one fresh PostgreSQL database under load, a failing portal and
    /// instances killed at random; checks that nothing answered was lost or done twice.
    Soak(crate::soak::SoakArgs),
    /// The configuration.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the internal API's OpenAPI 3 document (the one `/api/v1/openapi.json` serves).
    Openapi,
    /// Reports: the city's monthly indicators.
    Report {
        /// Which report.
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Internal API client tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// `motcua mappings …`.
#[derive(Debug, Subcommand)]
pub enum MappingsCommand {
    /// Load every mapping and run every fixture through it, and read the working calendar's
    /// year files; name each problem.
    Check {
        /// Folder of mappings (default: `mappings.dir` of the configuration).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Folder holding valid/ and invalid/ fixtures.
        #[arg(long, default_value = "fixtures/portal")]
        fixtures: PathBuf,
    },
}

/// `motcua report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The city's monthly indicators per procedure and in total, as
    /// `GET /api/v1/reports/indicators` gives them.
    Indicators {
        /// The month, `YYYY-MM` (Vietnam time).
        #[arg(long)]
        month: String,
        /// CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

/// `motcua config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration as `serve` would, print it in effect (defaults, file and
    /// environment merged) with its secrets redacted, and name the published test secrets still
    /// in use.
    Check,
}

/// `motcua token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a new random token and print it with the `[[clients]]` entry to configure.
    New {
        /// The client's name.
        name: String,
        /// Its scopes, separated by commas: dossiers:read, dossiers:write, payments:write, admin.
        #[arg(long, value_delimiter = ',', default_value = "dossiers:read")]
        scopes: Vec<String>,
        /// Also add the client to this configuration file (created if missing).
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve::serve(config, cli.config).await,
        Command::Migrate => {
            crate::telemetry::init(&config.log);
            let store = Store::connect(&config.database.url, 1)
                .await
                .context("cannot open the database")?;
            store.migrate().await?;
            store.close().await;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Mappings {
            command: MappingsCommand::Check { dir, fixtures },
        } => {
            let dir = dir.unwrap_or_else(|| config.mappings.dir.clone());
            let bar = crate::progress::bar("fixtures");
            let agencies = config.agency_codes();
            let report = check::check_with(&dir, &fixtures, &agencies, &mut |done, of| {
                bar.set_length(of as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            for p in &report.problems {
                eprintln!("{p}");
            }
            // The calendar's files are read as `serve` reads them, so that a year file edited
            // when its notice comes out is checked before a restart.
            let calendar = config
                .calendar
                .load_years()
                .context("the working calendar does not load")?;
            if report.passed() {
                let years: Vec<String> = calendar
                    .years()
                    .map(|(year, rules)| {
                        let state = if rules.confirmed {
                            "announced"
                        } else {
                            "provisional"
                        };
                        format!("{year} {state}")
                    })
                    .collect();
                println!(
                    "mappings ok: {} procedures in {} dated versions, {} valid fixtures accepted, {} invalid fixtures rejected; calendar: {}",
                    report.procedures,
                    report.versions,
                    report.valid_ok,
                    report.invalid_ok,
                    years.join(", ")
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "{} problem(s) in the mappings or fixtures",
                    report.problems.len()
                )
            }
        }
        Command::Outbox { command } => {
            let store = Store::connect(&config.database.url, 2)
                .await
                .context("cannot open the database")?;
            let result = outbox::outbox_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Soak(args) => {
            if crate::soak::run(args).await? {
                Ok(())
            } else {
                anyhow::bail!("the soak found violations (listed above)")
            }
        }
        Command::Files { command } => files::run(&config, command).await,
        Command::Sim { command } => sim::run(&config, command).await,
        Command::Demo { keep } => crate::demo::run(keep.as_deref()).await.map(drop),
        Command::Report {
            command: ReportCommand::Indicators { month, csv },
        } => report::run(&config, &month, csv).await,
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(crate::http::openapi::document())?
            );
            Ok(())
        }
        Command::Audit { command } => {
            let store = Store::connect(&config.database.url, 2)
                .await
                .context("cannot open the database")?;
            let result = audit::audit_command(&store, &config, command).await;
            store.close().await;
            result
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print!("{}", Config::effective_toml(cli.config.as_deref())?);
            let published = config.test_secrets_in_use();
            if published.is_empty() {
                println!("\n# no published test secret is in use");
            } else {
                println!(
                    "\n# published test secrets still in use (replace before production): {}",
                    published.join(", ")
                );
            }
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::New {
                    name,
                    scopes,
                    write,
                },
        } => token::new_token(&name, &scopes, write.as_deref()),
    }
}
