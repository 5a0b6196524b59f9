//! The operator console over real TLS: login with a token (secure session cookie), CSRF
//! refusal, acknowledge and dismiss through the forms (audited with the operator's name),
//! the operator certificate, a bank certificate refused, Chinese pages and the English switch,
//! the XLSX download read back cell by cell.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use schemas::FindingStatus;
use support::*;

on_both_databases!(
    an_operator_logs_in_and_works_findings_in_chinese,
    certificates_decide_who_reaches_the_console,
    the_language_switch_changes_every_page_and_never_redirects_away,
    the_findings_xlsx_has_chinese_headers_and_the_listed_findings,
    personal_data_is_masked_everywhere_and_revealed_only_to_viewers_with_an_audit,
    a_metrics_scrapers_token_does_not_open_the_console,
    a_revoked_or_removed_token_ends_its_console_session_on_the_next_request,
    partners_added_or_removed_by_a_reload_show_on_the_console,
    findings_read_in_chinese_by_default_and_in_english_when_switched,
    the_project_page_draws_guarantee_cover_against_the_requirement,
    guessing_tokens_on_the_login_form_is_throttled_like_the_api,
    a_flooded_project_is_not_opened_and_the_page_says_why,
);

const TOKEN: &str = "console-operator-token-for-tests";

async fn start(db: Database) -> Harness {
    start_with(db, |_| {}).await
}

async fn start_with(
    db: Database,
    customise: impl FnOnce(&mut ingest::config::Settings),
) -> Harness {
    let h = Harness::start(db, |s| {
        s.operators.push(ingest::config::OperatorToken {
            name: "li.wei".into(),
            token_sha256: server::http::auth::token_sha256(TOKEN),
            role: ingest::config::PartnerRole::Operator,
        });
        customise(s);
    })
    .await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    for (partner, name, bytes) in demo_bank_files() {
        if partner == "picc-gz" || name.starts_with("guarantee") {
            continue;
        }
        let r = bank
            .post(h.url("/v1/files"))
            .header("X-Wagegate-File-Name", &name)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    // Wait until every file is processed and the findings stop changing (the reconciler
    // runs in the background): the same snapshot on two polls a reconcile interval apart.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        let received = h
            .stored_files()
            .await
            .iter()
            .any(|f| f.status == store::FileStatus::Received);
        let snapshot: Vec<(String, FindingStatus, chrono::DateTime<chrono::Utc>)> = h
            .store()
            .list_findings(&store::FindingFilter {
                limit: Some(store::MAX_PAGE),
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|f| (f.finding.id, f.status, f.updated_at))
            .collect();
        if !received && snapshot.len() >= 2 && last.as_ref() == Some(&snapshot) {
            break;
        }
        last = Some(snapshot);
        assert!(Instant::now() < deadline, "the findings never settled");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    h
}

/// A client that does not follow redirects (to see `Set-Cookie` and `Location`), with or
/// without a certificate.
fn browser(h: &Harness, cert: Option<&str>) -> reqwest::Client {
    let ca = std::fs::read(&h.pki.ca_cert).unwrap();
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], h.port())),
        )
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some(stem) = cert {
        let dir = pki_dir(h.dir.path());
        let mut pem = std::fs::read(dir.join(format!("{stem}.pem"))).unwrap();
        pem.extend(std::fs::read(dir.join(format!("{stem}.key"))).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_string();
            (value, v.to_string())
        })
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a CSRF field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Finding ids linked from a list page, in order.
fn finding_ids(html: &str) -> Vec<String> {
    html.match_indices("href=\"/console/findings/F-")
        .map(|(i, m)| {
            let rest = &html[i + m.len() - 2..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

struct Session {
    client: reqwest::Client,
    cookie: String,
}

impl Session {
    async fn get(&self, h: &Harness, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(h.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, h: &Harness, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .client
            .post(h.url(path))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

async fn login(h: &Harness) -> Session {
    let client = browser(h, None);
    let r = client.get(h.url("/console")).send().await.unwrap();
    assert_eq!(
        r.status(),
        303,
        "an anonymous visitor is sent to the login page"
    );
    assert_eq!(r.headers()["location"], "/console/login");
    let r = client.get(h.url("/console/login")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (nonce, _) = set_cookie(&r, "wg_login").expect("a login nonce cookie");
    let page = r.text().await.unwrap();
    assert!(page.contains("操作员登录"), "{page}");
    let csrf = csrf_of(&page);
    // A wrong token is refused, and sets no session.
    let r = client
        .post(h.url("/console/login"))
        .header("cookie", format!("wg_login={nonce}"))
        .form(&[("token", "wrong"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "wg_session").is_none());
    // Without the login form's CSRF token, even the right token is refused.
    let r = client
        .post(h.url("/console/login"))
        .header("cookie", format!("wg_login={nonce}"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "wg_session").is_none());
    let r = client
        .post(h.url("/console/login"))
        .header("cookie", format!("wg_login={nonce}"))
        .form(&[("token", TOKEN), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (session, raw) = set_cookie(&r, "wg_session").expect("a session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(raw.contains(attr), "{raw} lacks {attr}");
    }
    assert!(!raw.contains(TOKEN), "the token is not in the cookie");
    Session {
        client,
        cookie: format!("wg_session={session}"),
    }
}

async fn an_operator_logs_in_and_works_findings_in_chinese(db: Database) {
    let h = start(db).await;
    let s = login(&h).await;

    let (status, overview) = s.get(&h, "/console").await;
    assert_eq!(status, 200);
    for text in [
        "总览",
        "未处理预警",
        "涉及金额",
        "<svg",
        "风险最高的项目",
        "北京时间",
        "li.wei",
    ] {
        assert!(overview.contains(text), "overview lacks {text}");
    }
    assert!(overview.contains('¥'));

    let (status, list) = s
        .get(&h, "/console/findings?status=active&per_page=5")
        .await;
    assert_eq!(status, 200);
    let ids = finding_ids(&list);
    assert!(!ids.is_empty() && ids.len() <= 5, "{ids:?}");
    assert!(
        list.contains("预警等级") && list.contains("预警"),
        "Chinese headers"
    );
    assert!(
        ["红色预警", "橙色预警", "黄色预警"]
            .iter()
            .any(|s| list.contains(s)),
        "severity in Chinese"
    );
    assert!(list.contains("待处理"));
    // Rust or English vocabulary does not leak into the page.
    assert!(!list.contains("WagesUnpaid") && !list.contains(">red<") && !list.contains(">open<"));
    // Bad parameters are a clear 400, not a silent default.
    let (status, page) = s.get(&h, "/console/findings?per_page=0").await;
    assert_eq!(status, 400);
    assert!(page.contains("per_page"), "{page}");
    let (status, _) = s.get(&h, "/console/findings?severity=purple").await;
    assert_eq!(status, 400);

    let (first, second) = (ids[0].clone(), ids.get(1).cloned().unwrap_or_default());
    let (status, detail) = s.get(&h, &format!("/console/findings/{first}")).await;
    assert_eq!(status, 200);
    for text in [
        first.as_str(),
        "证据",
        "计算过程",
        "法律依据",
        "处理记录",
        "确认预警",
        "驳回理由",
    ] {
        assert!(detail.contains(text), "detail lacks {text}");
    }
    let csrf = csrf_of(&detail);

    // A form posted without (or with another) CSRF token changes nothing.
    let (status, page) = s
        .post(&h, &format!("/console/findings/{first}/acknowledge"), &[])
        .await;
    assert_eq!(status, 403);
    assert!(page.contains("CSRF"));
    let (status, _) = s
        .post(
            &h,
            &format!("/console/findings/{first}/acknowledge"),
            &[("csrf", &"0".repeat(64))],
        )
        .await;
    assert_eq!(status, 403);
    let f = h.store().get_finding(&first).await.unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Open);

    let (status, page) = s
        .post(
            &h,
            &format!("/console/findings/{first}/acknowledge"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已确认该预警"));
    let f = h.store().get_finding(&first).await.unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Acknowledged);
    let events = h.store().finding_events(&first).await.unwrap();
    assert_eq!(events.last().unwrap().event.actor, "operator:li.wei");

    // Dismissing needs a reason; with one it is recorded.
    if !second.is_empty() {
        let path = format!("/console/findings/{second}/dismiss");
        let (status, _) = s
            .post(&h, &path, &[("csrf", &csrf), ("reason", "  ")])
            .await;
        assert_eq!(status, 400);
        let reason = "项目已停工，经现场核实工资已现金发放";
        let (status, page) = s
            .post(&h, &path, &[("csrf", &csrf), ("reason", reason)])
            .await;
        assert_eq!(status, 200);
        assert!(page.contains("已驳回") && page.contains(reason));
        let f = h.store().get_finding(&second).await.unwrap().unwrap();
        assert_eq!(f.status, FindingStatus::Dismissed);
        assert_eq!(f.status_reason.as_deref(), Some(reason));
        let events = h.store().finding_events(&second).await.unwrap();
        assert_eq!(events.last().unwrap().event.actor, "operator:li.wei");
    }

    // The file log shows what each partner sent.
    let (status, log) = s.get(&h, "/console/files").await;
    assert_eq!(status, 200);
    assert!(log.contains("报送文件记录") && log.contains("FILE-") && log.contains("已解析"));

    // Logging out needs the CSRF token too, and ends the session cookie.
    let (status, _) = s.post(&h, "/console/logout", &[]).await;
    assert_eq!(status, 403);
    let r = s
        .client
        .post(h.url("/console/logout"))
        .header("cookie", &s.cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (value, _) = set_cookie(&r, "wg_session").unwrap();
    assert!(value.is_empty());
    // A forged cookie is no session.
    let r = s
        .client
        .get(h.url("/console"))
        .header("cookie", "wg_session=6f70.99999999999.00")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

async fn certificates_decide_who_reaches_the_console(db: Database) {
    let h = start(db).await;
    let bank = browser(&h, Some("bank"));
    for path in [
        "/console",
        "/console/login",
        "/console/findings",
        "/console/files",
    ] {
        let r = bank.get(h.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert!(r.text().await.unwrap().contains("合作机构"));
    }
    // Even a bank certificate with a valid operator session cookie is refused.
    let s = login(&h).await;
    let r = bank
        .get(h.url("/console/findings"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = bank
        .post(h.url("/console/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The operator certificate gets in without logging in, and its forms carry a token.
    let op = browser(&h, Some("operator"));
    let r = op
        .get(h.url("/console/findings?status=active"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = r.text().await.unwrap();
    let id = finding_ids(&list).remove(0);
    let detail = op
        .get(h.url(&format!("/console/findings/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = op
        .post(h.url(&format!("/console/findings/{id}/acknowledge")))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = op
        .post(h.url(&format!("/console/findings/{id}/acknowledge")))
        .form(&[("csrf", csrf_of(&detail).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let f = h.store().get_finding(&id).await.unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Acknowledged);
}

async fn the_language_switch_changes_every_page_and_never_redirects_away(db: Database) {
    let h = start(db).await;
    let s = login(&h).await;
    let r = s
        .client
        .get(h.url("/console/lang?to=en&back=/console/findings"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/findings");
    let (lang, raw) = set_cookie(&r, "wg_lang").unwrap();
    assert_eq!(lang, "en");
    assert!(raw.contains("SameSite=Strict"));
    let english = Session {
        client: s.client.clone(),
        cookie: format!("{}; wg_lang=en", s.cookie),
    };
    let (_, list) = english.get(&h, "/console/findings?status=active").await;
    assert!(list.contains("<html lang=\"en\">"));
    assert!(list.contains("Findings") && list.contains("Severity"));
    assert!(!list.contains("预警列表") && !list.contains("红色预警"));
    assert!(list.contains("简体中文"), "the switch back is offered");
    let (_, overview) = english.get(&h, "/console").await;
    assert!(overview.contains("Money at risk") && !overview.contains("涉及金额"));
    // Chinese remains the default without the cookie.
    let (_, zh) = s.get(&h, "/console/findings").await;
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("预警列表"));
    // `back` outside the console is not followed.
    for evil in [
        "https://evil.example/",
        "//evil.example/console",
        "/v1/findings",
    ] {
        let r = s
            .client
            .get(h.url("/console/lang"))
            .query(&[("to", "zh"), ("back", evil)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/console", "{evil}");
    }
}

async fn the_findings_xlsx_has_chinese_headers_and_the_listed_findings(db: Database) {
    use calamine::{Data, Reader, Xlsx};
    let h = start(db).await;
    let s = login(&h).await;
    // Reconciliation may still be running: take a download framed by two equal listings.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (ids, bytes) = loop {
        let (_, before) = s
            .get(&h, "/console/findings?status=active&per_page=500")
            .await;
        let r = s
            .client
            .get(h.url("/console/findings.xlsx?status=active"))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml"));
        let bytes = r.bytes().await.unwrap();
        let (_, after) = s
            .get(&h, "/console/findings?status=active&per_page=500")
            .await;
        if finding_ids(&before) == finding_ids(&after) {
            break (finding_ids(&after), bytes);
        }
        assert!(Instant::now() < deadline, "the findings never settled");
    };
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("a readable XLSX");
    assert_eq!(book.sheet_names(), vec!["预警".to_string()]);
    let range = book.worksheet_range("预警").unwrap();
    let rows: Vec<_> = range.rows().collect();
    assert_eq!(rows[0][0], Data::String("预警编号".into()));
    assert_eq!(rows[0][1], Data::String("预警等级".into()));
    assert_eq!(rows.len() - 1, ids.len(), "one row per listed finding");
    let first = h.store().get_finding(&ids[0]).await.unwrap().unwrap();
    assert_eq!(rows[1][0], Data::String(first.finding.id.clone()));
    let amount_col = rows[0]
        .iter()
        .position(|c| *c == Data::String("涉及金额（元）".into()))
        .unwrap();
    let fen = first.finding.amount_short.fen();
    match &rows[1][amount_col] {
        Data::Float(v) => assert!((v * 100.0 - fen as f64).abs() < 0.5, "{v} vs {fen} fen"),
        other => panic!("amount cell is {other:?}"),
    }

    // The project's reconciliation workbook, linked from the finding's page.
    let project = first.finding.project.clone();
    let (_, page) = s.get(&h, &format!("/console/findings/{}", ids[0])).await;
    let link = format!("/console/projects/{project}/reconciliation.xlsx");
    assert!(
        page.contains(&link),
        "the finding links the project's workbook"
    );
    let r = s
        .client
        .get(h.url(&link))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.bytes().await.unwrap().to_vec()))
            .expect("a readable XLSX");
    assert_eq!(
        book.sheet_names()[..2],
        ["项目".to_string(), "预警".to_string()]
    );
    let facts = book.worksheet_range("项目").unwrap();
    assert_eq!(facts.get((0, 1)), Some(&Data::String(project.clone())));
    let (status, _) = s
        .get(&h, "/console/projects/NO-SUCH/reconciliation.xlsx")
        .await;
    assert_eq!(status, 404);
}

const OTHER_TOKEN: &str = "console-operator-token-of-someone-else";

/// Signs in with `token` through the login form (the checks are in [`login`]).
async fn login_with(h: &Harness, token: &str) -> Session {
    let client = browser(h, None);
    let r = client.get(h.url("/console/login")).send().await.unwrap();
    let (nonce, _) = set_cookie(&r, "wg_login").unwrap();
    let csrf = csrf_of(&r.text().await.unwrap());
    let r = client
        .post(h.url("/console/login"))
        .header("cookie", format!("wg_login={nonce}"))
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (session, _) = set_cookie(&r, "wg_session").unwrap();
    Session {
        client,
        cookie: format!("wg_session={session}"),
    }
}

async fn personal_data_is_masked_everywhere_and_revealed_only_to_viewers_with_an_audit(
    db: Database,
) {
    let h = start_with(db, |s| {
        s.operators.push(ingest::config::OperatorToken {
            name: "wang.fang".into(),
            token_sha256: server::http::auth::token_sha256(OTHER_TOKEN),
            role: ingest::config::PartnerRole::Operator,
        });
        s.ui.personal_data_viewers = vec!["li.wei".into()];
    })
    .await;
    // Every worker's ID and card number the gateway holds (registry and bank files).
    let mut secrets: Vec<String> = Vec::new();
    let mut lines: std::collections::HashMap<String, schemas::PaySheetLine> = Default::default();
    for kind in [
        store::RecordKind::Paysheet,
        store::RecordKind::Roster,
        store::RecordKind::Payment,
    ] {
        for r in h.store().load_kind(kind).await.unwrap() {
            match kind {
                store::RecordKind::Paysheet => {
                    let l: schemas::PaySheetLine = r.decode().unwrap();
                    secrets.push(l.id_number.expose().to_string());
                    secrets.push(l.card_number.expose().to_string());
                    lines.insert(r.key.clone(), l);
                }
                store::RecordKind::Roster => {
                    let e: schemas::RosterEntry = r.decode().unwrap();
                    secrets.push(e.id_number.expose().to_string());
                    secrets.push(e.card_number.expose().to_string());
                }
                _ => {
                    let p: schemas::PaymentResult = r.decode().unwrap();
                    secrets.extend(p.id_number.map(|i| i.expose().to_string()));
                    secrets.extend(p.card_number.map(|c| c.expose().to_string()));
                }
            }
        }
    }
    assert!(secrets.len() > 10 && !lines.is_empty());
    let leaks = |page: &str| -> Vec<String> {
        secrets
            .iter()
            .filter(|s| page.contains(s.as_str()))
            .cloned()
            .collect()
    };

    // No page shows a full ID or card number, to anyone, without a reveal.
    let viewer = login(&h).await;
    let other = login_with(&h, OTHER_TOKEN).await;
    let (_, list) = viewer.get(&h, "/console/findings?per_page=500").await;
    let ids = finding_ids(&list);
    assert!(!ids.is_empty());
    for path in [
        "/console",
        "/console/findings?per_page=500",
        "/console/files",
    ] {
        let (status, page) = viewer.get(&h, path).await;
        assert_eq!(status, 200);
        assert_eq!(
            leaks(&page),
            Vec::<String>::new(),
            "{path} shows personal data"
        );
    }
    let mut projects = std::collections::BTreeSet::new();
    for id in &ids {
        let (_, page) = viewer.get(&h, &format!("/console/findings/{id}")).await;
        assert_eq!(
            leaks(&page),
            Vec::<String>::new(),
            "{id} shows personal data"
        );
        projects.insert(
            h.store()
                .get_finding(id)
                .await
                .unwrap()
                .unwrap()
                .finding
                .project,
        );
    }
    let mut unpaid_listed = false;
    for p in &projects {
        let (status, page) = viewer.get(&h, &format!("/console/projects/{p}")).await;
        if status == 404 {
            continue; // a finding about a project the registry does not hold
        }
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains("工资专用账户及余额") && page.contains(p.as_str()),
            "{page}"
        );
        assert_eq!(
            leaks(&page),
            Vec::<String>::new(),
            "project {p} shows personal data"
        );
        unpaid_listed |= page.contains("未足额发放的工人");
    }
    assert!(
        unpaid_listed,
        "no project page lists its unpaid workers (masked)"
    );
    let (status, _) = viewer.get(&h, "/console/projects/NO-SUCH").await;
    assert_eq!(status, 404);

    // A finding that cites a pay-sheet line shows its worker masked.
    let mut cited = None;
    for id in &ids {
        let f = h.store().get_finding(id).await.unwrap().unwrap();
        if let Some(l) = f.finding.evidence.iter().find_map(|e| lines.get(&e.key)) {
            cited = Some((id.clone(), l.clone()));
            break;
        }
    }
    let (id, line) = cited.expect("a finding citing a pay-sheet line");
    let path = format!("/console/findings/{id}");
    let (_, page) = viewer.get(&h, &path).await;
    assert!(
        page.contains("涉及人员") && page.contains(&line.id_number.masked()),
        "{page}"
    );
    assert!(page.contains(&line.card_number.masked()));
    assert!(!page.contains(&line.worker_name) || line.worker_name.chars().count() < 2);
    assert!(page.contains("/reveal"), "a viewer is offered the reveal");

    // Someone not allowed: no reveal offered, and a reveal they post is refused, unlogged.
    let (_, page) = other.get(&h, &path).await;
    assert!(page.contains(&line.id_number.masked()) && !page.contains("/reveal"));
    let csrf = csrf_of(&page);
    let (status, page) = other
        .post(&h, &format!("{path}/reveal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 403);
    assert_eq!(leaks(&page), Vec::<String>::new());
    assert!(h.store().access_log(None, 10).await.unwrap().is_empty());

    // The viewer without the form's CSRF token: refused.
    let (status, page) = viewer.post(&h, &format!("{path}/reveal"), &[]).await;
    assert_eq!(status, 403);
    assert_eq!(leaks(&page), Vec::<String>::new());
    assert!(h.store().access_log(None, 10).await.unwrap().is_empty());

    // The viewer through the form: the full values, and an audit row naming them.
    let (_, page) = viewer.get(&h, &path).await;
    let csrf = csrf_of(&page);
    let (status, page) = viewer
        .post(&h, &format!("{path}/reveal"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(line.id_number.expose()) && page.contains(line.card_number.expose()));
    assert!(page.contains(&line.worker_name));
    assert!(page.contains("已记入审计日志"));
    let log = h.store().access_log(Some(&id), 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor, "operator:li.wei");
    assert_eq!(log[0].action, "reveal_personal_data");
    assert!(log[0].detail.contains(&line.key()));
    assert!(
        !log[0].detail.contains(line.id_number.expose()),
        "the log names records, not data"
    );

    // Afterwards the page is masked again, and says who saw the data in full.
    let (_, page) = other.get(&h, &path).await;
    assert_eq!(leaks(&page), Vec::<String>::new());
    assert!(page.contains("个人信息查看记录") && page.contains("operator:li.wei"));
}

/// A Prometheus scraper's token (`role = "metrics"`) reads `/metrics` and nothing else: the
/// console's login refuses it like a wrong token and sets no session.
async fn a_metrics_scrapers_token_does_not_open_the_console(db: Database) {
    const SCRAPER: &str = "prometheus-scraper-token-for-tests";
    let h = start_with(db, |s| {
        s.operators.push(ingest::config::OperatorToken {
            name: "prometheus".into(),
            token_sha256: server::http::auth::token_sha256(SCRAPER),
            role: ingest::config::PartnerRole::Metrics,
        });
    })
    .await;
    let client = browser(&h, None);
    let r = client.get(h.url("/console/login")).send().await.unwrap();
    let (nonce, _) = set_cookie(&r, "wg_login").expect("a login nonce cookie");
    let csrf = csrf_of(&r.text().await.unwrap());
    let r = client
        .post(h.url("/console/login"))
        .header("cookie", format!("wg_login={nonce}"))
        .form(&[("token", SCRAPER), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "wg_session").is_none());
    // The operator's own token still works in the same server.
    login(&h).await;
}

/// `wagegate token revoke` (the store's `revoke_operator_tokens`, which the command calls)
/// ends a console session opened with that token on its very next request, a GET as much
/// as a form; a configured token removed by a reload (SIGHUP) ends its sessions the same way.
async fn a_revoked_or_removed_token_ends_its_console_session_on_the_next_request(db: Database) {
    const STORED: &str = "stored-console-token-to-be-revoked";
    let h = start(db).await;
    // `wagegate token create --name zhao.min` stores the token's SHA-256.
    h.store()
        .put_operator_token(
            "zhao.min",
            &server::http::auth::token_sha256(STORED),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let s = login_with(&h, STORED).await;
    let (status, list) = s.get(&h, "/console/findings?status=open").await;
    assert_eq!(status, 200);
    assert!(list.contains("operator:zhao.min"), "signed in as zhao.min");
    let id = finding_ids(&list)
        .into_iter()
        .next()
        .expect("an open finding");
    let (status, page) = s.get(&h, &format!("/console/findings/{id}")).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);

    let revoked = h
        .store()
        .revoke_operator_tokens("zhao.min", None)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    // The same cookie, still signed and not expired, opens nothing any more.
    let r = s
        .client
        .get(h.url("/console"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        303,
        "a revoked session is sent to the login page"
    );
    assert_eq!(r.headers()["location"], "/console/login");
    let (status, _) = s
        .post(
            &h,
            &format!("/console/findings/{id}/acknowledge"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 401, "a form of a revoked session is refused");
    let f = h.store().get_finding(&id).await.unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Open, "nothing was done");
    let (status, body) = s.get(&h, &format!("/console/findings/{id}")).await;
    assert_eq!(status, 303);
    assert!(!body.contains(&id));

    // A configured token (`[[operators]]`) removed by a reload: its session ends too, while
    // a session of a token still configured goes on.
    let li = login(&h).await;
    assert_eq!(li.get(&h, "/console").await.0, 200);
    let mut without = (*h.settings).clone();
    without.operators.retain(|o| o.name != "li.wei");
    without.operators.push(ingest::config::OperatorToken {
        name: "wang.fang".into(),
        token_sha256: server::http::auth::token_sha256(OTHER_TOKEN),
        role: ingest::config::PartnerRole::Operator,
    });
    h.daemon.as_ref().unwrap().reload(without).unwrap();
    let wang = login_with(&h, OTHER_TOKEN).await;
    assert_eq!(wang.get(&h, "/console").await.0, 200);
    assert_eq!(
        li.get(&h, "/console").await.0,
        303,
        "li.wei's token is gone"
    );
}

/// The console asks the server for its partners on every page: a reload (what SIGHUP does)
/// that adds a bank shows it at once (on the overview as never having delivered, in the file
/// log's sender filter), and one that removes it takes it away.
async fn partners_added_or_removed_by_a_reload_show_on_the_console(db: Database) {
    let h = start(db).await;
    let s = login(&h).await;
    let (_, overview) = s.get(&h, "/console").await;
    let (_, files) = s.get(&h, "/console/files").await;
    assert!(!overview.contains("闽江新设银行") && !files.contains("闽江新设银行"));

    let mut added = (*h.settings).clone();
    let mut bank = added
        .partners
        .iter()
        .find(|p| p.role == ingest::config::PartnerRole::Bank)
        .expect("the demo has a bank")
        .clone();
    bank.id = "mj-new-bank".into();
    bank.name = Some("闽江新设银行".into());
    bank.fingerprints = vec!["ab".repeat(32)];
    added.partners.push(bank);
    h.daemon.as_ref().unwrap().reload(added).unwrap();
    let (status, overview) = s.get(&h, "/console").await;
    assert_eq!(status, 200);
    assert!(
        overview.contains("闽江新设银行") && overview.contains("从未报送"),
        "the new bank is late: it never sent a file"
    );
    let (_, files) = s.get(&h, "/console/files").await;
    assert!(
        files.contains("<option value=\"mj-new-bank\""),
        "a sender to filter by"
    );

    h.daemon
        .as_ref()
        .unwrap()
        .reload((*h.settings).clone())
        .unwrap();
    let (_, overview) = s.get(&h, "/console").await;
    let (_, files) = s.get(&h, "/console/files").await;
    assert!(!overview.contains("闽江新设银行") && !files.contains("<option value=\"mj-new-bank\""));
}

/// Runs of ASCII letters in `text` that read as English words: not part of a code, id,
/// key, amount or date (a token holding a digit, `_`, `-`, `.` or `/`), not all capitals
/// (a code such as `ACCOUNT_CLOSED` or `ICBC`), at least two letters; words quoted from a
/// bank's or payer's own text (“…”) are theirs and not counted.
fn english_words(text: &str) -> Vec<String> {
    // What a bank or a payer wrote, quoted verbatim as evidence (“…”), is theirs.
    let mut own = String::new();
    let mut quoted = 0usize;
    for c in text.chars() {
        match c {
            '“' => quoted += 1,
            '”' => quoted = quoted.saturating_sub(1),
            c if quoted == 0 => own.push(c),
            _ => {}
        }
    }
    own.split(|c: char| !(c.is_ascii_alphanumeric() || "_-./:".contains(c)))
        .filter(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()))
        .filter(|t| t.chars().any(|c| c.is_ascii_lowercase()))
        .map(str::to_string)
        .collect()
}

/// The text of the element with `id` (up to its closing tag), tags removed.
fn element_text(html: &str, open: &str, close: &str) -> String {
    let Some(at) = html.find(open) else {
        return String::new();
    };
    let rest = &html[at + open.len()..];
    let inner = &rest[..rest.find(close).unwrap_or(rest.len())];
    let mut out = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Every finding's page, in Chinese: the reconciler's own sentences (the details line, every
/// evidence description, every line of the arithmetic) hold no English word; switched to
/// English, the same places hold the English sentences the finding stores. The evidence
/// pack's explanations follow the same language.
async fn findings_read_in_chinese_by_default_and_in_english_when_switched(db: Database) {
    let h = start(db).await;
    let s = login(&h).await;
    let all = h
        .store()
        .list_findings(&store::FindingFilter {
            limit: Some(store::MAX_PAGE),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let codes: std::collections::BTreeSet<_> = all.iter().map(|f| f.finding.code).collect();
    assert!(codes.len() >= 4, "the demo raises several kinds: {codes:?}");
    let mut lines_checked = 0;
    for sf in &all {
        let f = &sf.finding;
        assert!(has_cjk(&f.summary_zh), "{}: {}", f.id, f.summary_zh);
        assert_eq!(f.computation_zh.len(), f.computation.len(), "{}", f.id);
        let (status, page) = s.get(&h, &format!("/console/findings/{}", f.id)).await;
        assert_eq!(status, 200);
        let detail = element_text(&page, "<td id=\"detail\">", "</td>");
        let evidence = element_text(&page, "<h2>证据</h2>", "</table>");
        let arithmetic = element_text(&page, "<pre>", "</pre>");
        assert!(
            has_cjk(&detail) && has_cjk(&arithmetic),
            "{}: {detail} / {arithmetic}",
            f.id
        );
        for (what, text) in [
            ("details", &detail),
            ("evidence", &evidence),
            ("arithmetic", &arithmetic),
        ] {
            assert_eq!(
                english_words(text),
                Vec::<String>::new(),
                "{} {what} in Chinese: {text}",
                f.id
            );
        }
        for e in &f.evidence {
            assert!(
                page.contains(&html_escape(&e.description_zh)),
                "{}: evidence shown as stored in Chinese: {}",
                f.id,
                e.description_zh
            );
        }
        lines_checked += f.computation_zh.len();
    }
    assert!(lines_checked > 10, "{lines_checked}");

    // English: the same pages carry the English sentences.
    let r = s
        .client
        .get(h.url("/console/lang?to=en"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    let (lang, _) = set_cookie(&r, "wg_lang").expect("the language cookie");
    let en = Session {
        client: s.client.clone(),
        cookie: format!("{}; wg_lang={lang}", s.cookie),
    };
    for sf in all.iter().take(40) {
        let f = &sf.finding;
        let (_, page) = en.get(&h, &format!("/console/findings/{}", f.id)).await;
        let detail = element_text(&page, "<td id=\"detail\">", "</td>");
        assert_eq!(detail.trim(), f.summary, "{}", f.id);
        // English sentences (names and quoted remittance texts stay as written).
        for line in &f.computation {
            assert!(page.contains(&html_escape(line)), "{}: {line}", f.id);
        }
        for line in f
            .computation_zh
            .iter()
            .filter(|l| !f.computation.contains(l))
        {
            assert!(!page.contains(&html_escape(line)), "{}: {line}", f.id);
        }
        assert!(!page.contains(&html_escape(&f.summary_zh)), "{}", f.id);
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// The project page draws the guarantee cover against the requirement over time (inline
/// SVG) and says the same in a table: the amount required, and from which day the cover
/// held was short, in words.
async fn the_project_page_draws_guarantee_cover_against_the_requirement(db: Database) {
    let h = start(db).await;
    let s = login(&h).await;
    // A project with a guarantee finding has a requirement; this harness sends no letters,
    // so its cover is short from the start.
    let all = h
        .store()
        .list_findings(&store::FindingFilter {
            limit: Some(store::MAX_PAGE),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let g = all
        .iter()
        .find(|f| {
            matches!(
                f.finding.code,
                schemas::FindingCode::GuaranteeMissing | schemas::FindingCode::GuaranteeShort
            )
        })
        .expect("the demo has a project without enough guarantee");
    let (status, page) = s
        .get(&h, &format!("/console/projects/{}", g.finding.project))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("保证金覆盖时间轴"), "the timeline's heading");
    let timeline = &page[page.find("id=\"guarantee-timeline\"").unwrap()..];
    assert!(timeline.contains("<svg") && timeline.contains("工资保证金时间轴"));
    assert!(
        timeline.contains("stroke-dasharray"),
        "the requirement's line"
    );
    let required = element_text(timeline, "<strong id=\"required-guarantee\">", "</strong>");
    assert!(required.starts_with('¥'), "{required}");
    let table = element_text(timeline, "<table id=\"cover-table\">", "</table>");
    assert!(table.contains("不足"), "short said in words: {table}");
    assert!(!timeline.contains("https://"), "no external resource");
}

/// An attacker who cannot pass the API's bearer-token throttle tries the console's login form
/// instead: the same failures count, so after the limit even the right token is not checked
/// (429 with `Retry-After`, no session), and the API refuses that address too.
async fn guessing_tokens_on_the_login_form_is_throttled_like_the_api(db: Database) {
    let h = start_with(db, |s| {
        s.server.auth_failure_limit = 3;
        s.server.auth_failure_window_s = 600;
    })
    .await;
    let client = browser(&h, None);
    let r = client.get(h.url("/console/login")).send().await.unwrap();
    let (nonce, _) = set_cookie(&r, "wg_login").unwrap();
    let csrf = csrf_of(&r.text().await.unwrap());
    let post = |token: &'static str| {
        client
            .post(h.url("/console/login"))
            .header("cookie", format!("wg_login={nonce}"))
            .form(&[("token", token), ("csrf", csrf.as_str())])
            .send()
    };
    for guess in ["guess-aaaa-1", "guess-bbbb-2", "guess-cccc-3"] {
        let r = post(guess).await.unwrap();
        assert_eq!(r.status(), 401, "a wrong token is refused before the limit");
    }
    let r = post(TOKEN).await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "past the limit even the right token is not checked"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    assert!(set_cookie(&r, "wg_session").is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("无效令牌尝试过多"), "{page}");
    // The API shares the count: a bearer token from this address waits as well.
    let r = client
        .get(h.url("/v1/findings"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

/// A bank floods a project with more payment results than one project may have
/// (`reconciler.max_project_facts`, here its smallest value): its page, workbook and evidence
/// packs are not built — they would hold every record — and say why in Chinese; its findings
/// from before still open (without the workers behind them); the other project's page is as
/// ever.
async fn a_flooded_project_is_not_opened_and_the_page_says_why(db: Database) {
    let h = start_with(db, |s| s.reconciler.max_project_facts = 10_000).await;
    let s = login(&h).await;
    let before = h
        .store()
        .list_findings(&store::FindingFilter {
            project: Some("FJ-FZ-2026-0017".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let bank = h.client("bank");
    let receipt = h.push(&bank, &pain002_flood(10_100)).await;
    let file = h
        .wait_processed(&bank, receipt["id"].as_str().unwrap())
        .await;
    assert_eq!(file["status"], "parsed", "{file}");

    let (status, page) = s.get(&h, "/console/projects/FJ-FZ-2026-0017").await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("FJ-FZ-2026-0017") && page.contains("未对账") && page.contains("10000"),
        "{page}"
    );
    let (status, _) = s
        .get(&h, "/console/projects/FJ-FZ-2026-0017/reconciliation.xlsx")
        .await;
    assert_eq!(status, 409);
    let f = before.first().expect("the demo's project has findings");
    let (status, page) = s
        .get(&h, &format!("/console/findings/{}", f.finding.id))
        .await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = s.get(&h, "/console/projects/GZ-GY-2026-0042").await;
    assert_eq!(status, 200, "{page}");
}
