//! A real browser (headless Chromium, driven over the DevTools protocol) against the real
//! server over TLS: log in with the operator token through the login form, read the
//! overview, filter findings, open one, acknowledge it, dismiss another with a reason,
//! switch to English. Screenshots of each page go to `target/console-screenshots/{sqlite,postgres}/`
//! for a person to look at. On SQLite and PostgreSQL. Needs `WAGEGATE_CHROMIUM` (the chromium binary; `.ci/run` installs it
//! and sets it): without it the test is skipped locally and fails in CI (testenv).

#[macro_use]
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use console::evidence;
use futures::{SinkExt, StreamExt};
use schemas::FindingStatus;
use serde_json::{json, Value};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "browser-operator-token-for-tests";
const SIGNING_KEY: &str = "the evidence signing key of the browser test";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One DevTools page session.
struct Page {
    ws: Ws,
    next_id: u64,
    /// Screenshots go to `target/console-screenshots/<database>/`.
    shots: &'static str,
}

impl Page {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("the browser closed the connection")
                .unwrap();
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Clicks what `selector` finds (a download link) and waits for the browser to finish
    /// saving the file into `dir` (the browser's download folder): its name and bytes.
    async fn download(&mut self, dir: &std::path::Path, selector: &str) -> (String, Vec<u8>) {
        for e in std::fs::read_dir(dir).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        let clicked = self
            .eval(&format!(
                "(() => {{ const a = document.querySelector({selector:?}); if (!a) return false; a.click(); return true; }})()"
            ))
            .await;
        assert_eq!(clicked, json!(true), "nothing to click at {selector}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if let [one] = done.as_slice() {
                let name = one.file_name().unwrap().to_string_lossy().into_owned();
                if !name.ends_with(".crdownload") {
                    return (name, std::fs::read(one).unwrap());
                }
            }
            assert!(
                Instant::now() < deadline,
                "the download from {selector} never finished: {done:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the document at a URL with `path` (and query, if given) has loaded.
    async fn wait_for(&mut self, path_and_query: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self
                .eval("document.readyState + ' ' + location.pathname + location.search")
                .await;
            let s = v.as_str().unwrap_or("");
            if s == format!("complete {path_and_query}") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "page never reached {path_and_query}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn goto(&mut self, base: &str, path_and_query: &str) {
        self.call(
            "Page.navigate",
            json!({"url": format!("{base}{path_and_query}")}),
        )
        .await;
        self.wait_for(path_and_query).await;
    }

    async fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn screenshot(&mut self, name: &str) -> PathBuf {
        let r = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = screenshots_dir().join(self.shots);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// `target/console-screenshots` (beside the test binary's `debug/`).
fn screenshots_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(|t| t.join("console-screenshots"))
        .unwrap_or_else(|| std::env::temp_dir().join("console-screenshots"))
}

on_both_databases!(an_operator_does_the_days_work_in_a_real_browser);

async fn an_operator_does_the_days_work_in_a_real_browser(db: Database) {
    let Some(chromium) = testenv::var("WAGEGATE_CHROMIUM") else {
        return;
    };
    let shots = match db {
        Database::Sqlite => "sqlite",
        Database::Postgres { .. } => "postgres",
    };
    let h = Harness::start(db, |s| {
        s.operators.push(ingest::config::OperatorToken {
            name: "zhang.min".into(),
            token_sha256: server::http::auth::token_sha256(TOKEN),
            role: ingest::config::PartnerRole::Operator,
        });
        s.evidence.signing_key = Some(SIGNING_KEY.into());
    })
    .await;
    settle_demo(&h).await;

    let profile = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--ignore-certificate-errors",
            "--remote-debugging-port=0",
            "--window-size=1400,1000",
            "--host-resolver-rules=MAP localhost 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let browser_ws = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("ws://") {
                return line[at..].trim().to_string();
            }
        }
        panic!("chromium exited without a DevTools address");
    })
    .await
    .expect("chromium printed its DevTools address");
    // Keep draining stderr so chromium never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let port = browser_ws
        .trim_start_matches("ws://")
        .split(['/', ':'])
        .nth(1)
        .unwrap()
        .to_string();
    let list: Vec<Value> = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page_ws = list
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_string();
    // Downloads go to a folder of ours, where the test reads them.
    let downloads = tempfile::tempdir().unwrap();
    let (bws, _) = tokio_tungstenite::connect_async(browser_ws.as_str())
        .await
        .unwrap();
    let mut browser = Page {
        ws: bws,
        next_id: 0,
        shots,
    };
    browser
        .call(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": downloads.path().to_str().unwrap()}),
        )
        .await;
    let (ws, _) = tokio_tungstenite::connect_async(page_ws).await.unwrap();
    let mut page = Page {
        ws,
        next_id: 0,
        shots,
    };
    page.call("Page.enable", json!({})).await;
    let base = h.url("");

    // Not logged in: the console sends the browser to the login form.
    page.call("Page.navigate", json!({"url": format!("{base}/console")}))
        .await;
    page.wait_for("/console/login").await;
    assert!(page.text().await.contains("操作员登录"));
    page.screenshot("01-login").await;
    page.eval(&format!(
        "document.getElementById('token').value = '{TOKEN}'; document.querySelector('form').submit(); true"
    ))
    .await;
    page.wait_for("/console").await;
    let overview = page.text().await;
    for t in [
        "总览",
        "未处理预警",
        "涉及金额",
        "风险最高的项目",
        "zhang.min",
    ] {
        assert!(overview.contains(t), "overview lacks {t}:\n{overview}");
    }
    assert_eq!(
        page.eval("document.querySelectorAll('svg rect').length > 0")
            .await,
        json!(true)
    );
    // The session cookie is HttpOnly: page scripts cannot read it.
    assert_eq!(
        page.eval("document.cookie.includes('wg_session')").await,
        json!(false)
    );
    page.screenshot("02-overview").await;

    // Filter: active red findings, through the filter form.
    page.goto(&base, "/console/findings").await;
    page.eval(
        "document.querySelector('select[name=status]').value = 'active';\
         document.querySelector('select[name=severity]').value = 'red';\
         document.querySelector('form.filters').submit(); true",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while page
        .eval("location.search")
        .await
        .as_str()
        .unwrap_or("")
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the filter form did not submit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let search = page.eval("location.search").await;
    page.wait_for(&format!("/console/findings{}", search.as_str().unwrap()))
        .await;
    // Every row of the table is red, and none is closed.
    let rows = page
        .eval("document.querySelector('table tbody').innerText")
        .await
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(rows.contains("红色预警"), "{rows}");
    for other in ["橙色预警", "黄色预警", "已解决", "已驳回"] {
        assert!(
            !rows.contains(other),
            "the red active list shows {other}:\n{rows}"
        );
    }
    page.screenshot("03-findings-red").await;
    let ids: Vec<String> = serde_json::from_value(
        page.eval("[...document.querySelectorAll('a[href^=\"/console/findings/F-\"]')].map(a => a.textContent)")
            .await,
    )
    .unwrap();
    assert!(ids.len() >= 2, "{ids:?}");

    // Open one and acknowledge it with the form's button.
    page.eval("document.querySelector('a[href^=\"/console/findings/F-\"]').click(); true")
        .await;
    page.wait_for(&format!("/console/findings/{}", ids[0]))
        .await;
    let detail = page.text().await;
    assert!(detail.contains("法律依据") && detail.contains("证据") && detail.contains(&ids[0]));
    page.screenshot("04-finding").await;
    page.eval("document.querySelector('form[action$=acknowledge] button').click(); true")
        .await;
    page.wait_for(&format!("/console/findings/{}/acknowledge", ids[0]))
        .await;
    assert!(page.text().await.contains("已确认该预警"));
    let f = h.store().get_finding(&ids[0]).await.unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Acknowledged);
    page.screenshot("05-acknowledged").await;

    // Dismiss another with a reason typed into the form.
    page.goto(&base, &format!("/console/findings/{}", ids[1]))
        .await;
    page.eval(
        "document.getElementById('reason').value = '重复预警，已在另一项目处理';\
         document.querySelector('form[action$=dismiss] button').click(); true",
    )
    .await;
    page.wait_for(&format!("/console/findings/{}/dismiss", ids[1]))
        .await;
    let f = h.store().get_finding(&ids[1]).await.unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Dismissed);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("重复预警，已在另一项目处理")
    );
    let events = h.store().finding_events(&ids[1]).await.unwrap();
    assert_eq!(events.last().unwrap().event.actor, "operator:zhang.min");
    page.screenshot("06-dismissed").await;

    // Download the active findings as XLSX with the list's link; read it back cell by cell.
    page.goto(&base, "/console/findings?status=active&per_page=500")
        .await;
    let total: usize = page
        .eval("document.getElementById('total').textContent")
        .await
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let listed: Vec<String> = serde_json::from_value(
        page.eval("[...document.querySelectorAll('a[href^=\"/console/findings/F-\"]')].map(a => a.textContent)")
            .await,
    )
    .unwrap();
    let (name, xlsx) = page
        .download(downloads.path(), "a[href^=\"/console/findings.xlsx\"]")
        .await;
    assert_eq!(name, "findings.xlsx");
    {
        use calamine::{Data, Reader, Xlsx};
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("a readable XLSX");
        let range = book.worksheet_range("预警").unwrap();
        let rows: Vec<_> = range.rows().collect();
        assert_eq!(rows[0][0], Data::String("预警编号".into()));
        assert_eq!(rows.len() - 1, total, "one row per listed finding");
        let ids_in_book: Vec<String> = rows[1..].iter().map(|r| r[0].to_string()).collect();
        assert_eq!(
            ids_in_book, listed,
            "the rows are the list's findings, in its order"
        );
        assert!(
            !ids_in_book.contains(&ids[1]),
            "the dismissed finding is not active"
        );
    }

    // The evidence pack of the acknowledged finding's project and month, with the evidence
    // page's form: it verifies with the server's key and explains the finding.
    let f = h.store().get_finding(&ids[0]).await.unwrap().unwrap();
    let project = f.finding.project.clone();
    let month = match f.finding.period.get(..7) {
        Some(m) if evidence::check_period(m).is_ok() => m.to_string(),
        _ => panic!(
            "the first red finding's period {} names no month",
            f.finding.period
        ),
    };
    page.goto(&base, "/console/evidence").await;
    assert!(page.text().await.contains("电子证据包"));
    page.eval(&format!(
        "document.querySelector('select[name=project]').value = {project:?};\
         document.querySelector('input[name=period]').value = {month:?}; true"
    ))
    .await;
    page.screenshot("07-evidence").await;
    let (name, zip) = page
        .download(
            downloads.path(),
            "form[action=\"/console/evidence.zip\"] button",
        )
        .await;
    assert_eq!(name, format!("evidence-{project}-{month}.zip"));
    let key = evidence::SigningKey::new(SIGNING_KEY).unwrap();
    let verified = evidence::verify(&zip, &key).expect("the pack verifies");
    assert_eq!(verified.manifest.project, project);
    assert_eq!(verified.manifest.generated_by, "operator:zhang.min");
    if f.finding.period.starts_with(&month) {
        assert!(verified.manifest.findings.contains(&ids[0]));
        let explained = format!("预警说明/{}.txt", ids[0]);
        assert!(
            verified.manifest.files.iter().any(|f| f.path == explained),
            "{explained} is not in {:?}",
            verified.manifest.files
        );
    }
    let other = evidence::SigningKey::new("not the server's key, but long enough").unwrap();
    assert!(evidence::verify(&zip, &other).is_err());

    // The project's page, through the finding's link: accounts with a balance chart,
    // obligations and credits, pay sheets and payments, guarantees.
    page.goto(&base, &format!("/console/findings/{}", ids[0]))
        .await;
    page.eval(&format!(
        "document.querySelector('a[href=\"/console/projects/{project}\"]').click(); true"
    ))
    .await;
    page.wait_for(&format!("/console/projects/{project}")).await;
    let project_page = page.text().await;
    for t in [
        "工资专用账户及余额",
        "人工费用拨付义务与到账",
        "工资支付表与代发情况",
        "工资保证金",
        "保证金覆盖时间轴",
    ] {
        assert!(
            project_page.contains(t),
            "the project page lacks {t}:\n{project_page}"
        );
    }
    page.screenshot("08-project").await;

    // Switch to English with the header link; the page comes back in English.
    page.goto(&base, "/console/files").await;
    assert!(page.text().await.contains("报送文件记录"));
    page.screenshot("09-files").await;
    page.eval("document.querySelector('a[href^=\"/console/lang\"]').click(); true")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !page.text().await.contains("Partner file log") {
        assert!(
            Instant::now() < deadline,
            "the page never switched language"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    page.goto(&base, "/console").await;
    let en = page.text().await;
    assert!(
        en.contains("Money at risk") && !en.contains("涉及金额"),
        "{en}"
    );
    page.screenshot("10-overview-en").await;

    child.kill().await.unwrap();
}

/// The demo registry and bank files, processed and reconciled until the findings settle.
async fn settle_demo(h: &Harness) {
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
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        let received = h
            .stored_files()
            .await
            .iter()
            .any(|f| f.status == store::FileStatus::Received);
        let snapshot: Vec<(String, FindingStatus)> = h
            .store()
            .list_findings(&store::FindingFilter {
                limit: Some(store::MAX_PAGE),
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|f| (f.finding.id, f.status))
            .collect();
        if !received && snapshot.len() >= 2 && last.as_ref() == Some(&snapshot) {
            return;
        }
        last = Some(snapshot);
        assert!(Instant::now() < deadline, "the findings never settled");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
