//! The gateway over real TLS and real sockets: partners, certificates, limits, operators.

#[macro_use]
mod support;

use std::time::Duration;

use support::*;

on_both_databases!(
    a_bank_with_a_good_certificate_pushes_and_polls_its_file,
    no_certificate_is_refused_but_probes_answer,
    unknown_certificates_are_refused,
    a_bank_pushing_another_banks_account_is_rejected_and_nothing_is_stored_as_data,
    the_same_file_twice_and_concurrently_gets_one_receipt,
    many_concurrent_pushes_are_each_stored_with_their_own_receipt,
    a_large_upload_is_spooled_and_stored_whole,
    bodies_over_the_limit_are_refused,
    each_partner_is_rate_limited_on_its_own,
    operators_authenticate_by_token_or_certificate,
    guarantee_letters_are_authorised_by_issuer_code,
    operators_work_findings_through_their_lifecycle,
    accounts_registered_by_another_process_are_seen,
    a_letter_over_the_file_limit_is_413,
    partners_list_only_their_own_files_and_operators_page_through_all,
    format_health_per_partner_and_format_is_a_metric,
    a_bank_cannot_attach_an_account_to_another_banks_project_by_platform_push,
    a_flooded_project_is_not_reconciled_and_its_status_says_why,
    a_refused_file_tells_the_partner_the_rule_in_chinese_and_english,
);

/// A bank pushes, for one project, a payroll result of more payments than one project may
/// have (`reconciler.max_project_facts`, here its smallest value): the file is stored and
/// parsed as any other, the daemon does not reconcile the project, and the operator reads why
/// on the project's status, in Chinese and English. The status counts the project's facts
/// without loading them.
async fn a_flooded_project_is_not_reconciled_and_its_status_says_why(db: Database) {
    let h = Harness::start(db, |s| s.reconciler.max_project_facts = 10_000).await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    let receipt = h.push(&bank, &pain002_flood(10_100)).await;
    let file = h
        .wait_processed(&bank, receipt["id"].as_str().unwrap())
        .await;
    assert_eq!(file["status"], "parsed", "{file}");

    let op = h.client("operator");
    let v: serde_json::Value = op
        .get(h.url("/v1/projects/FJ-FZ-2026-0017/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = &v["reconcile"];
    assert_eq!(r["state"], "too_large", "{v}");
    assert_eq!(r["limit"], 10_000, "{v}");
    assert!(r["facts"].as_u64().unwrap() > 10_100, "{v}");
    assert_eq!(v["records"]["payment"], 10_100, "{v}");
    let zh = r["message_zh"].as_str().unwrap();
    assert!(
        zh.contains("FJ-FZ-2026-0017") && zh.contains("未对账") && zh.contains("10000"),
        "{zh}"
    );
    let en = r["message"].as_str().unwrap();
    assert!(en.contains("not reconciled"), "{en}");
    // The demo's other project is as small as ever.
    let v: serde_json::Value = op
        .get(h.url("/v1/projects/GZ-GY-2026-0042/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["reconcile"]["state"], "ok", "{v}");
}

async fn a_bank_with_a_good_certificate_pushes_and_polls_its_file(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    let (name, bytes) = icbc_statement();
    let r = bank
        .post(h.url("/v1/files"))
        .header("X-Wagegate-File-Name", &name)
        .header("X-Wagegate-Format", "camt.053")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(receipt["sha256"], sha256_hex(&bytes));
    let id = receipt["id"].as_str().unwrap().to_string();
    assert!(["received", "parsed"].contains(&receipt["status"].as_str().unwrap()));

    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "parsed", "{file}");
    assert_eq!(file["file_name"], name);
    assert!(file["records"].as_u64().unwrap() > 0, "{file}");
    assert_eq!(file["detected_format"], "camt.053");

    // Another partner cannot see it (404, not 403: ids reveal nothing).
    let r = h
        .client("insurer")
        .get(h.url(&format!("/v1/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (404, "not_found".into()));
    // An operator can.
    let r = h
        .client("operator")
        .get(h.url(&format!("/v1/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn no_certificate_is_refused_but_probes_answer(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let anon = h.anonymous();
    let r = anon
        .post(h.url("/v1/files"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (401, "unauthenticated".into()));
    let r = anon.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = anon.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = anon.get(h.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi.yaml"
        ))
        .unwrap()
    );
    let r = anon.get(h.url("/no/such/route")).send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "not_found".into()));
}

async fn unknown_certificates_are_refused(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    // Signed by another CA: the TLS handshake itself fails.
    let other = server::pki::DevCa::generate("someone else's CA").unwrap();
    let stranger = other.issue_client("demo-bank").unwrap();
    let r = h
        .client_with(&stranger)
        .get(h.url("/v1/findings"))
        .send()
        .await;
    assert!(
        r.is_err(),
        "a certificate from another CA must fail the handshake"
    );

    // Signed by our CA but registered to no partner: 401 unknown_certificate.
    let unregistered = h.ca().issue_client("not-a-partner").unwrap();
    let r = h
        .client_with(&unregistered)
        .post(h.url("/v1/files"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (401, "unknown_certificate".into()));
    assert!(h.stored_files().await.is_empty());
}

async fn a_bank_pushing_another_banks_account_is_rejected_and_nothing_is_stored_as_data(
    db: Database,
) {
    // The demo bank may only report on CCB (105) accounts here; the ICBC statement is not its.
    let h = Harness::start(db, |s| {
        let bank = s.partners.iter_mut().find(|p| p.id == "demo-bank").unwrap();
        bank.bank_codes = vec!["105".into()];
    })
    .await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    let (_, bytes) = icbc_statement();
    let r = bank
        .post(h.url("/v1/files"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "rejected", "{file}");
    assert!(
        file["error"].as_str().unwrap().contains("demo-bank"),
        "the error names the sender: {file}"
    );
    // Every statement of the account is refused for the same reason: said once, counted.
    let error = file["error"].as_str().unwrap();
    assert_eq!(error.matches("statement of account").count(), 1, "{error}");
    // The same in Chinese, beside it.
    let error_zh = file["error_zh"].as_str().unwrap();
    assert!(
        error_zh.contains("发送方 'demo-bank' 的记录一条也不能接受"),
        "{error_zh}"
    );
    assert_eq!(error_zh.matches("的对账单").count(), 1, "{error_zh}");
    // Sending the same bytes again tries them again (same receipt, back to received); the
    // bank still may not report on the account, so the file ends rejected again.
    let again = h.push(&bank, &bytes).await;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["status"], "received", "{again}");
    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "rejected", "{file}");
    // The raw bytes are kept (evidence), but no statement became data.
    assert_eq!(h.store().file_bytes(&id).await.unwrap(), bytes);
    let records = h.store().load_records(&store::Scope::All).await.unwrap();
    assert!(
        records.iter().all(|r| r.kind.is_registry()),
        "only registry rows may be stored"
    );
}

async fn the_same_file_twice_and_concurrently_gets_one_receipt(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let bank = h.client("bank");
    let bytes = b"<Document>not parsed here, only stored</Document>".to_vec();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let bank = bank.clone();
        let url = h.url("/v1/files");
        let bytes = bytes.clone();
        tasks.push(tokio::spawn(async move {
            let r = bank.post(url).body(bytes).send().await.unwrap();
            assert_eq!(r.status(), 202);
            r.json::<serde_json::Value>().await.unwrap()
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let v = t.await.unwrap();
        ids.insert((v["id"].to_string(), v["sha256"].to_string()));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let again = h.push(&bank, &bytes).await;
    assert_eq!(
        (again["id"].to_string(), again["sha256"].to_string()),
        ids.into_iter().next().unwrap()
    );
    let files = h.stored_files().await;
    assert_eq!(files.len(), 1);
}

async fn many_concurrent_pushes_are_each_stored_with_their_own_receipt(db: Database) {
    // Pushes arriving together share a transaction (group commit); each still gets the
    // receipt of its own bytes, and every one of them is stored when its 202 arrives.
    let h = Harness::start(db, |_| {}).await;
    let bank = h.client("bank");
    let mut tasks = Vec::new();
    for i in 0..64 {
        let bank = bank.clone();
        let url = h.url("/v1/files");
        let bytes = format!("<Document>push {i}</Document>").into_bytes();
        tasks.push(tokio::spawn(async move {
            let r = bank.post(url).body(bytes.clone()).send().await.unwrap();
            assert_eq!(r.status(), 202);
            (bytes, r.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (bytes, receipt) = t.await.unwrap();
        assert_eq!(receipt["sha256"], sha256_hex(&bytes));
        let id = receipt["id"].as_str().unwrap().to_string();
        assert_eq!(h.store().file_bytes(&id).await.unwrap(), bytes);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 64);
}

async fn a_large_upload_is_spooled_and_stored_whole(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let bank = h.client("bank");
    // Over the in-memory threshold (4 MiB): goes through the spool file.
    let bytes: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let r = bank
        .post(h.url("/v1/files"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["sha256"], sha256_hex(&bytes));
    let id = v["id"].as_str().unwrap();
    assert_eq!(h.store().file_bytes(id).await.unwrap(), bytes);
    // Same bytes again, same receipt.
    let v2 = h.push(&bank, &bytes).await;
    assert_eq!(v2["id"], v["id"]);
}

async fn bodies_over_the_limit_are_refused(db: Database) {
    let h = Harness::start(db, |s| s.server.max_body_bytes = 1024).await;
    let bank = h.client("bank");
    let r = bank
        .post(h.url("/v1/files"))
        .body(vec![b'x'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (413, "payload_too_large".into()));
    // Without a Content-Length (chunked), the limit holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'y'; 600])).collect();
    let r = bank
        .post(h.url("/v1/files"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (413, "payload_too_large".into()));
    assert!(h.stored_files().await.is_empty());
    let r = bank
        .post(h.url("/v1/files"))
        .header("X-Wagegate-Format", "excel")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "invalid_format".into()));
    // The operator routes read their bodies under the same rule: too long is 413.
    let operator = h.client("operator");
    let r = operator
        .put(h.url("/v1/registry"))
        .body(vec![b'{'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (413, "payload_too_large".into()));
}

async fn each_partner_is_rate_limited_on_its_own(db: Database) {
    let h = Harness::start(db, |s| {
        s.server.rate_per_second = 1;
        s.server.rate_burst = 3;
    })
    .await;
    let bank = h.client("bank");
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = bank
            .post(h.url("/v1/files"))
            .body(format!("file {i}"))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[202, 202, 202]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // The insurer has its own bucket.
    let r = h
        .client("insurer")
        .get(h.url("/v1/files/FILE-nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn operators_authenticate_by_token_or_certificate(db: Database) {
    let token = "op-secret-token-for-tests";
    let h = Harness::start(db, |s| {
        s.operators.push(ingest::config::OperatorToken {
            name: "inspector".into(),
            token_sha256: server::http::auth::token_sha256(token),
            role: ingest::config::PartnerRole::Operator,
        })
    })
    .await;
    let anon = h.anonymous();
    let r = anon
        .get(h.url("/v1/findings"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["total"], 0);
    let r = anon
        .get(h.url("/v1/findings"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (401, "invalid_token".into()));
    // A token stored in the database works too.
    h.store()
        .put_operator_token(
            "night-shift",
            &server::http::auth::token_sha256("db-token"),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let r = anon
        .get(h.url("/metrics"))
        .bearer_auth("db-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("wagegate_http_requests_total"));
    // The operator certificate works; a bank certificate is not an operator.
    let r = h
        .client("operator")
        .get(h.url("/v1/findings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h
        .client("bank")
        .get(h.url("/v1/findings"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (403, "forbidden".into()));
    // A bearer-token operator may not push files as if it were a bank.
    let r = anon
        .post(h.url("/v1/files"))
        .bearer_auth(token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (403, "forbidden".into()));
}

async fn guarantee_letters_are_authorised_by_issuer_code(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    h.import_demo_registry().await;
    let picc = demo_bank_files()
        .into_iter()
        .find(|(p, _, _)| p == "picc-gz")
        .unwrap()
        .2;
    // The bank may not push the insurer's policy.
    let r = h
        .client("bank")
        .post(h.url("/v1/guarantees"))
        .header("content-type", "application/json")
        .body(picc.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "letter_rejected", "{v}");
    // The insurer may.
    let r = h
        .client("insurer")
        .post(h.url("/v1/guarantees"))
        .header("content-type", "application/json")
        .body(picc)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"], "parsed");
    let r = h
        .client("insurer")
        .post(h.url("/v1/guarantees"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "invalid_json".into()));
}

async fn operators_work_findings_through_their_lifecycle(db: Database) {
    let h = Harness::start(db, |_| {}).await;
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
    let op = h.client("operator");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let list = loop {
        let v: serde_json::Value = op
            .get(h.url("/v1/findings?project=FJ-FZ-2026-0017&limit=5"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["total"].as_u64().unwrap_or(0) > 0 {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "no findings: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first = &list["items"][0];
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["project"], "FJ-FZ-2026-0017");

    let r = op
        .get(h.url("/v1/findings?code=NOT_A_CODE"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "invalid_filter".into()));

    let r = op
        .post(h.url(&format!("/v1/findings/{id}/dismiss")))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "reason_required".into()));
    let r = op
        .post(h.url(&format!("/v1/findings/{id}/acknowledge")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = op
        .post(h.url(&format!("/v1/findings/{id}/dismiss")))
        .json(&serde_json::json!({"reason": "paid in cash, receipt on file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "dismissed"
    );
    let r = op
        .post(h.url(&format!("/v1/findings/{id}/acknowledge")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (409, "invalid_transition".into()));

    let v: serde_json::Value = op
        .get(h.url(&format!("/v1/findings/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actors: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(actors.contains(&"demo-operator"), "{v}");

    let r = op
        .get(h.url("/v1/projects/FJ-FZ-2026-0017/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["findings_by_status"]["dismissed"], 1, "{v}");
    // Active findings by severity count the open and acknowledged ones, all of them; the
    // worst is the first listed.
    let by_status = |s: &str| v["findings_by_status"][s].as_u64().unwrap();
    let by_severity: u64 = v["active_by_severity"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        by_severity,
        by_status("open") + by_status("acknowledged"),
        "{v}"
    );
    assert!(by_severity > 0, "{v}");
    assert_eq!(
        v["worst_active_severity"], v["active"][0]["severity"],
        "{v}"
    );
    assert!(v["records"]["statement"].as_u64().unwrap_or(0) > 0, "{v}");
    // A project of the demo's size is far under the limit of one project's facts.
    assert_eq!(v["reconcile"]["state"], "ok", "{v}");
    assert!(v["reconcile"]["facts"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["reconcile"].get("message_zh").is_none(), "{v}");
    let r = op
        .get(h.url("/v1/projects/NOPE/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (404, "not_found".into()));

    // A registry file with a bad row is refused whole with the rows listed.
    let r = op
        .put(h.url("/v1/registry"))
        .header("X-Wagegate-File-Name", "02-accounts.csv")
        .body("account_no,account_name,project_code,cnaps,opened_on,payer_accounts\n1,x,UNKNOWN-PROJECT,102391002003,2026-13-45,\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "registry_refused");
    let rows = v["error"]["details"][0]["errors"].as_array().unwrap();
    assert!(!rows.is_empty(), "{v}");
    // Every row's reason in English (as before) and in Chinese: the impossible opening date.
    let opened = rows
        .iter()
        .find(|r| r["column"] == "opened_on")
        .unwrap_or_else(|| panic!("no opened_on row: {v}"));
    assert_eq!(opened["line"], 2, "{v}");
    assert_eq!(
        opened["message"], "'2026-13-45' is not a valid date (YYYY-MM-DD)",
        "{v}"
    );
    assert_eq!(opened["message_zh"], "日期不存在：2026-13-45", "{v}");
    assert!(
        rows.iter().all(|r| r["message_zh"]
            .as_str()
            .is_some_and(|m| m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))),
        "{v}"
    );
}

/// Accounts registered by another process sharing the database (`wagegate import` while the
/// gateway runs) are seen by the gateway: a statement rejected before the import is
/// accepted when the bank sends it again afterwards.
async fn accounts_registered_by_another_process_are_seen(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let bank = h.client("bank");
    let (_, bytes) = icbc_statement();
    let receipt = h.push(&bank, &bytes).await;
    let id = receipt["id"].as_str().unwrap().to_string();
    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "rejected", "{file}");

    // Another pipeline on the same database: what `wagegate import` does.
    let other = ingest::open((*h.settings).clone()).await.unwrap();
    let registry: Vec<(String, Vec<u8>)> = sim::demo::world::files()
        .into_iter()
        .filter(|f| f.path.starts_with("registry/"))
        .map(|f| (f.path, f.bytes))
        .collect();
    let (_, refused) = other.import_registry(&registry).await.unwrap();
    assert!(refused.is_empty());
    // The bank sends the file again until it is accepted: the gateway reads its account
    // index again once it is older than its recheck interval (a second), so within a few
    // attempts; a gateway that never sees the import fails at the deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let again = h.push(&bank, &bytes).await;
        assert_eq!(again["id"], id.as_str());
        let file = h.wait_processed(&bank, &id).await;
        if file["status"] == "parsed" {
            break;
        }
        assert_eq!(file["status"], "rejected", "{file}");
        assert!(
            std::time::Instant::now() < deadline,
            "the imported account was never seen: {file}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A guarantee letter larger than the configured file limit is refused before it is read
/// whole (413), not stored and then failed inside.
async fn a_letter_over_the_file_limit_is_413(db: Database) {
    let h = Harness::start(db, |s| s.ingest.max_file_bytes = 1024).await;
    let insurer = h.client("insurer");
    let r = insurer
        .post(h.url("/v1/guarantees"))
        .header("content-type", "application/json")
        .body(format!("{{\"number\": \"{}\"}}", "x".repeat(4000)))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (413, "payload_too_large".into()));
    assert!(h.stored_files().await.is_empty());
}

/// `GET /v1/files`: a bank sees its own files and nothing of another bank's (not by asking
/// for it either); an operator sees everyone's, filtered and paged, newest first, with a
/// bounded page size.
async fn partners_list_only_their_own_files_and_operators_page_through_all(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let bank = h.client("bank");
    let insurer = h.client("insurer");
    let operator = h.client("operator");
    let own = h.push(&bank, b"not a bank file at all").await;
    let own_id = own["id"].as_str().unwrap().to_string();
    h.wait_processed(&bank, &own_id).await;
    // Another bank's files, stored as that bank's deliveries.
    let mut other_ids = Vec::new();
    for i in 0..5u32 {
        let (f, _) = h
            .store()
            .put_raw_file(
                store::NewRawFile {
                    sender: "other-bank".into(),
                    file_name: Some(format!("stmt-{i}.xml")),
                    format_hint: None,
                    received_at: chrono::Utc::now() - chrono::Duration::minutes(i64::from(10 - i)),
                },
                format!("other bank's file {i}").as_bytes(),
            )
            .await
            .unwrap();
        other_ids.push(f.id);
    }
    let get = |client: &reqwest::Client, query: &str| {
        let r = client.get(h.url(&format!("/v1/files{query}"))).send();
        async move { r.await.unwrap() }
    };
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };

    let r = get(&bank, "").await;
    assert_eq!(r.status(), 200);
    let mine: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ids(&mine), vec![own_id.clone()], "{mine}");
    let item = &mine["items"][0];
    assert_eq!(item["sender"], "demo-bank");
    assert_eq!(item["status"], "rejected", "{item}");
    assert!(item["error"].as_str().unwrap_or("").len() > 5, "{item}");
    assert!(item["diagnostics"].as_u64().is_some(), "{item}");
    assert_eq!(mine["next_offset"], serde_json::Value::Null);
    let r = get(&bank, "?partner=other-bank").await;
    assert_eq!(error_code(r).await, (403, "forbidden".into()));
    let r = get(&bank, "?partner=demo-bank&status=rejected").await;
    assert_eq!(ids(&r.json().await.unwrap()), vec![own_id.clone()]);
    let r = get(&bank, "?status=parsed").await;
    assert!(ids(&r.json().await.unwrap()).is_empty());
    // The insurer has sent nothing.
    let r = get(&insurer, "").await;
    assert!(ids(&r.json().await.unwrap()).is_empty());

    // The operator: everything, one sender, and page by page.
    let all: serde_json::Value = get(&operator, "").await.json().await.unwrap();
    let mut want = vec![own_id.clone()];
    want.extend(other_ids.iter().rev().cloned());
    assert_eq!(ids(&all), want);
    let other: serde_json::Value = get(&operator, "?partner=other-bank")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&other).len(), 5);
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let page: serde_json::Value = get(
            &operator,
            &format!("?partner=other-bank&limit=2&offset={offset}"),
        )
        .await
        .json()
        .await
        .unwrap();
        let got = ids(&page);
        assert!(got.len() <= 2);
        paged.extend(got);
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(paged, ids(&other));
    let since = (chrono::Utc::now() - chrono::Duration::seconds(450)).to_rfc3339();
    let recent: serde_json::Value = get(
        &operator,
        &format!("?partner=other-bank&since={}", since.replace('+', "%2B")),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&recent), ids(&other)[..2].to_vec());

    // Bounds and bad filters are 400s that say what is wrong.
    for query in [
        "?limit=0",
        "?limit=201",
        "?status=lost",
        "?since=yesterday",
        "?owner=demo-bank",
    ] {
        let r = get(&operator, query).await;
        assert_eq!(
            error_code(r).await,
            (400, "invalid_filter".into()),
            "{query}"
        );
    }
    let r = get(&operator, "?limit=200").await;
    assert_eq!(r.status(), 200);
}

/// The value of the Prometheus sample `name` whose labels include every `labels` pair (0 when
/// there is none yet).
async fn metric(h: &Harness, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = h
        .client("operator")
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A bank's files counted per format and outcome: one refused before its format was
/// recognised, one parsed, one parsed with warnings (balances without a credit/debit
/// indicator, as one real bank sends every statement).
async fn format_health_per_partner_and_format_is_a_metric(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    let files = "wagegate_partner_files_total";
    let warned = "wagegate_partner_files_with_warnings_total";
    let unknown = [
        ("partner", "demo-bank"),
        ("format", "unknown"),
        ("status", "rejected"),
    ];
    let parsed = [
        ("partner", "demo-bank"),
        ("format", "camt.053"),
        ("status", "parsed"),
    ];
    let camt = [("partner", "demo-bank"), ("format", "camt.053")];
    let received = [("partner", "demo-bank")];
    let before = (
        metric(&h, files, &unknown).await,
        metric(&h, files, &parsed).await,
        metric(&h, warned, &camt).await,
        metric(&h, "wagegate_partner_files_received_total", &received).await,
    );

    let junk = h.push(&bank, b"neither XML nor SWIFT").await;
    let junk = h.wait_processed(&bank, junk["id"].as_str().unwrap()).await;
    assert_eq!(junk["status"], "rejected");
    assert_eq!(junk["detected_format"], "unknown");
    let (_, statement) = icbc_statement();
    let good = h.push(&bank, &statement).await;
    let good = h.wait_processed(&bank, good["id"].as_str().unwrap()).await;
    assert_eq!(good["status"], "parsed", "{good}");
    // The same statement as a bank that leaves the indicator out of its balances.
    let text = String::from_utf8(statement)
        .unwrap()
        .replace("</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt>", "</Amt><Dt>");
    let deviant = h.push(&bank, text.as_bytes()).await;
    let deviant = h
        .wait_processed(&bank, deviant["id"].as_str().unwrap())
        .await;
    assert_eq!(deviant["status"], "parsed", "{deviant}");
    assert!(
        deviant["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["level"] == "warning"),
        "{deviant}"
    );

    let after = (
        metric(&h, files, &unknown).await,
        metric(&h, files, &parsed).await,
        metric(&h, warned, &camt).await,
        metric(&h, "wagegate_partner_files_received_total", &received).await,
    );
    // Other tests in this process may push too: at least this test's files are counted.
    assert!(after.0 >= before.0 + 1.0, "{before:?} -> {after:?}");
    assert!(after.1 >= before.1 + 2.0, "{before:?} -> {after:?}");
    assert!(after.2 >= before.2 + 1.0, "{before:?} -> {after:?}");
    assert!(after.3 >= before.3 + 3.0, "{before:?} -> {after:?}");
}

/// A signed provincial-platform ACCOUNT push, as a bank's platform adapter sends it.
fn signed_account_push(secret: &str, msg_id: &str, accounts: serde_json::Value) -> Vec<u8> {
    let data = accounts.to_string();
    let mut fields: Vec<(String, String)> = [
        ("appId", "BANK-308-GZ"),
        ("msgType", "ACCOUNT"),
        ("msgId", msg_id),
        ("timestamp", "20261015180000"),
        ("nonce", "9c1f"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.push(("data".into(), data));
    let sign = adapters::profiles::platform::sign::compute(&fields, secret.as_bytes());
    let mut envelope = serde_json::Map::new();
    for (k, v) in fields {
        envelope.insert(k, serde_json::Value::String(v));
    }
    envelope.insert("sign".into(), serde_json::Value::String(sign));
    serde_json::to_vec(&envelope).unwrap()
}

/// The demo bank here is a CMB (308) bank: the operator registered CMB's account for the
/// Guizhou project, ICBC's (102) for the Fujian one. It pushes, correctly signed, a CMB
/// account record under the Fujian project — whose credits would then count as Fujian's
/// labor cost. Refused, and nothing is stored; the same record under its own project is
/// accepted.
async fn a_bank_cannot_attach_an_account_to_another_banks_project_by_platform_push(db: Database) {
    let h = Harness::start(db, |s| {
        let bank = s.partners.iter_mut().find(|p| p.id == "demo-bank").unwrap();
        bank.bank_codes = vec!["308".into()];
        bank.platform_secret = Some("demo-platform-secret".into());
    })
    .await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    let account = |project: &str| {
        serde_json::json!([{
            "accountNo": "851900099990001",
            "accountName": "某劳务公司工资专户",
            "projectCode": project,
            "cnaps": "308701005017",
            "openDate": "2026-10-01",
            "payerAccounts": ["6212260000000000888"]
        }])
    };
    let attack = signed_account_push("demo-platform-secret", "M-1", account("FJ-FZ-2026-0017"));
    let id = h.push(&bank, &attack).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "rejected", "{file}");
    let error = file["error"].as_str().unwrap();
    assert!(error.contains("FJ-FZ-2026-0017"), "{error}");
    assert!(
        !error.contains("851900099990001"),
        "the account is masked: {error}"
    );
    let records = h.store().load_records(&store::Scope::All).await.unwrap();
    assert!(
        !records.iter().any(|r| r.key.contains("851900099990001")
            || r.account.as_deref() == Some("851900099990001")),
        "the attacker's account was stored"
    );

    let own = signed_account_push("demo-platform-secret", "M-2", account("GZ-GY-2026-0042"));
    let id = h.push(&bank, &own).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "parsed", "{file}");
}

/// A bank pushes a statement cut short (no closing balance `:62F:`): the file is refused and
/// the partner reads why — the rule broken and where — in English (`error`, `message`) and
/// in Simplified Chinese (`error_zh`, `message_zh`), on the file and in the list.
async fn a_refused_file_tells_the_partner_the_rule_in_chinese_and_english(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let bank = h.client("bank");
    let sta = ":20:STMT-2026-11-30\n:25:1402023009000012345\n:28C:00334/1\n\
               :60F:C261129CNY12500,00\n:61:261130D1800,00NTRFWAGE-2026-11-A\n:86:WAGES\n";
    let r = bank
        .post(h.url("/v1/files"))
        .header("X-Wagegate-File-Name", "stmt-20261130.sta")
        .body(sta.as_bytes().to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = h.wait_processed(&bank, &id).await;
    assert_eq!(file["status"], "rejected", "{file}");
    let error = file["error"].as_str().unwrap();
    assert!(
        error.starts_with("mt940: ") && error.contains("without its closing balance :62F:"),
        "{error}"
    );
    let error_zh = file["error_zh"].as_str().unwrap();
    assert!(
        error_zh.starts_with("mt940：")
            && error_zh.contains("缺少期末余额 :62F:（MT940 的必备字段）")
            && error_zh.contains("位置：第 6 行，:62F:"),
        "{error_zh}"
    );
    let d = file["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["position"]["field"] == ":62F:")
        .unwrap_or_else(|| panic!("no :62F: diagnostic: {file}"));
    assert_eq!(d["level"], "error");
    assert!(
        d["message"].as_str().unwrap().contains("closing balance"),
        "{d}"
    );
    assert!(
        d["message_zh"].as_str().unwrap().contains("缺少期末余额"),
        "{d}"
    );
    // The list says it too.
    let r = bank.get(h.url("/v1/files")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id.as_str())
        .unwrap_or_else(|| panic!("not listed: {list}"));
    assert_eq!(item["error_zh"], error_zh, "{item}");
    assert_eq!(item["error"], error, "{item}");
}
