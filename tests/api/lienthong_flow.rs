//! Inter-agency processing end to end (contract section 9), with two test agencies and a test
//! portal as real HTTP servers: steps in order and side by side, what each agency receives and
//! how it is signed, the agencies' answers as progress synced to the portal, a refused step
//! forwarded again, `complete` held back while a step is open, and an agency down for a while.
//! On SQLite and PostgreSQL alike.

use crate::agencies::*;
use crate::helpers::*;
use crate::lifecycle::act;
use serde_json::{json, Value};

#[tokio::test]
async fn steps_in_order_each_agency_gets_its_part_signed_and_its_answers_reach_the_portal() {
    let Setup {
        app,
        portal,
        pc07,
        pc06,
    } = setup().await;
    let code = processing(&app, "karaoke.json", "LT-ORDER-1").await;
    let before = dossier(&app, &code).await;

    let (s, e) = forward(&app, &code, "an-ninh-trat-tu").await;
    assert_eq!(
        (s, &e["error_code"]),
        (409, &json!("STEP_NOT_READY")),
        "{e}"
    );
    let (s, d) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["TrangThaiHoSo"], 4, "the dossier stays in processing");
    assert_eq!(
        d["NgayHenTra"], before["NgayHenTra"],
        "the citizen's date is not moved"
    );
    let fire = step_of(&d, "nghiem-thu-pccc");
    assert_eq!(fire["state"], "forwarded");
    let reference = fire["ref"].as_str().unwrap().to_owned();
    let last = d["progress"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "forward");
    assert!(
        last["NoiDungXuLy"]
            .as_str()
            .unwrap()
            .starts_with("Chuyển liên thông đến PC07 thử: Nghiệm thu về phòng cháy"),
        "{last}"
    );
    let calendar = motcua_gateway::config::Config::from_toml("")
        .unwrap()
        .calendar
        .load_years()
        .unwrap();
    let at = |v: &Value| {
        chrono::NaiveDateTime::parse_from_str(v.as_str().unwrap(), "%Y%m%d%H%M%S").unwrap()
    };
    let due = calendar
        .due(
            &motcua_gateway::domain::working_hours::WorkingHours::department(),
            at(&last["ThoiDiemXuLy"]),
            7,
        )
        .unwrap();
    assert_eq!(at(&fire["HanXuLy"]), due, "7 working days from the forward");
    let (s, e) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!((s, &e["error_code"]), (409, &json!("STEP_OPEN")), "{e}");
    let (s, e) = act(
        &app,
        &code,
        json!({"action": "complete", "officer": officer()}),
    )
    .await;
    assert_eq!((s, &e["error_code"]), (409, &json!("STEPS_OPEN")), "{e}");

    app.worker.dispatch_all_pending().await.unwrap();
    let got = pc07.received();
    assert_eq!(got.len(), 1, "one message to the fire police");
    assert!(
        pc06.received().is_empty(),
        "nothing to the other agency yet"
    );
    assert_eq!(got[0].path, "/lienthong/v1/dossiers");
    assert!(
        got[0].signed_by(PC07_SECRET),
        "signed with PC07's own secret"
    );
    assert!(!got[0].signed_by(PC06_SECRET));
    let part = got[0].json();
    let form = &before["form"];
    assert_eq!(
        part["DuLieu"],
        json!({"business": {"name": form["business"]["name"]},
               "venue": {"address": form["venue"]["address"]},
               "rooms_count": form["rooms_count"], "rooms": form["rooms"]}),
        "exactly the declared fields: no identity number, no applicant"
    );
    assert_eq!(part["MaHoSo"], code.as_str());
    assert_eq!(part["BuocXuLy"]["ref"], reference.as_str());
    assert_eq!(part["BuocXuLy"]["id"], "nghiem-thu-pccc");
    assert_eq!(part["HanXuLy"], fire["HanXuLy"]);
    let docs = part["TaiLieu"].as_array().unwrap();
    let tp01 = before["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["MaThanhPhanHoSo"] == "TP01")
        .unwrap();
    assert_eq!(docs.len(), 1, "only TP01 is declared: {docs:?}");
    assert_eq!(docs[0]["MaHash"], tp01["MaHash"]);
    assert_eq!(
        docs[0]["DuongDan"],
        format!(
            "https://motcua.example.vn/lienthong/v1/steps/{reference}/documents/{}",
            tp01["id"]
        )
    );

    for (i, state) in ["received", "processing"].into_iter().enumerate() {
        let (s, a) = agency_answer(
            &app,
            &reference,
            PC07_SECRET,
            &format!("pc07-{i}"),
            &json!({"TrangThai": state, "NguoiXuLy": "Đại úy Lê Văn C"}),
        )
        .await;
        assert_eq!(s, 200, "{a}");
        assert_eq!(
            a,
            json!({"error_code": "0", "ref": reference, "TrangThai": state})
        );
    }
    let (s, a) = agency_answer(&app, &reference, PC07_SECRET, "pc07-2", &done()).await;
    assert_eq!(s, 200, "{a}");
    let d = dossier(&app, &code).await;
    let fire = step_of(&d, "nghiem-thu-pccc");
    assert_eq!(
        (&fire["state"], &fire["SoVanBan"], &fire["late"]),
        (&json!("done"), &json!("45/NT-PC07"), &json!(false))
    );
    let notes: Vec<&str> = d["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["action"] == "lienthong")
        .map(|p| p["NoiDungXuLy"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke: Đã tiếp nhận",
            "Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke: Đang xử lý",
            "Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke: Đã có kết quả (số văn bản 45/NT-PC07). Đạt yêu cầu",
        ]
    );

    let (s, d) = forward(&app, &code, "an-ninh-trat-tu").await;
    assert_eq!(s, 200, "ready once fire safety is done: {d}");
    let order_ref = step_of(&d, "an-ninh-trat-tu")["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    app.worker.dispatch_all_pending().await.unwrap();
    let got = pc06.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].signed_by(PC06_SECRET));
    assert!(
        got[0].json()["DuLieu"]["representative"]["id_number"].is_string(),
        "this step declares the representative's identity number"
    );
    let (s, _) = agency_answer(&app, &order_ref, PC06_SECRET, "pc06-0", &done()).await;
    assert_eq!(s, 200);
    let (s, d) = act(
        &app,
        &code,
        json!({"action": "complete", "officer": officer()}),
    )
    .await;
    assert_eq!(s, 200, "every forwarded step done: {d}");

    app.worker.dispatch_all_pending().await.unwrap();
    let syncs: Vec<Value> = portal
        .received()
        .iter()
        .map(Received::json)
        .filter(|m| m["MaHoSo"] == code.as_str())
        .collect();
    let said: Vec<String> = syncs
        .iter()
        .map(|m| {
            m["TienDo"]["NoiDungXuLy"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        syncs.len(),
        10,
        "arrival, accept, start, 2 forwards, 4 answers, complete: {said:?}"
    );
    assert!(
        said[3].starts_with("Chuyển liên thông đến PC07 thử"),
        "{said:?}"
    );
    assert!(said[6].ends_with("Đạt yêu cầu"), "{said:?}");
    assert_eq!(syncs[6]["TienDo"]["NguoiXuLy"], "Đại úy Lê Văn C");
    assert_eq!(syncs[6]["TienDo"]["PhongBanXuLy"], "PC07 thử");
    assert_eq!(syncs[6]["TienDo"]["ChucDanh"], "Cán bộ cơ quan phối hợp");
    assert_eq!(syncs[9]["TrangThaiHoSo"], 9);
}

#[tokio::test]
async fn steps_side_by_side_go_at_once_and_a_refused_step_is_forwarded_again() {
    let Setup {
        app, pc07, pc06, ..
    } = setup().await;
    let code = processing(&app, "vu-truong.json", "LT-PAR-1").await;
    let mut refs = Vec::new();
    for step in ["nghiem-thu-pccc", "an-ninh-trat-tu"] {
        let (s, d) = forward(&app, &code, step).await;
        assert_eq!(s, 200, "{step}: {d}");
        refs.push(step_of(&d, step)["ref"].as_str().unwrap().to_owned());
    }
    app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!((pc07.received().len(), pc06.received().len()), (1, 1));

    let refusal = json!({"TrangThai": "refused", "NoiDung": "Lối thoát nạn không đạt"});
    let (s, _) = agency_answer(&app, &refs[0], PC07_SECRET, "r-1", &refusal).await;
    assert_eq!(s, 200);
    let (s, _) = agency_answer(&app, &refs[1], PC06_SECRET, "d-1", &done()).await;
    assert_eq!(s, 200);
    let (s, e) = act(
        &app,
        &code,
        json!({"action": "complete", "officer": officer()}),
    )
    .await;
    assert_eq!(
        (s, &e["error_code"]),
        (409, &json!("STEPS_OPEN")),
        "refused is not done: {e}"
    );
    let (s, e) = agency_answer(&app, &refs[0], PC07_SECRET, "r-2", &done()).await;
    assert_eq!((s, &e["error_code"]), (409, &json!("STEP_FINAL")), "{e}");

    let (s, d) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200, "a refused step may be forwarded again: {d}");
    let again = step_of(&d, "nghiem-thu-pccc");
    assert_eq!(again["state"], "forwarded");
    assert_ne!(
        again["ref"],
        refs[0].as_str(),
        "a new forwarding, a new ref"
    );
    assert_eq!(again["earlier"][0]["state"], "refused");
    assert_eq!(again["earlier"][0]["NoiDung"], "Lối thoát nạn không đạt");
    app.worker.dispatch_all_pending().await.unwrap();
    let sent = pc07.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].json()["BuocXuLy"]["ref"], again["ref"]);
    let (s, _) = agency_answer(
        &app,
        again["ref"].as_str().unwrap(),
        PC07_SECRET,
        "d-2",
        &done(),
    )
    .await;
    assert_eq!(s, 200);
    let (s, d) = act(
        &app,
        &code,
        json!({"action": "complete", "officer": officer()}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
}

#[tokio::test]
async fn an_agency_down_for_a_while_gets_its_steps_later_in_order() {
    let Setup { app, pc07, .. } = setup().await;
    pc07.script([Reply::status(503), Reply::status(500)]);
    let code = processing(&app, "vu-truong.json", "LT-DOWN-1").await;
    let (s, d) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200);
    let first = step_of(&d, "nghiem-thu-pccc")["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let refusal = json!({"TrangThai": "refused", "NoiDung": "Thiếu bản vẽ"});
    let (s, _) = agency_answer(&app, &first, PC07_SECRET, "down-1", &refusal).await;
    assert_eq!(
        s, 200,
        "an agency may answer before the gateway hears back from it"
    );
    let (s, d) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200);
    let second = step_of(&d, "nghiem-thu-pccc")["ref"]
        .as_str()
        .unwrap()
        .to_owned();

    // Two failures, then the first message, then the second: never the second first.
    for _ in 0..6 {
        app.worker.dispatch_all_pending().await.unwrap();
    }
    let refs: Vec<(u16, String)> = pc07
        .received()
        .iter()
        .map(|r| {
            (
                r.answered,
                r.json()["BuocXuLy"]["ref"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            (503, first.clone()),
            (500, first.clone()),
            (200, first),
            (200, second)
        ]
    );
}

#[tokio::test]
async fn a_step_an_agency_refuses_to_take_is_dead_until_an_operator_replays_it() {
    let Setup { app, pc07, .. } = setup().await;
    pc07.script([Reply::status(400)]);
    let code = processing(&app, "vu-truong.json", "LT-DEAD-1").await;
    let (s, _) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200);
    app.worker.dispatch_all_pending().await.unwrap();
    let (_, dead) = app.get_json("/api/v1/outbox?state=dead", ADMIN).await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["destination"], format!("agency:{PC07}"));
    let id = items[0]["id"].as_i64().unwrap();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/outbox/{id}/replay")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.worker.dispatch_all_pending().await.unwrap();
    let answered: Vec<u16> = pc07.received().iter().map(|r| r.answered).collect();
    assert_eq!(answered, [400, 200]);
    let sent = pc07.received();
    assert_eq!(
        sent[0].webhook_id(),
        sent[1].webhook_id(),
        "the same message again"
    );
}
