//! The officers' list (contract section 7: "dossiers with status, due date, overdue first,
//! filter and search"): overdue dossiers first, the longest overdue at the top, then the rest
//! newest first, each part paged through its own index; found by code, by the portal's id, or
//! by the applicant's name with or without diacritics; names stored before the search kept
//! words are folded after start. On SQLite and PostgreSQL alike.

use crate::admin::{open, pair, sign_in};
use crate::helpers::*;
use crate::lifecycle::{act, arrive, dossier_in, new_dossier, step};
use motcua_gateway::store::{DossierFilter, OverdueFirst, Part};

async fn session(app: &TestApp) -> String {
    let (_, cookie, _) = sign_in(app, ADMIN).await;
    pair(&cookie.unwrap())
}

/// The dossier codes of a list page, in their order.
fn listed(html: &str) -> Vec<String> {
    html.match_indices("<tr><td><a href=\"/admin/dossiers/")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

async fn id_of(app: &TestApp, code: &str) -> i64 {
    sql_i64(
        &app.db_url(),
        &format!("SELECT id FROM dossiers WHERE code = '{code}'"),
    )
    .await
}

async fn set_due(app: &TestApp, code: &str, due: i64) {
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET due_at = {due} WHERE code = '{code}'"),
    )
    .await;
}

#[tokio::test]
async fn overdue_dossiers_come_first_the_longest_overdue_at_the_top() {
    let app = spawn_app().await;
    let a = dossier_in(&app, 4, "OVR-A").await;
    let b = dossier_in(&app, 4, "OVR-B").await;
    let c = dossier_in(&app, 2, "OVR-C").await;
    let d = dossier_in(&app, 5, "OVR-D").await;
    let e = arrive(&app, "thong-bao-le-hoi.json", "OVR-E").await;
    assert_eq!(act(&app, &e, step("accept")).await.0, 200);
    let f = new_dossier(&app, "OVR-F").await;
    let now = chrono::Utc::now().timestamp_millis();
    set_due(&app, &a, 1_000).await; // overdue for decades
    set_due(&app, &b, now - 60_000).await; // overdue for a minute
    set_due(&app, &c, now + 86_400_000).await; // due tomorrow
    set_due(&app, &d, 2_000).await; // past, but waiting for a supplement: clock stopped
    set_due(&app, &e, 3_000).await; // past, but a notice: deemed consent, never overdue

    let cookie = session(&app).await;
    let (status, _, html) = open(&app, "/admin", &cookie).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed(&html),
        [
            a.as_str(),
            b.as_str(),
            f.as_str(),
            e.as_str(),
            d.as_str(),
            c.as_str()
        ]
    );
    assert_eq!(
        html.matches("<span class=\"late\">Quá hạn</span>").count(),
        2
    );
    // A notice stored before the mark (or under a mapping that was not a notice then) is
    // read as overdue until a start brings the marks in line with the mappings.
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET notice = 0 WHERE code = '{e}'"),
    )
    .await;
    let (_, _, html) = open(&app, "/admin", &cookie).await;
    assert_eq!(listed(&html)[..3], [a.as_str(), e.as_str(), b.as_str()]);
    // A start whose mappings name the notices the last start recorded reads none of their
    // dossiers: the mark cleared behind the gateway's back stays.
    let recorded = "SELECT count(*) FROM notice_procedures WHERE procedure_code = '9.900008'";
    assert_eq!(sql_i64(&app.db_url(), recorded).await, 1);
    assert_eq!(
        app.store.mark_notices(&["9.900008".into()]).await.unwrap(),
        0
    );
    let (_, _, html) = open(&app, "/admin", &cookie).await;
    assert_eq!(listed(&html)[..3], [a.as_str(), e.as_str(), b.as_str()]);
    // The first start after migration 0022 has no record: it marks every notice's dossiers.
    raw_sql(&app.db_url(), "DELETE FROM notice_procedures").await;
    assert_eq!(
        app.store.mark_notices(&["9.900008".into()]).await.unwrap(),
        1
    );
    assert_eq!(sql_i64(&app.db_url(), recorded).await, 1);
    assert_eq!(
        app.store.mark_notices(&["9.900008".into()]).await.unwrap(),
        0
    );
    let (_, _, html) = open(&app, "/admin", &cookie).await;
    assert_eq!(listed(&html)[..3], [a.as_str(), b.as_str(), f.as_str()]);
    // A procedure no longer a notice: its dossiers unmarked, and it is no longer recorded.
    assert_eq!(app.store.mark_notices(&[]).await.unwrap(), 1);
    assert_eq!(sql_i64(&app.db_url(), recorded).await, 0);
    let (_, _, html) = open(&app, "/admin", &cookie).await;
    assert_eq!(listed(&html)[..3], [a.as_str(), e.as_str(), b.as_str()]);
    assert_eq!(
        app.store.mark_notices(&["9.900008".into()]).await.unwrap(),
        1
    );

    // Filters apply to both parts.
    let (_, _, html) = open(&app, "/admin?status=4", &cookie).await;
    assert_eq!(listed(&html), [a.as_str(), b.as_str()]);
    let (_, _, html) = open(&app, "/admin?status=2", &cookie).await;
    assert_eq!(listed(&html), [e.as_str(), c.as_str()]);

    // Each part pages on its own cursor.
    let part = |part: Part, before_id: Option<i64>| DossierFilter {
        before_id,
        limit: 1,
        overdue: Some(OverdueFirst { now, part }),
        ..DossierFilter::default()
    };
    let codes = |rows: Vec<motcua_gateway::store::DossierSummary>| {
        rows.into_iter().map(|r| r.code).collect::<Vec<_>>()
    };
    let first = app
        .store
        .list_dossiers(&part(Part::Overdue { after: None }, None))
        .await
        .unwrap();
    assert_eq!(codes(first), [a.as_str()]);
    let after_a = Part::Overdue {
        after: Some((1_000, id_of(&app, &a).await)),
    };
    assert_eq!(
        codes(app.store.list_dossiers(&part(after_a, None)).await.unwrap()),
        [b.as_str()]
    );
    let after_b = Part::Overdue {
        after: Some((now - 60_000, id_of(&app, &b).await)),
    };
    assert!(app
        .store
        .list_dossiers(&part(after_b, None))
        .await
        .unwrap()
        .is_empty());
    let mut rest = Vec::new();
    let mut before = None;
    loop {
        let page = app
            .store
            .list_dossiers(&part(Part::Rest, before))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        rest.extend(codes(page));
    }
    assert_eq!(rest, [f, e, d, c]);
}

/// The karaoke fixture pushed with portal id `id`, its applicant named `name`.
async fn named(app: &TestApp, id: &str, name: &str) -> String {
    let body = String::from_utf8(with_portal_id(&fixture("valid/karaoke.json"), id)).unwrap();
    let body = body.replacen(
        "\"HoTen\": \"Công ty TNHH Giải trí Sao Việt\"",
        &format!("\"HoTen\": \"{name}\""),
        1,
    );
    let res = app.submit(body.as_bytes(), "application/json").await;
    assert_eq!(res.status(), 201);
    res.json::<serde_json::Value>().await.unwrap()["MaHoSo"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn officers_find_a_dossier_by_code_or_by_name_with_or_without_diacritics() {
    let app = spawn_app().await;
    let x = named(&app, "NAME-1", "Nguyễn Văn An").await;
    let y = named(&app, "NAME-2", "Nguyễn Thị Anh").await;
    let z = named(&app, "NAME-3", "Trần Văn Bình").await;
    let cookie = session(&app).await;
    let search = |q: &str| {
        let path = format!(
            "/admin?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let (app, cookie) = (&app, &cookie);
        async move {
            let (status, _, html) = open(app, &path, cookie).await;
            assert_eq!(status, 200);
            listed(&html)
        }
    };
    assert_eq!(search("nguyen van an").await, [x.as_str()]);
    assert_eq!(search("Nguyễn Văn An").await, [x.as_str()]);
    assert_eq!(search("NGUYEN").await, [y.as_str(), x.as_str()]);
    assert_eq!(
        search("an").await,
        [y.as_str(), x.as_str()],
        "a word's start: An and Anh"
    );
    assert_eq!(search("văn").await, [z.as_str(), x.as_str()]);
    assert_eq!(search("binh tran").await, [z.as_str()], "in any order");
    assert_eq!(search("le").await, Vec::<String>::new());
    assert_eq!(search(&x).await, [x.as_str()], "by code");
    assert_eq!(search("NAME-3").await, [z.as_str()], "by the portal's id");
    assert_eq!(
        search("000.00.12.H29-000000-0000").await,
        Vec::<String>::new()
    );
    assert_eq!(search("").await.len(), 3);
    let (_, _, html) = open(&app, "/admin?q=%3Cb%3E", &cookie).await;
    assert!(html.contains("value=\"&#60;b&#62;\""), "given back escaped");

    // X and Z overdue, X the longer: first in the officers' order, which finds by name too.
    raw_sql(
        &app.db_url(),
        &format!(
            "UPDATE dossiers SET due_at = CASE code WHEN '{x}' THEN 1000 ELSE 2000 END \
             WHERE code IN ('{x}', '{z}')"
        ),
    )
    .await;
    assert_eq!(search("NGUYEN").await, [x.as_str(), y.as_str()]);
    assert_eq!(search("van").await, [x.as_str(), z.as_str()]);
    assert_eq!(search("thi").await, [y.as_str()]);
    // A page the first dossiers tried in order fill, part by part.
    let now = chrono::Utc::now().timestamp_millis();
    let one = |part: Part| DossierFilter {
        limit: 1,
        words: vec!["nguyen".into()],
        overdue: Some(OverdueFirst { now, part }),
        ..DossierFilter::default()
    };
    let first = |rows: Vec<motcua_gateway::store::DossierSummary>| {
        rows.into_iter().map(|r| r.code).collect::<Vec<_>>()
    };
    let overdue = one(Part::Overdue { after: None });
    let overdue = app.store.list_dossiers(&overdue).await.unwrap();
    assert_eq!(first(overdue), [x.as_str()]);
    let rest = app.store.list_dossiers(&one(Part::Rest)).await.unwrap();
    assert_eq!(first(rest), [y.as_str()]);
    let sqlite = app.db_url().starts_with("sqlite://");
    if sqlite {
        // "nguyen" made common (index entries of dossiers that are not there, one past
        // what the overdue part gathers): the overdue dossiers are read in order and checked
        // one by one instead. The same answers.
        raw_sql(
            &app.db_url(),
            &format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i <= {}) \
                 INSERT INTO dossier_names (rowid, words) SELECT 1000000 + i, 'nguyen' FROM n",
                motcua_gateway::store::GATHERED
            ),
        )
        .await;
        assert_eq!(search("NGUYEN").await, [x.as_str(), y.as_str()]);
        assert_eq!(search("nguyen van").await, [x.as_str()]);
        assert_eq!(search("nguyen thi").await, [y.as_str()]);
        assert_eq!(search("nguyen binh").await, Vec::<String>::new());
    }

    // A dossier stored before the words were kept is found once its name is folded.
    let z_id = id_of(&app, &z).await;
    if sqlite {
        raw_sql(
            &app.db_url(),
            &format!(
                "INSERT INTO dossier_names (dossier_names, rowid, words) \
                 VALUES ('delete', {z_id}, 'tran van binh')"
            ),
        )
        .await;
    }
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET unnamed = 1, name_words = '' WHERE id = {z_id}"),
    )
    .await;
    assert_eq!(search("binh").await, Vec::<String>::new());
    assert_eq!(app.store.name_unnamed(1000).await.unwrap(), 1);
    assert_eq!(app.store.name_unnamed(1000).await.unwrap(), 0);
    assert_eq!(search("binh").await, [z.as_str()]);
}
