//! The harness's three modes, each a sequence of phases against its baseline: intake (fresh,
//! the intake transaction alone, and with `--stored`), reads by code and the paged list (with
//! and without the status cache), and the outbox drain against a bare client loop and the
//! worker's own client alone.

use super::client::{self, Load, MakeRequest, Until};
use super::db::BenchDb;
use super::gateway::{self, Gateway, Usage};
use super::report::{max_usage, CpuTimes, Phase};
use super::{
    deliveries_alone, fill, healthz, phase, start, store_alone, submit_all, workload, wrk,
    BenchArgs, Window,
};
use crate::store::Store;
use anyhow::Context as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What a mode measured, and the gateway's resources over it.
pub(super) type Measured = anyhow::Result<(Vec<Phase>, Usage)>;

/// Stops the gateway; `usage` with its own added (CPU summed, the higher peak).
async fn stop(gw: Gateway, usage: Usage) -> Usage {
    let usage = max_usage(usage, gw.usage());
    gw.stop().await;
    usage
}

/// What every mode runs with: the arguments, the fresh database, a folder for the gateway's
/// files, and the submissions to send.
pub(super) struct Run<'a> {
    pub(super) args: &'a BenchArgs,
    pub(super) db: &'a BenchDb,
    pub(super) dir: &'a Path,
    pub(super) work: Arc<workload::Submissions>,
}

/// Intake: signed submissions against `/healthz`, then the store alone, then (`--stored`)
/// again on a filled store.
pub(super) async fn intake(run: Run<'_>, gw: Gateway) -> Measured {
    let Run {
        args,
        db,
        dir,
        work,
    } = run;
    let (c, d) = (args.concurrency, Until::Time(args.duration));
    let mut phases = Vec::new();
    let mut usage;

    let base = phase(&gw, "healthz (baseline)", c, d, 200, healthz()).await;
    let before = gw.intake_batches().await?;
    let fresh = phase(
        &gw,
        "intake, fresh store",
        c,
        d,
        201,
        work.clone().maker("F"),
    )
    .await
    .against(&base);
    let fresh = with_batches(fresh, &gw, before).await?;
    let checked = if args.wrk {
        wrk_check(&gw, args, &work, &base, &fresh).await?
    } else {
        Vec::new()
    };
    usage = stop(gw, Usage::default()).await;
    // The store alone, on the same database with the gateway stopped: the bound of the
    // phase above, whatever the request path costs.
    let times = CpuTimes::now();
    let alone = store_alone::run(&db.url, work.clone(), "A", c, args.duration).await?;
    let alone = Phase::of(
        &format!("intake transaction alone, batches of {c}"),
        &alone,
        0.0,
    )
    .stolen_since(times)
    .against(&base);
    // And in batches of the size the writer reached over HTTP: what the request path itself
    // costs, apart from what smaller batches cost the store.
    let same = match fresh.mean_batch {
        Some(b) => {
            let b = (b.round() as usize).max(1);
            let times = CpuTimes::now();
            let load = store_alone::run(&db.url, work.clone(), "B", b, args.duration).await?;
            let name = format!("store alone, batches of {b} (as over HTTP)");
            Some(
                Phase::of(&name, &load, 0.0)
                    .stolen_since(times)
                    .against(&base),
            )
        }
        None => None,
    };
    let fresh = Phase {
        vs_store: Some(fresh.rate / alone.rate.max(1e-9)),
        vs_store_same_batch: same.as_ref().map(|s| fresh.rate / s.rate.max(1e-9)),
        ..fresh
    };
    phases.push(base);
    phases.push(fresh.clone());
    phases.extend(checked);
    phases.push(alone);
    phases.extend(same);
    if args.stored > 0 {
        fill(db, args).await?;
        let gw = start(db, dir, None, args).await?;
        let base = phase(&gw, "healthz (baseline, stored)", c, d, 200, healthz()).await;
        let name = format!("intake, {} stored", args.stored);
        let before = gw.intake_batches().await?;
        let stored = phase(&gw, &name, c, d, 201, work.clone().maker("S"))
            .await
            .against(&base);
        let mut stored = with_batches(stored, &gw, before).await?;
        phases.push(base);
        stored.vs_fresh = Some(stored.rate / fresh.rate.max(1e-9));
        phases.push(stored);
        usage = stop(gw, usage).await;
    }
    Ok((phases, usage))
}

/// `phase` with the mean size of the intake writer's batches over it (from the gateway's
/// `/metrics`, read `before` it and now): the batch size the second run of the store alone
/// uses.
async fn with_batches(phase: Phase, gw: &Gateway, before: (f64, f64)) -> anyhow::Result<Phase> {
    let after = gw.intake_batches().await?;
    let batches = after.1 - before.1;
    Ok(Phase {
        mean_batch: (batches > 0.0).then(|| (after.0 - before.0) / batches),
        ..phase
    })
}

/// The same gateway loaded by `wrk` (`bench::wrk`): `/healthz`, then as many submissions,
/// signed beforehand, as the harness's own phases suggest it can take, and a half more.
async fn wrk_check(
    gw: &Gateway,
    args: &BenchArgs,
    work: &workload::Submissions,
    base: &Phase,
    fresh: &Phase,
) -> anyhow::Result<Vec<Phase>> {
    anyhow::ensure!(wrk::available(), "--wrk: wrk is not on the PATH");
    let (c, d) = (args.concurrency, args.duration);
    let enough = |rate: f64| (rate * d.as_secs_f64() * 1.5) as u64 + 1000;
    let get = client::get("/healthz", None);
    let requests = (0..enough(base.rate)).map(|_| get.clone());
    let window = Window::open(gw);
    let h = wrk::run(&gw.addr, c, d, requests, 200).await?;
    let h = window.phase(gw, "healthz, wrk", &h);
    let requests = wrk::submissions(work, enough(fresh.rate));
    let before = gw.intake_batches().await?;
    let window = Window::open(gw);
    let i = wrk::run(&gw.addr, c, d, requests, 201).await?;
    let i = window
        .phase(gw, "intake, wrk (fresh store)", &i)
        .against(&h);
    let i = with_batches(i, gw, before).await?;
    Ok(vec![h, i])
}

/// Reads: status by code and the paged list, each through the status cache and around it.
pub(super) async fn read(run: Run<'_>, gw: Gateway) -> Measured {
    let Run {
        args,
        db,
        dir,
        work,
    } = run;
    let (c, d) = (args.concurrency, Until::Time(args.duration));
    let mut phases = Vec::new();
    let mut usage = Usage::default();

    submit_all(&gw, &work, "P", args.pool, c).await?;
    let gw = if args.stored > 0 {
        usage = stop(gw, Usage::default()).await;
        fill(db, args).await?;
        start(db, dir, None, args).await?
    } else {
        gw
    };
    let store = Store::connect(&db.url, 2).await?;
    let codes: Vec<String> = store
        .dossier_codes(i64::try_from(args.pool).unwrap_or(i64::MAX))
        .await?
        .into_iter()
        .map(|(_, code)| code)
        .collect();
    store.close().await;
    anyhow::ensure!(!codes.is_empty(), "no dossier to read");
    let base = phase(&gw, "healthz (baseline)", c, d, 200, healthz()).await;
    // The same reads twice: as the department's systems make them (answered from the
    // status cache once read), then with `Cache-Control: no-cache` (every one from the
    // store).
    let by_code = |extra: &'static str| -> MakeRequest {
        let codes = codes.clone();
        Arc::new(move |w, n| {
            let code = &codes[(w * 7919 + n as usize * 104_729) % codes.len().max(1)];
            let path = format!("/api/v1/dossiers/{code}");
            client::get_with(&path, Some(gateway::TOKEN), extra)
        })
    };
    let reads = phase(&gw, "status by code", c, d, 200, by_code(""))
        .await
        .against(&base);
    let fresh = by_code("cache-control: no-cache\r\n");
    let fresh = phase(&gw, "status by code, no-cache", c, d, 200, fresh)
        .await
        .against(&base);
    // The list the same two ways.
    let procedures = work.procedures();
    let list = |extra: &'static str| -> MakeRequest {
        let procedures = procedures.clone();
        Arc::new(move |w, n| {
            let path = match (w + n as usize) % 3 {
                0 => "/api/v1/dossiers?limit=50".to_owned(),
                1 => "/api/v1/dossiers?limit=50&status=1".to_owned(),
                _ => format!(
                    "/api/v1/dossiers?limit=50&procedure={}",
                    procedures[(w + n as usize) % procedures.len().max(1)]
                ),
            };
            client::get_with(&path, Some(gateway::TOKEN), extra)
        })
    };
    let pages = phase(&gw, "paged list (50)", c, d, 200, list(""))
        .await
        .against(&base);
    let fresh_pages = list("cache-control: no-cache\r\n");
    let fresh_pages = phase(&gw, "paged list (50), no-cache", c, d, 200, fresh_pages)
        .await
        .against(&base);
    phases.extend([base, reads, fresh, pages, fresh_pages]);
    // The officers' list, signed in as an officer: the first page (overdue first), a full
    // name searched, and one word a third of the store's names hold.
    let cookie = officer_cookie(&gw.addr).await?;
    for (name, path) in [
        ("officers' list (50, overdue first)", "/admin"),
        ("officers' search, a full name", "/admin?q=nguyen+van+an"),
        ("officers' search, a common word", "/admin?q=nguyen"),
    ] {
        let request = client::get_with(path, None, &format!("cookie: {cookie}\r\n"));
        let make: MakeRequest = Arc::new(move |_, _| request.clone());
        phases.push(phase(&gw, name, c, d, 200, make).await.against(&phases[0]));
    }
    usage = stop(gw, usage).await;
    Ok((phases, usage))
}

/// Signs in to the officers' page with the bench's token: the session cookie.
async fn officer_cookie(addr: &str) -> anyhow::Result<String> {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("http://{addr}/admin/login"))
        .form(&[("token", gateway::TOKEN)])
        .send()
        .await?;
    let cookie = res
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("signing in to the officers' page gave no cookie")?;
    Ok(cookie.to_owned())
}

/// The outbox: queued messages drained into a local sink, against a bare client loop and
/// the worker's own client sending alone.
pub(super) async fn outbox(run: Run<'_>, gw: Gateway) -> Measured {
    let Run {
        args,
        db,
        dir,
        work,
    } = run;
    let c = args.concurrency;
    let mut phases = Vec::new();
    let mut usage;

    submit_all(&gw, &work, "Q", args.messages, c).await?;
    usage = stop(gw, Usage::default()).await;
    let store = Store::connect(&db.url, 2).await?;
    store.refresh_statistics().await?;
    store.close().await;
    let sink = workload::Sink::start().await?;
    let payload = work.sync_payload();
    let bare: MakeRequest = Arc::new(move |_, _| {
        client::post(
            "/dossiers/sync",
            &[("content-type", "application/json")],
            &payload,
        )
    });
    let base_load = client::run(
        &sink.addr,
        args.outbox_concurrency,
        Until::Count(args.messages),
        200,
        bare,
    )
    .await;
    let base = Phase::of("bare client loop to the sink (baseline)", &base_load, 0.0);
    // The same messages sent as the worker sends them, without the store: what the
    // queue, its leases and its records cost on top of the HTTP client's own work.
    sink.reset();
    let secret = crate::signing::WebhookSecret::parse(gateway::PORTAL_SECRET)
        .map_err(|e| anyhow::anyhow!("the bench secret: {e}"))?;
    let signed = client::run_reqwest_signed(
        &format!("http://{}/dossiers/sync", sink.addr),
        args.outbox_concurrency,
        args.messages,
        work.sync_payload(),
        &secret,
    )
    .await;
    let signed =
        Phase::of("signed sends, the worker's client, no store", &signed, 0.0).against(&base);
    sink.reset();
    let t0 = std::time::Instant::now();
    let gw = start(db, dir, Some(&format!("http://{}", sink.addr)), args).await?;
    let before = gw.usage();
    sink.wait_for(args.messages).await;
    // Drained means recorded as delivered, not only received by the sink.
    let store = Store::connect(&db.url, 2).await?;
    while store.outbox_pending().await? > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store.close().await;
    let elapsed = t0.elapsed();
    let after = gw.usage();
    let drained = Load {
        ok: args.messages,
        errors: 0,
        elapsed,
        latencies_us: Vec::new(),
        first_error: None,
    };
    let drain = Phase::of("outbox drain", &drained, after.cpu_s - before.cpu_s).against(&base);
    usage = stop(gw, usage).await;
    // The same messages again through the worker's delivery cycles alone: what the store's
    // side of delivery does per second with no HTTP (`deliveries_alone`).
    let per_cycle = gateway::CLAIMED_PER_SLOT * args.outbox_concurrency;
    let cycles = deliveries_alone::run(&db.url, per_cycle, &sink.addr, &secret).await?;
    let cycles = Phase::of(
        &format!("delivery cycles alone, up to {per_cycle} a cycle"),
        &cycles,
        0.0,
    )
    .against(&base);
    let drain = Phase {
        vs_client: Some(drain.rate / signed.rate.max(1e-9)),
        vs_store: Some(drain.rate / cycles.rate.max(1e-9)),
        ..drain
    };
    phases.extend([base, signed, drain, cycles]);
    Ok((phases, usage))
}
