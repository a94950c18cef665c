//! The officers' page (contract section 7): sign-in with a client token for a strict, signed,
//! expiring cookie checked on every page; sign-out only with the session's CSRF token; the
//! dossiers' list and a dossier's page in Vietnamese, as the server answers them (a real
//! browser drives them in `officer_browser`).

use crate::helpers::*;
use crate::lifecycle::{dossier_in, new_dossier};
use crate::payments::request;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// A browser's client as the tests drive it: redirects are looked at, not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token`: the answer's status and the cookie it set, if any.
pub async fn sign_in(app: &TestApp, token: &str) -> (u16, Option<String>, String) {
    let res = browser()
        .post(app.url("/admin/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    (status, cookie, res.text().await.unwrap())
}

/// `name=value` of a `Set-Cookie` line.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// `GET path` with `cookie`, as a browser that does not follow redirects.
pub async fn open(app: &TestApp, path: &str, cookie: &str) -> (u16, Option<String>, String) {
    let res = browser()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    seen(res).await
}

/// An answer as the tests look at it: status, `Location`, body.
pub async fn seen(res: reqwest::Response) -> (u16, Option<String>, String) {
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    (status, location, res.text().await.unwrap())
}

/// The CSRF token a page's forms carry.
pub fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + 64].to_owned()
}

#[tokio::test]
async fn signing_in_gives_a_strict_cookie_that_every_page_checks() {
    let app = spawn_app().await;
    let (status, location, _) = open(&app, "/admin", "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/login")));
    let (status, _, html) = open(&app, "/admin/login", "").await;
    assert_eq!(status, 200);
    assert!(html.contains("<label for=\"token\">Mã truy cập</label>"));

    // A wrong token, and a token that may not look at dossiers: no session.
    for token in ["not-a-token", PAYER] {
        let (status, cookie, html) = sign_in(&app, token).await;
        assert_eq!((status, cookie), (401, None), "{token}");
        assert!(html.contains("Mã truy cập không đúng, hoặc không có quyền xem hồ sơ."));
    }

    let (status, cookie, _) = sign_in(&app, READER).await;
    assert_eq!(status, 303);
    let cookie = cookie.unwrap();
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        [
            "Path=/admin",
            "Max-Age=28800",
            "HttpOnly",
            "SameSite=Strict"
        ]
    );
    assert!(!cookie.contains(READER), "the token is never kept");
    let session = pair(&cookie);
    let (status, _, html) = open(&app, "/admin", &session).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Hồ sơ</h1>"));
    assert!(html.contains("reader (chỉ xem)"));

    // A cookie changed anywhere is no session.
    let mut forged = session.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let (status, location, _) = open(&app, "/admin", &forged).await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/login")));

    // Signing out needs the session's CSRF token; without it nothing changes.
    let token = csrf(&html);
    for wrong in ["", "00", &"0".repeat(64)] {
        let res = browser()
            .post(app.url("/admin/logout"))
            .header(COOKIE, &session)
            .form(&[("csrf", wrong)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{wrong:?}");
        assert!(res.headers().get(SET_COOKIE).is_none());
    }
    let res = browser()
        .post(app.url("/admin/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/admin/login");
    assert!(res.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("motcua_admin=; Path=/admin; Max-Age=0;"));
    // Another session's token is not this one's.
    let (_, other, _) = sign_in(&app, READER).await;
    let (_, _, other_page) = open(&app, "/admin", &pair(&other.unwrap())).await;
    assert_ne!(csrf(&other_page), token);
}

#[tokio::test]
async fn an_officer_sees_the_list_a_dossier_its_timeline_and_its_papers() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "ADM-1").await;
    let (status, _) = request(&app, &code, "vnpay").await;
    assert_eq!(status, 201);
    let late = dossier_in(&app, 4, "ADM-2").await;
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET due_at = 1000 WHERE code = '{late}'"),
    )
    .await;
    let (_, cookie, _) = sign_in(&app, ADMIN).await;
    let session = pair(&cookie.unwrap());

    let (status, _, list) = open(&app, "/admin", &session).await;
    assert_eq!(status, 200);
    let row = |c: &str| {
        let at = list.find(&format!(">{c}</a>")).unwrap();
        list[at..at + list[at..].find("</tr>").unwrap()].to_owned()
    };
    assert!(row(&late).contains("<span class=\"late\">Quá hạn</span>"));
    assert!(
        !row(&code).contains("Quá hạn"),
        "awaiting payment: its clock is stopped"
    );
    assert!(row(&code).contains("<td>Yêu cầu thực hiện nghĩa vụ tài chính</td>"));
    let (_, _, filtered) = open(&app, "/admin?status=6", &session).await;
    assert!(filtered.contains(&code) && !filtered.contains(&late));

    let (status, _, page) = open(&app, &format!("/admin/dossiers/{code}"), &session).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<h1>Hồ sơ {code}</h1>")));
    assert!(page.contains("Công ty TNHH Giải trí Sao Việt"));
    assert!(page.contains("3.000.000 đồng (chưa nộp)"));
    assert!(page.contains("Đang chờ thanh toán"));
    assert!(page.contains("Đang chờ tải về"));
    // Arrival, acceptance, processing, the payment request: one line each.
    let timeline = &page[page.find("<h2>Quá trình xử lý</h2>").unwrap()..];
    let timeline = &timeline[..timeline.find("</table>").unwrap()];
    assert_eq!(timeline.matches("<tr><td>").count(), 4);
    let (status, _, receipt) =
        open(&app, &format!("/admin/dossiers/{code}/receipt"), &session).await;
    assert_eq!(status, 200);
    assert!(receipt.contains("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"));
    let (status, _, _) = open(&app, "/admin/dossiers/000.00.12.H29-261130-9999", &session).await;
    assert_eq!(status, 404);
    let other = format!("/admin/dossiers/{code}/receipt?slip=other");
    let (status, _, html) = open(&app, &other, &session).await;
    assert_eq!((status, html.as_str()), (400, "Không có loại giấy này."));
    let fresh = new_dossier(&app, "ADM-3").await;
    let (status, _, html) = open(&app, &format!("/admin/dossiers/{fresh}/receipt"), &session).await;
    assert_eq!(
        (status, html.as_str()),
        (
            409,
            "Hồ sơ chưa được tiếp nhận nên chưa có giấy hẹn trả kết quả."
        )
    );
    let (status, location, _) = open(&app, &format!("/admin/dossiers/{code}"), "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/login")));
}

#[tokio::test]
async fn the_language_is_chosen_by_a_cookie_and_goes_back_only_within_admin() {
    let app = spawn_app().await;
    let choose = |referer: Option<String>, code: &'static str| {
        let app = &app;
        async move {
            let mut req = browser().get(app.url(&format!("/admin/lang/{code}")));
            if let Some(r) = referer {
                req = req.header("referer", r);
            }
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.headers()[LOCATION].to_str().unwrap().to_owned(),
                res.headers()
                    .get(SET_COOKIE)
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        }
    };
    let here = app.url("/admin/outbox?after=3");
    assert_eq!(
        choose(Some(here), "en").await,
        (
            303,
            "/admin/outbox?after=3".to_owned(),
            Some("motcua_lang=en; Path=/admin; Max-Age=31536000; HttpOnly; SameSite=Strict".into())
        )
    );
    // Another site, a page outside /admin, none: back to the list.
    for referer in [
        Some("https://evil.example/admin/outbox".to_owned()),
        Some(app.url("/api/v1/dossiers")),
        None,
    ] {
        assert_eq!(choose(referer, "vi").await.1, "/admin");
    }
    assert_eq!(
        choose(None, "fr").await.2,
        None,
        "no such language: no cookie"
    );

    // The sign-in page in English, and a refusal in English.
    let (_, _, html) = open(&app, "/admin/login", "motcua_lang=en").await;
    assert!(
        html.starts_with("<!doctype html>\n<html lang=\"en\">"),
        "{html}"
    );
    assert!(html.contains("<label for=\"token\">Access token</label>"));
    let (_, cookie, _) = sign_in(&app, READER).await;
    let cookies = format!("{}; motcua_lang=en", pair(&cookie.unwrap()));
    let res = browser()
        .post(app.url("/admin/logout"))
        .header(COOKIE, cookies)
        .form(&[("csrf", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.text().await.unwrap(),
        "Refused: the form is stale or not from this page. Reload the page."
    );
}
