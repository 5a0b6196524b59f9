//! A file's records written in batches within its transaction (`Store::begin_file_records`,
//! what streamed ingest uses) against the same records applied in one go.

use std::sync::Arc;
use std::time::Duration;

use store::{ApplyReport, FileStatus, NewRecord, RecordKind, Scope, Store, StoreError};

use super::{at, parsed, statement, stored_file};

/// The records of a file that meets every case: a key another file stored with the same
/// content (unchanged) and with other content (a conflict), the same conflicting content
/// again later in the file (unchanged, as in one go), new keys repeated later in the file
/// identically (unchanged) and with other content (a conflict against the first).
fn scenario(prefix: &str) -> (Vec<NewRecord>, Vec<NewRecord>) {
    let a = format!("{prefix}-6222001");
    let b = format!("{prefix}-6222002");
    let stored = super::statement_set(vec![statement(&a, 1), statement(&a, 2)]);
    let mut changed = statement(&a, 2);
    changed.entries[0].bank_ref = Some("R2-corrected".into());
    let mut other = statement(&b, 4);
    other.entries[0].bank_ref = Some("R4-other".into());
    let file = super::statement_set(vec![
        statement(&a, 1),
        changed.clone(),
        statement(&b, 3),
        statement(&b, 4),
        statement(&b, 5),
        statement(&b, 3),
        other,
        changed,
        statement(&b, 6),
    ]);
    (stored, file)
}

/// What a report says, with the file ids replaced by their role, so that two runs over
/// different accounts compare.
fn shape(r: &ApplyReport, earlier: &str, this: &str) -> (u64, u64, Vec<(String, String)>, usize) {
    let role = |f: Option<&str>| match f {
        Some(f) if f == earlier => "earlier".to_string(),
        Some(f) if f == this => "this".to_string(),
        other => format!("{other:?}"),
    };
    let conflicts = r
        .conflicts
        .iter()
        .map(|c| (role(c.existing_file.as_deref()), role(Some(&c.new_file))))
        .collect();
    (r.inserted, r.unchanged, conflicts, r.dirty_projects.len())
}

async fn run(
    store: &Arc<dyn Store>,
    prefix: &str,
    batch: Option<usize>,
) -> (String, String, ApplyReport) {
    let (stored, records) = scenario(prefix);
    let earlier = stored_file(store, format!("{prefix} earlier").as_bytes()).await;
    store
        .apply_file_result(&earlier, parsed(stored), at(1))
        .await
        .unwrap();
    let this = stored_file(store, format!("{prefix} this").as_bytes()).await;
    let report = match batch {
        None => store
            .apply_file_result(&this, parsed(records), at(2))
            .await
            .unwrap(),
        Some(n) => {
            let mut w = store.begin_file_records(&this, at(2)).await.unwrap();
            for chunk in records.chunks(n) {
                w.add(chunk).await.unwrap();
            }
            assert_eq!(w.records(), records.len());
            w.commit("camt.053", &[]).await.unwrap()
        }
    };
    (earlier, this, report)
}

pub async fn a_file_written_in_batches_is_stored_as_in_one_go(store: Arc<dyn Store>) {
    let (e1, t1, whole) = run(&store, "W", None).await;
    let want = shape(&whole, &e1, &t1);
    assert_eq!((want.0, want.1), (4, 3), "new keys, unchanged: {want:?}");
    assert_eq!(want.2.len(), 2, "two conflicts: {want:?}");
    for (i, n) in [1, 2, 3, 4].into_iter().enumerate() {
        let prefix = format!("B{i}");
        let (e, t, batched) = run(&store, &prefix, Some(n)).await;
        assert_eq!(shape(&batched, &e, &t), want, "batches of {n}");
        let (one, many) = (
            store.get_file(&t1).await.unwrap().unwrap(),
            store.get_file(&t).await.unwrap().unwrap(),
        );
        assert_eq!(
            (many.status, many.records_count, &many.detected_format),
            (one.status, one.records_count, &one.detected_format),
            "batches of {n}"
        );
        // The same rows: which file each record came from, and its content.
        let rows = |prefix: &str, file: &str, earlier: &str| {
            let prefix = prefix.to_string();
            let file = file.to_string();
            let earlier = earlier.to_string();
            let store = store.clone();
            async move {
                let mut out: Vec<(String, String)> = store
                    .load_kind(RecordKind::Statement)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|r| r.account.as_deref().is_some_and(|a| a.starts_with(&prefix)))
                    .map(|r| {
                        let from = if r.file_id.as_deref() == Some(&file) {
                            "this"
                        } else if r.file_id.as_deref() == Some(&earlier) {
                            "earlier"
                        } else {
                            "other"
                        };
                        (from.to_string(), r.body.replace(&prefix, "P"))
                    })
                    .collect();
                out.sort();
                out
            }
        };
        assert_eq!(
            rows(&format!("{prefix}-"), &t, &e).await,
            rows("W-", &t1, &e1).await,
            "batches of {n}"
        );
    }
}

pub async fn a_file_in_batches_is_all_or_nothing_and_idempotent(store: Arc<dyn Store>) {
    let (stored, records) = scenario("N");
    let file = stored_file(&store, b"all or nothing").await;
    // Aborted, or dropped unfinished: nothing stored, the file still received.
    let mut w = store.begin_file_records(&file, at(1)).await.unwrap();
    w.add(&stored).await.unwrap();
    w.abort().await.unwrap();
    {
        let mut w = store.begin_file_records(&file, at(1)).await.unwrap();
        w.add(&records[..3]).await.unwrap();
    }
    assert!(store.load_records(&Scope::All).await.unwrap().is_empty());
    let f = store.get_file(&file).await.unwrap().unwrap();
    assert_eq!(f.status, FileStatus::Received);
    // Committed: stored; the same records again from another file: all unchanged.
    let mut w = store.begin_file_records(&file, at(2)).await.unwrap();
    for chunk in records.chunks(2) {
        w.add(chunk).await.unwrap();
    }
    let first = w.commit("camt.053", &[]).await.unwrap();
    assert_eq!(first.inserted, 6);
    let again = stored_file(&store, b"the same records again").await;
    let mut w = store.begin_file_records(&again, at(3)).await.unwrap();
    for chunk in records.chunks(4) {
        w.add(chunk).await.unwrap();
    }
    let second = w.commit("camt.053", &[]).await.unwrap();
    assert_eq!(second.inserted, 0);
    assert_eq!(
        second.unchanged as usize + second.conflicts.len(),
        records.len()
    );
    assert!(second
        .conflicts
        .iter()
        .all(|c| c.existing_file.as_deref() == Some(file.as_str())));
    assert_eq!(store.load_records(&Scope::All).await.unwrap().len(), 6);
    // A parsed file is not written again.
    match store.begin_file_records(&file, at(4)).await {
        Err(StoreError::InvalidTransition { .. }) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a parsed file was opened for records again"),
    }
}

pub async fn a_file_being_written_in_batches_is_not_claimed_by_another_worker(
    store: Arc<dyn Store>,
) {
    let lease = Duration::from_secs(60);
    let file = stored_file(&store, b"a long file").await;
    let claimed = store.claim_files("w1", 1, lease, at(1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let (_, records) = scenario("L");
    let mut w = store.begin_file_records(&file, at(1)).await.unwrap();
    w.add(&records[..2]).await.unwrap();
    // An hour later the lease has long run out; another worker looks for work.
    let other = store.clone();
    let claim = tokio::spawn(async move {
        other
            .claim_files("w2", 5, lease, at(1) + chrono::Duration::hours(1))
            .await
    });
    if store.backend() == store::Backend::Postgres {
        // It skips the file's locked row, at once.
        let got = tokio::time::timeout(Duration::from_secs(30), claim)
            .await
            .expect("the claim does not wait on the file being written")
            .unwrap()
            .unwrap();
        assert!(got.is_empty(), "claimed while being written: {got:?}");
        w.add(&records[2..]).await.unwrap();
        w.commit("camt.053", &[]).await.unwrap();
    } else {
        // SQLite has one writer: the claim waits for this one, then finds the file parsed.
        w.add(&records[2..]).await.unwrap();
        assert!(!claim.is_finished(), "SQLite's claim waits for the writer");
        w.commit("camt.053", &[]).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(30), claim)
            .await
            .expect("the claim ends once the writer is done")
            .unwrap()
            .unwrap();
        assert!(got.is_empty(), "claimed after it was parsed: {got:?}");
    }
    let f = store.get_file(&file).await.unwrap().unwrap();
    assert_eq!((f.status, f.attempts), (FileStatus::Parsed, 1));
}
