//! `motcua sim portal|paygov|vnpay|agency`: one partner simulator, listening where the configuration
//! points the gateway (so a gateway started with the same configuration talks to it), printing
//! what it sees, until Ctrl-C. The portal can also push dossiers: the files given, or the valid
//! fixtures.

use crate::config::Config;
use crate::sim::{listen_address, paygov::PaygovSim, portal, vnpay, Journal};
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

/// `motcua sim …`.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The city portal: takes status syncs on portal.base_url, serves the dossiers' files on the
    /// first of portal.file_hosts, and pushes dossiers with --push.
    Portal {
        /// The gateway pushed to (and whose syncs are expected).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
        /// How syncs are answered: 200, error:<code>, a status such as 503, or delay:<duration>.
        #[arg(long, default_value = "200")]
        reply: String,
        /// Push dossiers on start: the files given, or every valid fixture.
        #[arg(long)]
        push: bool,
        /// Dossier files (XML or JSON) to push.
        files: Vec<PathBuf>,
    },
    /// PayGov: INIT and QUERY on paygov.base_url, a payment page, signed CONFIRMs.
    Paygov {
        /// The gateway its confirmations go to.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
    },
    /// An agency of [[agencies]]: takes forwarded steps on its base_url, fetches their
    /// documents, and answers each back, signed with its secret.
    Agency {
        /// The agency's code (its e-ID); the first configured when not given.
        #[arg(long)]
        code: Option<String>,
        /// The gateway its answers go to.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
        /// How each step is answered: done, refused, late:<duration> or none.
        #[arg(long, default_value = "done")]
        answer: String,
    },
    /// VNPAY: the payment page on vnpay.pay_url, signed IPNs, querydr on vnpay.api_url.
    Vnpay {
        /// The gateway its IPNs go to.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
    },
}

/// Runs a simulator until Ctrl-C.
pub async fn run(config: &Config, command: SimCommand) -> anyhow::Result<()> {
    let journal = Journal::printing();
    match command {
        SimCommand::Agency {
            code,
            gateway,
            answer,
        } => {
            let agency = match &code {
                Some(c) => config.agencies.iter().find(|a| a.code.as_str() == c),
                None => config.agencies.first(),
            }
            .context("no such agency in [[agencies]]")?;
            let sim = crate::sim::agency::AgencySim::start(
                &listen_address(agency.base_url.as_str())?,
                agency.code.as_str(),
                agency.secret.clone(),
                crate::sim::Callbacks::new(&gateway, journal.clone()),
            )
            .await?;
            sim.set_outcome(crate::sim::agency::StepOutcome::parse(&answer)?);
            println!(
                "agency simulator {} ({}): steps on http://{}/lienthong/v1/dossiers",
                agency.code.as_str(),
                agency.name,
                sim.address
            );
        }
        SimCommand::Portal {
            gateway,
            reply,
            push,
            files,
        } => {
            let file_host = config.portal.file_hosts.first().context(
                "portal.file_hosts is empty: the simulator serves files on its first host",
            )?;
            let sim = portal::PortalSim::start(
                &listen_address(config.portal.base_url.as_str())?,
                file_host,
                config.portal.outbound_secret.clone(),
                journal.clone(),
            )
            .await?;
            sim.set_reply(portal::SyncReply::parse(&reply)?);
            println!(
                "portal simulator: syncs on http://{}/dossiers/sync, files on http://{}/files/",
                sim.sync_address, sim.files_address
            );
            if push {
                let secret = config
                    .portal
                    .inbound_secrets
                    .first()
                    .context("portal.inbound_secrets is empty")?;
                let files = if files.is_empty() { fixtures()? } else { files };
                let client = reqwest::Client::new();
                for file in files {
                    let body = std::fs::read(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    let kind = if file.extension().is_some_and(|e| e == "xml") {
                        "application/xml"
                    } else {
                        "application/json"
                    };
                    let (status, answer) =
                        portal::push(&client, &gateway, secret, &body, kind).await?;
                    journal.note(format!(
                        "portal: pushed {} → {status} {answer}",
                        file.display()
                    ));
                }
            }
        }
        SimCommand::Paygov { gateway } => {
            let sim = PaygovSim::start(
                &listen_address(config.paygov.base_url.as_str())?,
                &config.paygov.partner_code,
                config.paygov.secret.expose(),
                &gateway,
                journal,
            )
            .await?;
            println!("PayGov simulator on http://{}", sim.address);
        }
        SimCommand::Vnpay { gateway } => {
            let pay = url::Url::parse(config.vnpay.pay_url.as_str())?;
            let api = url::Url::parse(config.vnpay.api_url.as_str())?;
            let sim = vnpay::VnpaySim::start(
                &listen_address(pay.as_str())?,
                &vnpay::Paths {
                    pay: pay.path().to_owned(),
                    api: api.path().to_owned(),
                },
                &config.vnpay.tmn_code,
                config.vnpay.hash_secret.expose(),
                &gateway,
                journal,
            )
            .await?;
            println!("VNPAY simulator on http://{}", sim.address);
        }
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// The valid fixtures, in name order.
fn fixtures() -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("fixtures/portal/valid")
        .context(
            "cannot read fixtures/portal/valid (run from the repository's root, or name files)",
        )?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}
