//! The gateway driven by its own partner simulators (contract section 7), not by the tests'
//! doubles: the portal's push, its status syncs and documents, a PayGov payment and a VNPAY
//! payment, end to end over HTTP.

use crate::helpers::*;
use crate::lifecycle::{act, dossier_in, step};
use crate::payments::request;
use motcua_gateway::config::Config;
use motcua_gateway::sim::paygov::PaygovSim;
use motcua_gateway::sim::portal::{self, PortalSim, SyncReply};
use motcua_gateway::sim::vnpay::{Paths, VnpaySim};
use motcua_gateway::sim::Journal;

fn defaults() -> Config {
    Config::from_toml("").unwrap()
}

async fn status_of(app: &TestApp, code: &str) -> (i64, Vec<String>) {
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    let payments = d["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["provider"].as_str().unwrap(),
                p["state"].as_str().unwrap()
            )
        })
        .collect();
    (d["TrangThaiHoSo"].as_i64().unwrap(), payments)
}

#[tokio::test]
async fn the_portal_simulator_pushes_receives_verified_syncs_and_serves_true_files() {
    let config = defaults();
    let sim = PortalSim::start(
        "127.0.0.1:0",
        "127.0.0.1:0",
        config.portal.outbound_secret.clone(),
        Journal::default(),
    )
    .await
    .unwrap();
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"http://{}\"\nfile_hosts = [\"{}\"]\n",
        sim.sync_address, sim.files_address
    ))
    .await;
    // A fixture as shipped, its files' host moved to where this simulator serves them.
    let text = String::from_utf8(fixture("valid/karaoke.xml"))
        .unwrap()
        .replace("127.0.0.1:9102", &sim.files_address);
    let client = reqwest::Client::new();
    let secret = &config.portal.inbound_secrets[0];
    let (status, answer) = portal::push(
        &client,
        &app.address,
        secret,
        text.as_bytes(),
        "application/xml",
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{answer}");
    let code = answer["MaHoSo"].as_str().unwrap().to_owned();

    app.worker.dispatch_all_pending().await.unwrap();
    let syncs = sim.syncs();
    assert_eq!(syncs.len(), 1);
    assert!(
        syncs[0].verified,
        "the gateway's signature verifies with portal.outbound_secret"
    );
    assert_eq!(
        (
            syncs[0].body["MaHoSo"].as_str(),
            syncs[0].body["TrangThaiHoSo"].as_i64()
        ),
        (Some(code.as_str()), Some(1))
    );

    // An outage rehearsed: the next sync is answered 503 and stays pending.
    sim.set_reply(SyncReply::parse("503").unwrap());
    assert_eq!(act(&app, &code, step("accept")).await.0, 200);
    app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!(sim.syncs().len(), 2);
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(
        (
            d["sync"]["pending"].as_i64(),
            d["sync"]["delivered"].as_i64()
        ),
        (Some(1), Some(1))
    );

    // The dossier's files, as the fixture lists them, are stored.
    let mut states = Vec::new();
    for (_, outcome) in app.fetcher.fetch_due().await.unwrap() {
        states.push(format!("{outcome:?}"));
    }
    assert_eq!(states.len(), 2);
    assert!(
        states.iter().all(|s| s.contains("\"stored\"")),
        "{states:?}"
    );

    // A reply that is not one is refused with the reason.
    assert!(SyncReply::parse("soon").is_err());
    assert_eq!(
        SyncReply::parse("error:99").unwrap(),
        SyncReply::ErrorCode("99".into())
    );
}

#[tokio::test]
async fn a_citizen_pays_on_the_paygov_simulator_and_the_dossier_moves_on() {
    let config = defaults();
    let sim = PaygovSim::start(
        "127.0.0.1:0",
        &config.paygov.partner_code,
        config.paygov.secret.expose(),
        "http://127.0.0.1:9",
        Journal::default(),
    )
    .await
    .unwrap();
    let app = spawn_app_with(&format!(
        "[paygov]\nbase_url = \"http://{}\"\n",
        sim.address
    ))
    .await;
    sim.callbacks().set_gateway(&app.address);
    let code = dossier_in(&app, 4, "SIM-PG-1").await;
    let (status, created) = request(&app, &code, "paygov").await;
    assert_eq!(status, 201, "{created}");
    let pay_url = created["pay_url"].as_str().unwrap().to_owned();
    assert!(
        pay_url.starts_with(&format!("http://{}/pay/", sim.address)),
        "{pay_url}"
    );
    assert_eq!(
        status_of(&app, &code).await,
        (6, vec!["paygov pending".to_owned()])
    );

    let client = reqwest::Client::new();
    let page = client
        .get(&pay_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Thanh toán") && page.contains("3000000"),
        "{page}"
    );
    // Paid, the confirmation sent twice as a provider may.
    let done = client
        .post(&pay_url)
        .form(&[("outcome", "pay"), ("times", "2")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        done.contains("00, 00"),
        "both confirmations accepted: {done}"
    );
    assert_eq!(
        status_of(&app, &code).await,
        (4, vec!["paygov paid".to_owned()])
    );
    let lines = sim.callbacks().journal().lines();
    assert!(
        lines.iter().any(|l| l.starts_with("paygov: INIT ")),
        "{lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("→ gateway MaLoi 00") && l.contains("signed"))
            .count(),
        2,
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_citizen_pays_on_the_vnpay_simulator_and_lands_on_the_return_page() {
    let config = defaults();
    let sim = VnpaySim::start(
        "127.0.0.1:0",
        &Paths {
            pay: "/paymentv2/vpcpay.html".into(),
            api: "/merchant_webapi/api/transaction".into(),
        },
        &config.vnpay.tmn_code,
        config.vnpay.hash_secret.expose(),
        "http://127.0.0.1:9",
        Journal::default(),
    )
    .await
    .unwrap();
    let app = spawn_app_with(&format!(
        "[vnpay]\npay_url = \"http://{a}/paymentv2/vpcpay.html\"\n\
         api_url = \"http://{a}/merchant_webapi/api/transaction\"\n\
         return_url = \"http://127.0.0.1:9/payment/vnpay/return\"\n",
        a = sim.address
    ))
    .await;
    sim.callbacks().set_gateway(&app.address);
    let code = dossier_in(&app, 4, "SIM-VNP-1").await;
    let (status, created) = request(&app, &code, "vnpay").await;
    assert_eq!(status, 201, "{created}");
    let pay_url = created["pay_url"].as_str().unwrap().to_owned();
    let reference = created["payment_ref"].as_str().unwrap().to_owned();

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(&pay_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the payment URL's signature verifies");
    // A tampered URL is refused by the simulator, as VNPAY would.
    let tampered = pay_url.replace("vnp_Amount=300000000", "vnp_Amount=100");
    assert_eq!(client.get(&tampered).send().await.unwrap().status(), 400);

    let paid = client
        .post(format!("http://{}/sim/pay", sim.address))
        .form(&[("reference", reference.as_str()), ("outcome", "pay")])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with("http://127.0.0.1:9/payment/vnpay/return?"),
        "{back}"
    );
    assert_eq!(
        status_of(&app, &code).await,
        (4, vec!["vnpay paid".to_owned()])
    );
    let lines = sim.callbacks().journal().lines();
    assert!(
        lines.iter().any(|l| l.contains("→ gateway RspCode 00")),
        "{lines:?}"
    );

    // The browser lands on the department's return page, which verifies the result.
    let query = back.split_once('?').unwrap().1;
    let landing = client
        .get(app.url(&format!("/payment/vnpay/return?{query}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("Đã ghi nhận thanh toán"), "{landing}");

    // querydr answers the payment's state, signed as VNPAY signs it.
    let answer: serde_json::Value = client
        .post(format!(
            "http://{}/merchant_webapi/api/transaction",
            sim.address
        ))
        .json(&serde_json::json!({"vnp_TxnRef": reference}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["vnp_TransactionStatus"], "00");
    assert!(motcua_gateway::payment::vnpay::verify_querydr_answer(
        &answer,
        config.vnpay.hash_secret.expose()
    ));
}

#[tokio::test]
async fn motcua_sim_portal_pushes_to_a_running_gateway_and_sees_its_sync_and_fetches() {
    use tokio::io::AsyncBufReadExt;
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::process::write_config(dir.path(), &db.url);
    let (sync_at, files_at) = (dead_address().await, dead_address().await);
    let files_host = files_at.trim_start_matches("http://").to_owned();
    let hosts = format!("[\"{files_host}\"]");
    let envs = [
        ("MOTCUA__PORTAL__BASE_URL", sync_at.as_str()),
        ("MOTCUA__PORTAL__FILE_HOSTS", hosts.as_str()),
        ("MOTCUA__OUTBOX__WORKER", "true"),
        ("MOTCUA__STORAGE__FETCHER", "true"),
    ];
    let gw = crate::process::start_with(&config, &envs).await;
    // The fixture's files are listed on 127.0.0.1:9102; this run's simulator serves them
    // elsewhere, so the pushed copy names its host.
    let body = String::from_utf8(fixture("valid/karaoke.json"))
        .unwrap()
        .replace("127.0.0.1:9102", &files_host);
    let pushed = dir.path().join("karaoke.json");
    std::fs::write(&pushed, body).unwrap();
    let mut sim = tokio::process::Command::new(crate::process::BIN)
        .args([
            "--config",
            config.to_str().unwrap(),
            "sim",
            "portal",
            "--push",
            "--gateway",
            &gw.address,
        ])
        .arg(&pushed)
        .envs(envs)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(sim.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let wanted = |seen: &[String]| {
        seen.iter().any(|l| l.contains("→ 201"))
            && seen
                .iter()
                .any(|l| l.contains("TrangThaiHoSo 1 (signature verified)"))
            && seen
                .iter()
                .filter(|l| l.starts_with("portal: file "))
                .count()
                == 2
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while !wanted(&seen) {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the simulator runs");
            seen.push(line);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{seen:#?}"));
    sim.start_kill().unwrap();
}

#[tokio::test]
async fn payments_whose_callbacks_are_lost_are_found_by_reconciliation_through_the_simulators() {
    let config = defaults();
    let paygov = PaygovSim::start(
        "127.0.0.1:0",
        &config.paygov.partner_code,
        config.paygov.secret.expose(),
        "http://127.0.0.1:9",
        Journal::default(),
    )
    .await
    .unwrap();
    let vnpay = VnpaySim::start(
        "127.0.0.1:0",
        &Paths {
            pay: "/paymentv2/vpcpay.html".into(),
            api: "/merchant_webapi/api/transaction".into(),
        },
        &config.vnpay.tmn_code,
        config.vnpay.hash_secret.expose(),
        "http://127.0.0.1:9",
        Journal::default(),
    )
    .await
    .unwrap();
    let app = spawn_app_with(&format!(
        "[paygov]\nbase_url = \"http://{p}\"\n[vnpay]\npay_url = \"http://{v}/paymentv2/vpcpay.html\"\n\
         api_url = \"http://{v}/merchant_webapi/api/transaction\"\n",
        p = paygov.address,
        v = vnpay.address
    ))
    .await;
    paygov.callbacks().set_gateway(&app.address);
    vnpay.callbacks().set_gateway(&app.address);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut codes = Vec::new();
    for (id, provider) in [("SIM-LOST-PG", "paygov"), ("SIM-LOST-VNP", "vnpay")] {
        let code = dossier_in(&app, 4, id).await;
        let (_, created) = request(&app, &code, provider).await;
        let (url, reference) = (
            created["pay_url"].as_str().unwrap(),
            created["payment_ref"].as_str().unwrap(),
        );
        let paid = match provider {
            "paygov" => client.post(url).form(&[("outcome", "pay"), ("lost", "1")]),
            _ => {
                client.get(url).send().await.unwrap();
                client
                    .post(format!("http://{}/sim/pay", vnpay.address))
                    .form(&[("reference", reference), ("outcome", "pay"), ("lost", "1")])
            }
        }
        .send()
        .await
        .unwrap();
        assert!(paid.status().is_success() || paid.status().is_redirection());
        assert_eq!(
            status_of(&app, &code).await,
            (6, vec![format!("{provider} pending")]),
            "the callback never came"
        );
        codes.push((code, provider));
    }
    let settled = app
        .worker_payments()
        .reconcile_once(
            std::time::Duration::ZERO,
            std::time::Duration::from_secs(86_400),
            chrono::Utc::now() + chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(settled, 2, "QUERY and querydr answered paid, signed");
    for (code, provider) in codes {
        assert_eq!(
            status_of(&app, &code).await,
            (4, vec![format!("{provider} paid")])
        );
    }
    assert!(paygov
        .callbacks()
        .journal()
        .lines()
        .iter()
        .any(|l| l.starts_with("paygov: QUERY ") && l.contains("\"TrangThaiGD\":\"1\"")));
    assert!(vnpay
        .callbacks()
        .journal()
        .lines()
        .iter()
        .any(|l| l.contains("querydr") && l.contains("vnp_TransactionStatus 00")));
}

#[tokio::test]
async fn the_agency_simulator_verifies_a_forwarded_step_and_answers_it_signed() {
    use motcua_gateway::sim::agency::{AgencySim, StepOutcome};
    use motcua_gateway::sim::Callbacks;
    let config = defaults();
    let pc07 = &config.agencies[0];
    let journal = Journal::default();
    let callbacks = Callbacks::new("http://127.0.0.1:9", journal.clone());
    let sim = AgencySim::start(
        "127.0.0.1:0",
        pc07.code.as_str(),
        pc07.secret.clone(),
        callbacks.clone(),
    )
    .await
    .unwrap();
    sim.set_outcome(StepOutcome::Refused);
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"{}\"\n[outbox]\nworker = false\n\
         [[agencies]]\ncode = \"{}\"\nname = \"PC07\"\nbase_url = \"http://{}\"\nsecret = \"{}\"\n\
         [[agencies]]\ncode = \"{}\"\nname = \"PC06\"\nbase_url = \"http://127.0.0.1:9\"\nsecret = \"{}\"\n",
        portal.address,
        pc07.code.as_str(),
        sim.address,
        pc07.secret.expose(),
        config.agencies[1].code.as_str(),
        config.agencies[1].secret.expose(),
    ))
    .await;
    callbacks.set_gateway(&app.address);
    let code = crate::agencies::processing(&app, "karaoke.json", "SIM-AG-1").await;
    let (s, d) = crate::agencies::forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200, "{d}");
    app.worker.dispatch_all_pending().await.unwrap();
    assert!(
        journal
            .wait_for("answered \"refused\"", std::time::Duration::from_secs(30))
            .await,
        "{:?}",
        journal.lines()
    );
    let lines = journal.lines();
    assert!(lines[0].contains("step nghiem-thu-pccc of"), "{lines:?}");
    assert!(lines[0].ends_with("signature verified"), "{lines:?}");
    assert_eq!(
        lines[1], "agency 000.20.07.H29: document don-de-nghi.pdf: the gateway answered 409",
        "its document asked for with a signed request, and not stored yet here (409 NOT_STORED, \
         not 401): {lines:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.contains("answered \"received\"") && l.ends_with("→ 200")));
    assert!(lines
        .iter()
        .any(|l| l.contains("answered \"refused\"") && l.ends_with("→ 200")));
    let d = crate::agencies::dossier(&app, &code).await;
    let step = crate::agencies::step_of(&d, "nghiem-thu-pccc");
    assert_eq!(step["state"], "refused");
    assert_eq!(step["NoiDung"], "Hồ sơ chưa đạt yêu cầu (mô phỏng)");
}
