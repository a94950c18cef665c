//! `motcua outbox …`: list messages by state, replay or discard dead ones, as an operator does
//! through the API (`outbox::selection` decides what a selection covers, for both).

use crate::store::{OutboxSelector, Store};
use clap::Subcommand;

/// Which dead messages an operator's decision covers; every given condition applies.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// One message, by id.
    #[arg(long)]
    pub id: Option<i64>,
    /// Messages to one destination (`portal`, `onestop`).
    #[arg(long)]
    pub destination: Option<String>,
    /// Messages of one dossier (its MaHoSo).
    #[arg(long)]
    pub dossier: Option<String>,
    /// Messages queued since this time (`yyyyMMddHHmmss` or `yyyyMMdd`, Vietnam time).
    #[arg(long)]
    pub since: Option<String>,
    /// Every dead message (needed when no other condition is given).
    #[arg(long)]
    pub all: bool,
}

/// `motcua outbox …`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages of one state with their attempts (JSON lines).
    List {
        /// `pending`, `dead`, `delivered` or `discarded`.
        #[arg(long, default_value = "dead")]
        state: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Send dead messages again, next in line for their dossiers.
    Replay(Selection),
    /// Set dead messages aside for good, releasing their dossiers' later messages.
    Discard(Selection),
}

impl Selection {
    fn selector(&self) -> anyhow::Result<OutboxSelector> {
        crate::outbox::selection(
            self.id,
            self.destination.clone(),
            self.dossier.clone(),
            self.since.as_deref(),
            self.all,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Runs one outbox command.
pub(super) async fn outbox_command(store: &Store, command: OutboxCommand) -> anyhow::Result<()> {
    match command {
        OutboxCommand::List { state, limit } => {
            if !["pending", "dead", "delivered", "discarded"].contains(&state.as_str()) {
                anyhow::bail!("--state {state:?}: use pending, dead, delivered or discarded");
            }
            let items = store.outbox_page(&state, 0, limit.clamp(1, 10_000)).await?;
            for item in &items {
                println!("{}", crate::http::outbox::item_view(item));
            }
            // Said on stderr, so that stdout stays JSON lines for scripts.
            if items.is_empty() {
                eprintln!("no {state} messages");
            }
        }
        OutboxCommand::Replay(sel) => {
            let n = store
                .replay_outbox(&sel.selector()?, chrono::Utc::now().timestamp_millis())
                .await?;
            println!("{n} message(s) replayed");
        }
        OutboxCommand::Discard(sel) => {
            let n = store.discard_outbox(&sel.selector()?).await?;
            println!("{n} message(s) discarded");
        }
    }
    Ok(())
}
