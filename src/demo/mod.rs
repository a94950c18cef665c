//! `motcua demo`: the gateway tried end to end with no setup. A gateway on a fresh embedded
//! database in a temporary folder, the partner simulators beside it (the portal, PayGov, VNPAY
//! and two agencies), and three dossiers of three procedures (XML and JSON) taken through
//! acceptance, a supplement, a karaoke licence's two inter-agency steps (fire safety, then
//! security and order), payment through each provider, their documents fetched and verified,
//! completion and return — each step
//! printed with the dossier's status, then what the portal received. Every step is checked
//! against the contract; the demo exits non-zero at the first that does not come out as it
//! says.

use crate::app::Application;
use crate::config::{token_hash, Config};
use crate::sim::agency::AgencySim;
use crate::sim::paygov::PaygovSim;
use crate::sim::portal::{self, PortalSim};
use crate::sim::vnpay::{Paths, VnpaySim};
use crate::sim::Journal;
use anyhow::{bail, Context};
use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod account;
mod api;

pub use account::Account;
use api::{through_agency, until, Api};

/// One dossier of the demo: its fixture, the provider that collects its fees (none for a
/// procedure without fees), and the portal statuses its life must produce, in order.
struct Case {
    fixture: &'static str,
    provider: Option<&'static str>,
    supplement: bool,
    /// Inter-agency steps forwarded in turn, each answered by its agency's simulator.
    steps: &'static [&'static str],
    statuses: &'static [i64],
}

const CASES: [Case; 3] = [
    Case {
        fixture: "karaoke.xml",
        provider: Some("vnpay"),
        supplement: true,
        // Fire safety, then security and order: each forward and each of the agency's three
        // answers is a progress record synced to the portal, the dossier staying in 4.
        steps: &["nghiem-thu-pccc", "an-ninh-trat-tu"],
        statuses: &[1, 2, 4, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 4, 9, 10],
    },
    Case {
        fixture: "vu-truong.json",
        provider: Some("paygov"),
        supplement: false,
        steps: &[],
        statuses: &[1, 2, 4, 6, 4, 9, 10],
    },
    Case {
        fixture: "thu-vien.json",
        provider: None,
        supplement: false,
        steps: &[],
        statuses: &[1, 2, 4, 9, 10],
    },
];

/// Runs the demo from the repository's root (it reads `fixtures/portal/valid`), its data in a
/// temporary folder removed at the end, or in `keep` (an empty or new folder) for a look after.
pub async fn run(keep: Option<&std::path::Path>) -> anyhow::Result<Account> {
    let temporary = tempfile::tempdir()?;
    let dir = match keep {
        Some(folder) => {
            std::fs::create_dir_all(folder)?;
            if std::fs::read_dir(folder)?.next().is_some() {
                bail!(
                    "{} is not empty: the demo starts on a fresh database",
                    folder.display()
                );
            }
            folder.to_owned()
        }
        None => temporary.path().to_owned(),
    };
    let defaults = Config::from_toml("")?;
    let journal = Journal::default();
    let portal_sim = PortalSim::start(
        "127.0.0.1:0",
        "127.0.0.1:0",
        defaults.portal.outbound_secret.clone(),
        journal.clone(),
    )
    .await?;
    let paygov = PaygovSim::start(
        "127.0.0.1:0",
        &defaults.paygov.partner_code,
        defaults.paygov.secret.expose(),
        "http://127.0.0.1:9",
        journal.clone(),
    )
    .await?;
    let paths = Paths {
        pay: "/paymentv2/vpcpay.html".into(),
        api: "/merchant_webapi/api/transaction".into(),
    };
    let vnpay = VnpaySim::start(
        "127.0.0.1:0",
        &paths,
        &defaults.vnpay.tmn_code,
        defaults.vnpay.hash_secret.expose(),
        "http://127.0.0.1:9",
        journal.clone(),
    )
    .await?;
    let agency_callbacks = crate::sim::Callbacks::new("http://127.0.0.1:9", journal.clone());
    let mut agencies = String::new();
    for a in &defaults.agencies {
        let sim = AgencySim::start(
            "127.0.0.1:0",
            a.code.as_str(),
            a.secret.clone(),
            agency_callbacks.clone(),
        )
        .await?;
        agencies.push_str(&format!(
            "[[agencies]]\ncode = \"{}\"\nname = \"{}\"\nbase_url = \"http://{}\"\nsecret = \"{}\"\n",
            a.code.as_str(),
            a.name,
            sim.address,
            a.secret.expose()
        ));
    }
    let token = format!("mct_demo_{:032x}", rand::random::<u128>());
    let root = dir.display();
    let config = Config::from_toml(&format!(
        r#"clients = [{{ name = "demo", token_sha256 = "{hash}", scopes = ["dossiers:read", "dossiers:write", "payments:write", "admin"] }}]
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://{root}/motcua.db"
[portal]
base_url = "http://{sync}"
file_hosts = ["{files}"]
[paygov]
base_url = "http://{paygov}"
[vnpay]
pay_url = "http://{vnpay}{pay}"
api_url = "http://{vnpay}{api}"
[storage]
files = "{root}/files"
[audit]
anchor_file = "{root}/audit-anchors.jsonl"
[log]
level = "error"
{agencies}
"#,
        hash = token_hash(&token),
        sync = portal_sim.sync_address,
        files = portal_sim.files_address,
        paygov = paygov.address,
        vnpay = vnpay.address,
        pay = paths.pay,
        api = paths.api,
    ))?;
    let app = Application::build(config).await?;
    let gateway = format!("http://{}", app.local_addr()?);
    paygov.callbacks().set_gateway(&gateway);
    vnpay.callbacks().set_gateway(&gateway);
    agency_callbacks.set_gateway(&gateway);
    let inbound = app.state().config.portal.inbound_secrets[0].clone();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(app.run(stop.clone()));

    let mut account = Account::default();
    account.say(format!(
        "gateway on {gateway}, data in {root}; simulators: portal {}, PayGov {}, VNPAY {}",
        portal_sim.sync_address, paygov.address, vnpay.address
    ));
    let api = Api {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        gateway: gateway.clone(),
        token,
    };
    let sims = Sims {
        portal: &portal_sim,
        vnpay_address: &vnpay.address,
        journal: &journal,
    };
    let result = drive(&api, &sims, &inbound, &mut account).await;
    account.done();
    stop.cancel();
    let _ = serving.await;
    result?;
    account.say("demo passed: every step came out as the contract says".into());
    Ok(account)
}

/// The simulators `drive` talks to or reads.
struct Sims<'a> {
    portal: &'a PortalSim,
    vnpay_address: &'a str,
    journal: &'a Journal,
}

async fn drive(
    api: &Api,
    sims: &Sims<'_>,
    inbound: &crate::signing::WebhookSecret,
    account: &mut Account,
) -> anyhow::Result<()> {
    let (portal_sim, vnpay_address) = (sims.portal, sims.vnpay_address);
    for case in &CASES {
        let path = format!("fixtures/portal/valid/{}", case.fixture);
        let text = std::fs::read_to_string(&path)
            .with_context(|| {
                format!("cannot read {path} (run the demo from the repository's root)")
            })?
            .replace("127.0.0.1:9102", &portal_sim.files_address);
        let kind = if case.fixture.ends_with(".xml") {
            "application/xml"
        } else {
            "application/json"
        };
        let (status, answer) =
            portal::push(&api.client, &api.gateway, inbound, text.as_bytes(), kind).await?;
        let code = answer["MaHoSo"].as_str().unwrap_or_default().to_owned();
        if status != 201 || code.is_empty() {
            bail!(
                "{}: the portal's push answered {status} {answer}",
                case.fixture
            );
        }
        account.say(format!(
            "{code} ({}): pushed by the portal → 201, status 1",
            case.fixture
        ));
        let d = until(api, &code, "documents fetched", |d| {
            d["documents"]
                .as_array()
                .is_some_and(|docs| docs.iter().all(|x| x["state"] != "pending"))
        })
        .await?;
        let states: Vec<&str> = d["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["state"].as_str())
            .collect();
        if states.iter().any(|s| *s != "stored") {
            bail!("{code}: documents {states:?}, all should be stored");
        }
        account.say(format!(
            "{code}: {} documents fetched, hashes verified, stored",
            states.len()
        ));
        account.codes.push(code.clone());
        let mut steps = vec![("accept", 2), ("start_processing", 4)];
        if case.supplement {
            steps.extend([("request_supplement", 5), ("receive_supplement", 4)]);
        }
        for (action, to) in steps {
            let line = api.act(&code, action, to).await?;
            account.say(format!("{code}: {line}"));
        }
        for step in case.steps {
            for line in through_agency(api, &code, step).await? {
                account.say(format!("{code}: {line}"));
            }
        }
        if !case.steps.is_empty() {
            // Each agency fetched what was forwarded before it answered.
            let verified = sims
                .journal
                .lines()
                .iter()
                .filter(|l| l.starts_with("agency ") && l.ends_with("fetched, hash verified"))
                .count();
            if verified < case.steps.len() {
                bail!("{code}: the agencies verified {verified} forwarded documents, expected one per step");
            }
            account.say(format!(
                "{code}: each agency fetched its forwarded documents from the gateway with a signed request, hashes verified ({verified})"
            ));
        }
        if let Some(provider) = case.provider {
            pay(api, &code, provider, vnpay_address, account).await?;
        }
        for (action, to) in [("complete", 9), ("return_result", 10)] {
            let line = api.act(&code, action, to).await?;
            account.say(format!("{code}: {line}"));
        }
    }
    // What the portal received: every status change, in order, signed.
    for (case, code) in CASES.iter().zip(account.codes.clone()) {
        let mut received = Vec::new();
        for _ in 0..300 {
            received = portal_sim
                .syncs()
                .into_iter()
                .filter(|s| s.verified && s.body["MaHoSo"] == code.as_str())
                .filter_map(|s| s.body["TrangThaiHoSo"].as_i64())
                .collect();
            if received.len() >= case.statuses.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if received != case.statuses {
            bail!(
                "{code}: the portal received statuses {received:?}, expected {:?}",
                case.statuses
            );
        }
        account.say(format!(
            "{code}: the portal received {} signed syncs, in order: {received:?}",
            received.len()
        ));
    }
    Ok(())
}

async fn pay(
    api: &Api,
    code: &str,
    provider: &str,
    vnpay_address: &str,
    account: &mut Account,
) -> anyhow::Result<()> {
    let (status, created) = api
        .post(
            &format!("/api/v1/dossiers/{code}/payments"),
            &json!({"provider": provider}),
        )
        .await?;
    let (Some(url), Some(reference)) =
        (created["pay_url"].as_str(), created["payment_ref"].as_str())
    else {
        bail!("{code}: the payment request answered {status} {created}");
    };
    account.say(format!(
        "{code}: request_payment → 6, {} đồng through {provider}",
        created["amount"]
    ));
    let paid = match provider {
        "paygov" => {
            api.client
                .post(url)
                .form(&[("outcome", "pay")])
                .send()
                .await?
        }
        _ => {
            api.client.get(url).send().await?.error_for_status()?;
            api.client
                .post(format!("http://{vnpay_address}/sim/pay"))
                .form(&[("reference", reference), ("outcome", "pay")])
                .send()
                .await?
        }
    };
    if !(paid.status().is_success() || paid.status().is_redirection()) {
        bail!(
            "{code}: the {provider} simulator's page answered {}",
            paid.status()
        );
    }
    let d = until(api, code, "the payment confirmed", |d| {
        d["TrangThaiHoSo"] == 4
    })
    .await?;
    let state = d["payments"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if state != "paid" {
        bail!("{code}: the payment is {state}, expected paid");
    }
    account.say(format!(
        "{code}: paid on the {provider} simulator, its signed callback accepted → 4"
    ));
    Ok(())
}
