//! The facts the reconciler reads, as typed columns (`fact_*` tables, migration 0013): one
//! table per record kind, clustered by the owning project (`PRIMARY KEY (owner, key)`;
//! `WITHOUT ROWID` on SQLite), and `fact_entries` for statement entries. Written here, from
//! ONE call in [`super::records::write`] (the batch of records being written, in the same
//! transaction), kept in line by [`remove`] (a superseded incomplete statement) and
//! [`touch_conflict`] (a conflicting delivery), and read per chunk of projects by [`load`]
//! without decoding any JSON. `records` keeps the raw JSON body for evidence, explain and
//! replay; the JSON is decoded here only on the write side (and by [`backfill`]).
//!
//! Also the per-project facts fingerprint (`project_facts`): a hash chained over the content
//! hashes of every write that touches a project, so that equal fingerprints mean no fact of
//! the project changed in between (see `ingest::skip`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use schemas::{
    Balance, Entry, GuaranteeLetter, GuaranteeRequirement, LaborCostObligation, Money, Party,
    PaySheetLine, PaymentResult, PayrollBatch, Project, RosterEntry, Statement, WageAccount,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row as _;

use super::columns::{insert, push_list, rows_per_insert, Row};
use super::{Db, DbRow, ThisStore, Tx};
use crate::error::StoreError;
use crate::model::{LoadedFacts, NewRecord, ProjectFactRows, RecordKind, TooLarge};
use crate::sql::IN_LIST;

type Pool = sqlx::Pool<Db>;
type Result<T, E = StoreError> = std::result::Result<T, E>;

pub use crate::sql::fact_table as table;

// ----- values in and out of columns -----

/// A value's serde spelling (an enum variant, an id, a decimal), as text.
fn text<T: Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v)? {
        serde_json::Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

/// The value a column's text spells, through the type's own `Deserialize` (no JSON).
fn parse<T: DeserializeOwned>(s: &str) -> Result<T> {
    use serde::de::IntoDeserializer;
    let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = s.into_deserializer();
    T::deserialize(d).map_err(|e| StoreError::Corrupt(format!("typed fact '{s}': {e}")))
}

fn opt_text<T: Serialize>(v: Option<&T>) -> Result<Option<String>> {
    v.map(text).transpose()
}

fn fen(m: Money) -> i64 {
    m.fen()
}

fn money(f: Option<i64>) -> Option<Money> {
    f.map(Money::from_fen)
}

/// A list of strings as one text column: each item as `byte length` `:` `item`, so any
/// content round-trips.
fn encode_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for i in items {
        out.push_str(&i.len().to_string());
        out.push(':');
        out.push_str(i);
    }
    out
}

fn decode_list(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let bad = || StoreError::Corrupt(format!("typed list '{s}'"));
        let (len, tail) = rest.split_once(':').ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let item = tail.get(..len).ok_or_else(bad)?;
        out.push(item.to_string());
        rest = &tail[len..];
    }
    Ok(out)
}

fn get<'r, T>(row: &'r DbRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    Ok(row.try_get(col)?)
}

// ----- rows of each kind -----

/// A record decoded from its JSON body (write side only).
enum Typed {
    Project(Project),
    Account(WageAccount),
    Obligation(LaborCostObligation),
    Paysheet(PaySheetLine),
    Roster(RosterEntry),
    GuaranteeRequirement(GuaranteeRequirement),
    Statement(Statement),
    Payment(PaymentResult),
    Batch(PayrollBatch),
    Guarantee(GuaranteeLetter),
}

fn decode(kind: RecordKind, body: &str) -> Result<Typed> {
    Ok(match kind {
        RecordKind::Project => Typed::Project(serde_json::from_str(body)?),
        RecordKind::Account => Typed::Account(serde_json::from_str(body)?),
        RecordKind::Obligation => Typed::Obligation(serde_json::from_str(body)?),
        RecordKind::Paysheet => Typed::Paysheet(serde_json::from_str(body)?),
        RecordKind::Roster => Typed::Roster(serde_json::from_str(body)?),
        RecordKind::GuaranteeRequirement => {
            Typed::GuaranteeRequirement(serde_json::from_str(body)?)
        }
        RecordKind::Statement => Typed::Statement(serde_json::from_str(body)?),
        RecordKind::Payment => Typed::Payment(serde_json::from_str(body)?),
        RecordKind::Batch => Typed::Batch(serde_json::from_str(body)?),
        RecordKind::Guarantee => Typed::Guarantee(serde_json::from_str(body)?),
    })
}

/// The typed row of one record (and, for a statement, its entries' rows).
fn rows_of(owner: &str, key: &str, t: &Typed) -> Result<(Row<'static>, Vec<Row<'static>>)> {
    let base = Row::new()
        .col("owner", owner.to_string())
        .col("key", key.to_string());
    let mut entries = Vec::new();
    let row = match t {
        Typed::Project(p) => base
            .col("code", p.code.clone())
            .col("name", p.name.clone())
            .col("province", text(&p.province)?)
            .col("cu_name", p.construction_unit.name.clone())
            .col("cu_credit_code", text(&p.construction_unit.credit_code)?)
            .col("gc_name", p.general_contractor.name.clone())
            .col("gc_credit_code", text(&p.general_contractor.credit_code)?)
            .col("subcontractors", {
                let mut items = Vec::new();
                for s in &p.subcontractors {
                    items.push(s.name.clone());
                    items.push(text(&s.credit_code)?);
                }
                encode_list(items.iter().map(String::as_str))
            })
            .col("contract_fen", fen(p.contract_amount))
            .col("start_date", p.start_date)
            .col("planned_end_date", p.planned_end_date)
            .col("status", text(&p.status)?),
        Typed::Account(a) => base
            .col("account_no", a.account_no.clone())
            .col("account_name", a.account_name.clone())
            .col("project_code", a.project_code.clone())
            .col("bank_code", a.bank_code.clone())
            .col("cnaps", text(&a.cnaps)?)
            .col("opened_on", a.opened_on)
            .col("currency", a.currency.clone())
            .col(
                "payer_accounts",
                encode_list(a.payer_accounts.iter().map(String::as_str)),
            ),
        Typed::Obligation(o) => base
            .col("obligation_id", o.obligation_id.clone())
            .col("project_code", o.project_code.clone())
            .col("period", o.period.to_string())
            .col("due_date", o.due_date)
            .col("amount_fen", fen(o.amount))
            .col("ratio", opt_text(o.ratio.as_ref())?)
            .col("progress_fen", o.progress_payment.map(fen)),
        Typed::Paysheet(l) => base
            .col("project_code", l.project_code.clone())
            .col("period", l.period.to_string())
            .col("employer", l.employer.clone())
            .col("worker_name", l.worker_name.clone())
            .col("id_number", l.id_number.expose().to_string())
            .col("card_number", l.card_number.expose().to_string())
            .col("gross_fen", fen(l.gross))
            .col("net_fen", fen(l.net))
            .col("batch_ref", l.batch_ref.clone()),
        Typed::Roster(r) => base
            .col("project_code", r.project_code.clone())
            .col("worker_name", r.worker_name.clone())
            .col("id_number", r.id_number.expose().to_string())
            .col("card_number", r.card_number.expose().to_string())
            .col("employer", r.employer.clone())
            .col("entered_on", r.entered_on)
            .col("left_on", r.left_on),
        Typed::GuaranteeRequirement(g) => base
            .col("project_code", g.project_code.clone())
            .col("contract_fen", fen(g.contract_amount))
            .col("contractor_credit", text(&g.contractor_credit)?)
            .col("rate", opt_text(g.rate.as_ref())?)
            .col("cap_fen", g.cap.map(fen))
            .col("cover_from", g.cover_from)
            .col("cover_to", g.cover_to)
            .col("cash_deposit_fen", fen(g.cash_deposit)),
        Typed::Statement(s) => {
            for (seq, e) in s.entries.iter().enumerate() {
                entries.push(
                    Row::new()
                        .col("owner", owner.to_string())
                        .col("statement_key", key.to_string())
                        .col("seq", seq as i64)
                        .col("amount_fen", fen(e.amount))
                        .col("direction", e.direction.as_str())
                        .col("booking_date", e.booking_date)
                        .col("value_date", e.value_date)
                        .col("bank_ref", e.bank_ref.clone())
                        .col("end_to_end_id", e.end_to_end_id.clone())
                        .col("counterparty_name", e.counterparty_name.clone())
                        .col("counterparty_account", e.counterparty_account.clone())
                        .col("remittance", e.remittance.clone())
                        .col("reversal", e.reversal)
                        .col("transaction_code", e.transaction_code.clone())
                        .col("batch_ref", e.batch_ref.clone())
                        .col("balance_after_fen", e.balance_after.map(fen)),
                );
            }
            base.col("account", s.account.clone())
                .col("currency", s.currency.clone())
                .col("kind", text(&s.kind)?)
                .col("statement_id", s.statement_id.clone())
                .col("sequence", s.sequence.clone())
                .col("opening_fen", s.opening_balance.map(|b| fen(b.amount)))
                .col("opening_date", s.opening_balance.map(|b| b.date))
                .col("closing_fen", s.closing_balance.map(|b| fen(b.amount)))
                .col("closing_date", s.closing_balance.map(|b| b.date))
                .col("incomplete", s.incomplete)
        }
        Typed::Payment(p) => base
            .col("batch_id", p.batch_id.clone())
            .col("end_to_end_id", p.end_to_end_id.clone())
            .col("debit_account", p.debit_account.clone())
            .col("worker_name", p.worker_name.clone())
            .col(
                "id_number",
                p.id_number.as_ref().map(|i| i.expose().to_string()),
            )
            .col(
                "card_number",
                p.card_number.as_ref().map(|c| c.expose().to_string()),
            )
            .col("amount_fen", p.amount.map(fen))
            .col("status", text(&p.status)?)
            .col("reason", opt_text(p.reason.as_ref())?)
            .col("reason_code", p.reason_code.clone())
            .col("reason_text", p.reason_text.clone())
            .col("raw_status", p.raw_status.clone())
            .col("pay_date", p.pay_date)
            .col("period", p.period.map(|x| x.to_string())),
        Typed::Batch(b) => base
            .col("batch_id", b.batch_id.clone())
            .col("debit_account", b.debit_account.clone())
            .col("pay_date", b.pay_date)
            .col(
                "declared_count",
                b.declared_count
                    .map(|c| crate::sql::to_i64(c, "declared count"))
                    .transpose()?,
            )
            .col("declared_total_fen", b.declared_total.map(fen))
            .col("group_status", b.group_status.clone()),
        Typed::Guarantee(g) => base
            .col("number", g.number.clone())
            .col("verification_code", g.verification_code.clone())
            .col("form", text(&g.form)?)
            .col("issuer_name", g.issuer_name.clone())
            .col("issuer_code", g.issuer_code.clone())
            .col("applicant_name", g.applicant_name.clone())
            .col("applicant_credit_code", text(&g.applicant_credit_code)?)
            .col("beneficiary", g.beneficiary.clone())
            .col("project_code", g.project_code.clone())
            .col("project_name", g.project_name.clone())
            .col("contract_fen", g.contract_amount.map(fen))
            .col("guaranteed_fen", fen(g.guaranteed_amount))
            .col("valid_from", g.valid_from)
            .col("valid_to", g.valid_to)
            .col("irrevocable_on_demand", g.irrevocable_on_demand)
            .col("action", text(&g.action)?)
            .col("previous_number", g.previous_number.clone())
            .col("status", text(&g.status)?)
            .col("event_date", g.event_date)
            .col("claim_fen", g.claim_amount.map(fen))
            .col("document_hash", g.document_hash.clone()),
    };
    Ok((row, entries))
}

// ----- writing -----

/// One record to write to its typed table: its owner (the project it belongs to, `''` while
/// its account is unregistered) and the record.
pub struct Write<'a> {
    pub owner: String,
    pub record: &'a NewRecord,
}

/// THE hook of [`super::records::write`]: writes the typed rows of the records it wrote (all
/// of `rows` with `replace`, registry rows; else only those whose flag in `written`, one per
/// row, says new, facts being never replaced), moves the typed rows an account registered or moved here takes
/// along (as `records::adopt_facts` does for `records`, which runs after this), and chains
/// the content hashes into the fingerprint of every project touched.
pub async fn write(
    tx: &mut Tx<'_>,
    rows: &[Write<'_>],
    replace: bool,
    written: &[bool],
) -> Result<()> {
    let rows: Vec<&Write<'_>> = rows
        .iter()
        .zip(written)
        .filter(|(_, &new)| replace || new)
        .map(|(w, _)| w)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // Content hashes per project touched, chained into its fingerprint at the end.
    let mut touched: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut by_kind: BTreeMap<RecordKind, Vec<&Write<'_>>> = BTreeMap::new();
    for w in &rows {
        by_kind.entry(w.record.kind).or_default().push(w);
    }
    for (kind, group) in by_kind {
        if replace {
            // A registry row replaced: its old typed row goes, wherever it was.
            replaced(tx, kind, &group, &mut touched).await?;
        }
        let mut typed = Vec::with_capacity(group.len());
        let mut entries = Vec::new();
        let mut undecodable = Vec::new();
        for w in &group {
            typed_row(
                kind,
                &w.owner,
                &w.record.key,
                &w.record.body,
                &mut typed,
                &mut entries,
                &mut undecodable,
            )?;
            touched
                .entry(w.owner.clone())
                .or_default()
                .push(format!("{}:{}", w.record.key, w.record.content_hash));
        }
        // The records these rows mirror were written just now: no typed row of theirs
        // exists (a replaced registry row's went above), so nothing to look for first.
        let tail = ThisStore::NEW_FACT_ROWS;
        insert_rows(tx, table(kind), typed, tail).await?;
        insert_rows(tx, "fact_entries", entries, tail).await?;
        insert_rows(tx, "fact_undecodable", undecodable, tail).await?;
    }
    // Accounts registered (or moved) here take the facts that name only them along.
    for w in &rows {
        let r = w.record;
        if let (RecordKind::Account, Some(project), Some(account)) =
            (r.kind, &r.project, &r.account)
        {
            adopt(tx, project, account, &mut touched).await?;
        }
    }
    chain(tx, touched).await
}

/// The typed row (and entry rows) of one record, or its `fact_undecodable` row when its body
/// does not read as its kind.
fn typed_row(
    kind: RecordKind,
    owner: &str,
    key: &str,
    body: &str,
    typed: &mut Vec<Row<'static>>,
    entries: &mut Vec<Row<'static>>,
    undecodable: &mut Vec<Row<'static>>,
) -> Result<()> {
    match decode(kind, body) {
        Ok(t) => {
            let (row, e) = rows_of(owner, key, &t)?;
            typed.push(row);
            entries.extend(e);
        }
        // No error text kept: it may quote the body (personal data).
        Err(_) => undecodable.push(
            Row::new()
                .col("owner", owner.to_string())
                .col("kind", kind.as_str())
                .col("key", key.to_string()),
        ),
    }
    Ok(())
}

/// Keeps rows already there: the backfill of an upgraded database, which may be resumed.
const KEEP: &str = " ON CONFLICT DO NOTHING";

async fn insert_rows(
    tx: &mut Tx<'_>,
    table: &str,
    rows: Vec<Row<'static>>,
    tail: &str,
) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    if ThisStore::ROW_BY_ROW {
        ThisStore::insert_each(tx, table, rows, tail).await?;
        return Ok(());
    }
    let per = ThisStore::bulk_rows(first.binds());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Row<'static>> = rows.by_ref().take(per).collect();
        ThisStore::bulk_insert(table, chunk, tail)
            .build()
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes the typed rows of these registry keys of `kind` (about to be written again),
/// noting their owners. A registry key names its project (its owner), except an account's,
/// which may move to another project: accounts are found by key (`fact_accounts_key`).
async fn replaced(
    tx: &mut Tx<'_>,
    kind: RecordKind,
    rows: &[&Write<'_>],
    touched: &mut BTreeMap<String, Vec<String>>,
) -> Result<()> {
    let t = table(kind);
    for w in rows {
        let key = &w.record.key;
        forget_undecodable(tx, kind, key, touched).await?;
        let sql = if kind == RecordKind::Account {
            format!("DELETE FROM {t} WHERE key = $1 RETURNING owner")
        } else {
            format!("DELETE FROM {t} WHERE key = $1 AND owner = $2 RETURNING owner")
        };
        let mut q = sqlx::query(&sql).bind(key);
        if kind != RecordKind::Account {
            q = q.bind(&w.owner);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let owner: String = get(&row, "owner")?;
            touched.entry(owner).or_default().push(format!("out:{key}"));
        }
    }
    Ok(())
}

async fn forget_undecodable(
    tx: &mut Tx<'_>,
    kind: RecordKind,
    key: &str,
    touched: &mut BTreeMap<String, Vec<String>>,
) -> Result<()> {
    let rows =
        sqlx::query("DELETE FROM fact_undecodable WHERE kind = $1 AND key = $2 RETURNING owner")
            .bind(kind.as_str())
            .bind(key)
            .fetch_all(&mut **tx)
            .await?;
    for row in rows {
        let owner: String = get(&row, "owner")?;
        touched.entry(owner).or_default().push(format!("out:{key}"));
    }
    Ok(())
}

/// Moves the typed rows of facts that name only `account` (no project) to `project`.
async fn adopt(
    tx: &mut Tx<'_>,
    project: &str,
    account: &str,
    touched: &mut BTreeMap<String, Vec<String>>,
) -> Result<()> {
    let rows = sqlx::query(
        "SELECT kind, key, owner FROM records WHERE account = $1 AND project IS NULL \
         AND kind <> 'account' AND owner <> $2",
    )
    .bind(account)
    .bind(project)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let kind: String = get(&row, "kind")?;
        let kind: RecordKind = kind.parse()?;
        let key: String = get(&row, "key")?;
        let owner: String = get(&row, "owner")?;
        sqlx::query(&format!(
            "UPDATE {} SET owner = $1 WHERE owner = $2 AND key = $3",
            table(kind)
        ))
        .bind(project)
        .bind(&owner)
        .bind(&key)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE fact_undecodable SET owner = $1 WHERE owner = $2 AND kind = $3 AND key = $4",
        )
        .bind(project)
        .bind(&owner)
        .bind(kind.as_str())
        .bind(&key)
        .execute(&mut **tx)
        .await?;
        if kind == RecordKind::Statement {
            sqlx::query(
                "UPDATE fact_entries SET owner = $1 WHERE owner = $2 AND statement_key = $3",
            )
            .bind(project)
            .bind(&owner)
            .bind(&key)
            .execute(&mut **tx)
            .await?;
        }
        touched.entry(owner).or_default().push(format!("out:{key}"));
        touched
            .entry(project.to_string())
            .or_default()
            .push(format!("in:{key}"));
    }
    Ok(())
}

/// Chains each touched project's new content hashes into its fingerprint.
async fn chain(tx: &mut Tx<'_>, touched: BTreeMap<String, Vec<String>>) -> Result<()> {
    let touched: Vec<(String, Vec<String>)> =
        touched.into_iter().filter(|(p, _)| !p.is_empty()).collect();
    for chunk in touched.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT project, fingerprint FROM project_facts WHERE project IN ",
        );
        push_list(&mut q, chunk.iter().map(|(p, _)| p.as_str()));
        let mut old: HashMap<String, String> = HashMap::new();
        for row in q.build().fetch_all(&mut **tx).await? {
            old.insert(get(&row, "project")?, get(&row, "fingerprint")?);
        }
        let rows: Vec<Row<'static>> = chunk
            .iter()
            .map(|(p, hashes)| {
                let mut hashes = hashes.clone();
                hashes.sort();
                let prev = old.get(p).map_or("", String::as_str);
                let fp = schemas::sha256_hex(format!("{prev}|{}", hashes.join(",")).as_bytes());
                Row::new().col("project", p.clone()).col("fingerprint", fp)
            })
            .collect();
        insert(
            "project_facts",
            rows,
            " ON CONFLICT (project) DO UPDATE SET fingerprint = excluded.fingerprint",
        )
        .build()
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Removes a fact's typed row (an incomplete statement a complete delivery supersedes);
/// called by `records::remove` before the record itself goes.
pub async fn remove(tx: &mut Tx<'_>, kind: RecordKind, key: &str) -> Result<()> {
    let owners: Vec<String> =
        sqlx::query_scalar("SELECT owner FROM records WHERE kind = $1 AND key = $2")
            .bind(kind.as_str())
            .bind(key)
            .fetch_all(&mut **tx)
            .await?;
    let mut touched = BTreeMap::new();
    forget_undecodable(tx, kind, key, &mut touched).await?;
    for owner in owners {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE owner = $1 AND key = $2",
            table(kind)
        ))
        .bind(&owner)
        .bind(key)
        .execute(&mut **tx)
        .await?;
        if kind == RecordKind::Statement {
            sqlx::query("DELETE FROM fact_entries WHERE owner = $1 AND statement_key = $2")
                .bind(&owner)
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
        touched.insert(owner.clone(), vec![format!("out:{key}")]);
    }
    chain(tx, touched).await
}

/// A conflicting delivery changes its project's findings (DUPLICATE_DELIVERY): it changes
/// the project's fingerprint too.
pub async fn touch_conflict(
    tx: &mut Tx<'_>,
    project: Option<&str>,
    account: Option<&str>,
    mark: &str,
) -> Result<()> {
    let owner = match (project, account) {
        (Some(p), _) => Some(p.to_string()),
        (None, Some(a)) => {
            let set = BTreeSet::from([a]);
            super::records::account_projects(tx, &set).await?.remove(a)
        }
        (None, None) => None,
    };
    if let Some(owner) = owner {
        chain(
            tx,
            BTreeMap::from([(owner, vec![format!("conflict:{mark}")])]),
        )
        .await?;
    }
    Ok(())
}

// ----- reading -----

/// One row of a typed fact table, whichever driver read it: on SQLite the row SQLite itself
/// hands out (`sqlite.rs`: no copy of each value and no channel per row), on PostgreSQL a
/// row of a binary `COPY` read in place (`postgres/copy_rows.rs`). Columns by position.
pub trait FactRow {
    /// The column's name, for the debug-build check that decoders and lists agree.
    fn name(&self, at: usize) -> Option<&str>;
    fn text(&self, at: usize) -> Result<Option<&str>>;
    fn int(&self, at: usize) -> Result<Option<i64>>;
    fn boolean(&self, at: usize) -> Result<Option<bool>>;
    fn date(&self, at: usize) -> Result<Option<NaiveDate>>;
}

/// A value of one column, as the decoders below ask for it.
trait FromColumn<'r>: Sized {
    fn from_column(row: &'r dyn FactRow, at: usize, name: &str) -> Result<Self>;
}

fn not_null<T>(v: Option<T>, name: &str) -> Result<T> {
    v.ok_or_else(|| StoreError::Corrupt(format!("typed fact column {name} is NULL")))
}

impl<'r> FromColumn<'r> for Option<&'r str> {
    fn from_column(row: &'r dyn FactRow, at: usize, _: &str) -> Result<Self> {
        row.text(at)
    }
}

impl<'r> FromColumn<'r> for &'r str {
    fn from_column(row: &'r dyn FactRow, at: usize, name: &str) -> Result<Self> {
        not_null(row.text(at)?, name)
    }
}

impl<'r> FromColumn<'r> for Option<String> {
    fn from_column(row: &'r dyn FactRow, at: usize, _: &str) -> Result<Self> {
        Ok(row.text(at)?.map(str::to_string))
    }
}

impl<'r> FromColumn<'r> for String {
    fn from_column(row: &'r dyn FactRow, at: usize, name: &str) -> Result<Self> {
        Ok(not_null(row.text(at)?, name)?.to_string())
    }
}

impl<'r> FromColumn<'r> for Option<i64> {
    fn from_column(row: &'r dyn FactRow, at: usize, _: &str) -> Result<Self> {
        row.int(at)
    }
}

impl<'r> FromColumn<'r> for i64 {
    fn from_column(row: &'r dyn FactRow, at: usize, name: &str) -> Result<Self> {
        not_null(row.int(at)?, name)
    }
}

impl<'r> FromColumn<'r> for bool {
    fn from_column(row: &'r dyn FactRow, at: usize, name: &str) -> Result<Self> {
        not_null(row.boolean(at)?, name)
    }
}

/// A row's columns read one after the other, by position, in the order of the column list
/// the row was selected with (each decoder below sits next to its list): no lookup of a
/// column by name and, for text that is parsed, no copy of it.
struct Cols<'r> {
    row: &'r dyn FactRow,
    at: usize,
}

impl<'r> Cols<'r> {
    fn new(row: &'r dyn FactRow) -> Cols<'r> {
        Cols { row, at: 0 }
    }

    /// The next column's position, which must be `name`'s (checked in debug builds: the
    /// tests).
    fn next(&mut self, name: &str) -> usize {
        let at = self.at;
        self.at += 1;
        debug_assert_eq!(self.row.name(at), Some(name), "typed fact column {at}");
        at
    }

    /// The next column, which must be `name`.
    fn get<T: FromColumn<'r>>(&mut self, name: &str) -> Result<T> {
        let at = self.next(name);
        T::from_column(self.row, at, name)
    }

    /// The next column, a date or NULL.
    fn opt_date(&mut self, name: &str) -> Result<Option<NaiveDate>> {
        let at = self.next(name);
        self.row.date(at)
    }

    fn date(&mut self, name: &str) -> Result<NaiveDate> {
        self.opt_date(name)?
            .ok_or_else(|| StoreError::Corrupt(format!("typed fact column {name} is NULL")))
    }

    fn parse<T: DeserializeOwned>(&mut self, name: &str) -> Result<T> {
        parse(self.get::<&str>(name)?)
    }

    fn opt_parse<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>> {
        self.get::<Option<&str>>(name)?.map(parse).transpose()
    }

    fn fen(&mut self, name: &str) -> Result<Money> {
        Ok(Money::from_fen(self.get(name)?))
    }

    fn opt_fen(&mut self, name: &str) -> Result<Option<Money>> {
        Ok(money(self.get(name)?))
    }

    fn list(&mut self, name: &str) -> Result<Vec<String>> {
        decode_list(self.get::<&str>(name)?)
    }
}

const PROJECT: &str = "code, name, province, cu_name, cu_credit_code, gc_name, gc_credit_code, \
     subcontractors, contract_fen, start_date, planned_end_date, status";

fn project(c: &mut Cols<'_>) -> Result<Project> {
    let code = c.get("code")?;
    let name = c.get("name")?;
    let province = c.parse("province")?;
    let construction_unit = Party {
        name: c.get("cu_name")?,
        credit_code: c.parse("cu_credit_code")?,
    };
    let general_contractor = Party {
        name: c.get("gc_name")?,
        credit_code: c.parse("gc_credit_code")?,
    };
    let subs = c.list("subcontractors")?;
    let mut subcontractors = Vec::with_capacity(subs.len() / 2);
    for pair in subs.chunks(2) {
        let [name, code] = pair else {
            return Err(StoreError::Corrupt("subcontractor list".into()));
        };
        subcontractors.push(Party {
            name: name.clone(),
            credit_code: parse(code)?,
        });
    }
    Ok(Project {
        code,
        name,
        province,
        construction_unit,
        general_contractor,
        subcontractors,
        contract_amount: c.fen("contract_fen")?,
        start_date: c.date("start_date")?,
        planned_end_date: c.date("planned_end_date")?,
        status: c.parse("status")?,
    })
}

const ACCOUNT: &str =
    "account_no, account_name, project_code, bank_code, cnaps, opened_on, currency, payer_accounts";

fn account(c: &mut Cols<'_>) -> Result<WageAccount> {
    Ok(WageAccount {
        account_no: c.get("account_no")?,
        account_name: c.get("account_name")?,
        project_code: c.get("project_code")?,
        bank_code: c.get("bank_code")?,
        cnaps: c.parse("cnaps")?,
        opened_on: c.date("opened_on")?,
        currency: c.get("currency")?,
        payer_accounts: c.list("payer_accounts")?,
    })
}

const OBLIGATION: &str =
    "obligation_id, project_code, period, due_date, amount_fen, ratio, progress_fen";

fn obligation(c: &mut Cols<'_>) -> Result<LaborCostObligation> {
    Ok(LaborCostObligation {
        obligation_id: c.get("obligation_id")?,
        project_code: c.get("project_code")?,
        period: c.parse("period")?,
        due_date: c.date("due_date")?,
        amount: c.fen("amount_fen")?,
        ratio: c.opt_parse("ratio")?,
        progress_payment: c.opt_fen("progress_fen")?,
    })
}

const PAYSHEET: &str = "project_code, period, employer, worker_name, id_number, card_number, \
     gross_fen, net_fen, batch_ref";

fn paysheet(c: &mut Cols<'_>) -> Result<PaySheetLine> {
    Ok(PaySheetLine {
        project_code: c.get("project_code")?,
        period: c.parse("period")?,
        employer: c.get("employer")?,
        worker_name: c.get("worker_name")?,
        id_number: schemas::IdNumber::new(c.get::<String>("id_number")?),
        card_number: schemas::CardNumber::new(c.get::<String>("card_number")?),
        gross: c.fen("gross_fen")?,
        net: c.fen("net_fen")?,
        batch_ref: c.get("batch_ref")?,
    })
}

const ROSTER: &str =
    "project_code, worker_name, id_number, card_number, employer, entered_on, left_on";

fn roster(c: &mut Cols<'_>) -> Result<RosterEntry> {
    Ok(RosterEntry {
        project_code: c.get("project_code")?,
        worker_name: c.get("worker_name")?,
        id_number: schemas::IdNumber::new(c.get::<String>("id_number")?),
        card_number: schemas::CardNumber::new(c.get::<String>("card_number")?),
        employer: c.get("employer")?,
        entered_on: c.opt_date("entered_on")?,
        left_on: c.opt_date("left_on")?,
    })
}

const GUARANTEE_REQUIREMENT: &str = "project_code, contract_fen, contractor_credit, rate, \
     cap_fen, cover_from, cover_to, cash_deposit_fen";

fn guarantee_requirement(c: &mut Cols<'_>) -> Result<GuaranteeRequirement> {
    Ok(GuaranteeRequirement {
        project_code: c.get("project_code")?,
        contract_amount: c.fen("contract_fen")?,
        contractor_credit: c.parse("contractor_credit")?,
        rate: c.opt_parse("rate")?,
        cap: c.opt_fen("cap_fen")?,
        cover_from: c.date("cover_from")?,
        cover_to: c.date("cover_to")?,
        cash_deposit: c.fen("cash_deposit_fen")?,
    })
}

fn balance(amount: Option<Money>, date: Option<NaiveDate>) -> Option<Balance> {
    Some(Balance {
        amount: amount?,
        date: date?,
    })
}

/// After the statement's `key` (its entries are found by it).
const STATEMENT: &str = "account, currency, kind, statement_id, sequence, opening_fen, \
     opening_date, closing_fen, closing_date, incomplete";

fn statement(c: &mut Cols<'_>) -> Result<Statement> {
    Ok(Statement {
        account: c.get("account")?,
        currency: c.get("currency")?,
        kind: c.parse("kind")?,
        statement_id: c.get("statement_id")?,
        sequence: c.get("sequence")?,
        opening_balance: balance(c.opt_fen("opening_fen")?, c.opt_date("opening_date")?),
        closing_balance: balance(c.opt_fen("closing_fen")?, c.opt_date("closing_date")?),
        entries: Vec::new(),
        incomplete: c.get("incomplete")?,
    })
}

/// After the entry's `statement_key`.
const ENTRY: &str = "amount_fen, direction, booking_date, value_date, bank_ref, end_to_end_id, \
     counterparty_name, counterparty_account, remittance, reversal, transaction_code, \
     batch_ref, balance_after_fen";

fn entry(c: &mut Cols<'_>) -> Result<Entry> {
    Ok(Entry {
        amount: c.fen("amount_fen")?,
        direction: c.parse("direction")?,
        booking_date: c.date("booking_date")?,
        value_date: c.opt_date("value_date")?,
        bank_ref: c.get("bank_ref")?,
        end_to_end_id: c.get("end_to_end_id")?,
        counterparty_name: c.get("counterparty_name")?,
        counterparty_account: c.get("counterparty_account")?,
        remittance: c.get("remittance")?,
        reversal: c.get("reversal")?,
        transaction_code: c.get("transaction_code")?,
        batch_ref: c.get("batch_ref")?,
        balance_after: c.opt_fen("balance_after_fen")?,
    })
}

const PAYMENT: &str = "batch_id, end_to_end_id, debit_account, worker_name, id_number, \
     card_number, amount_fen, status, reason, reason_code, reason_text, raw_status, pay_date, \
     period";

fn payment(c: &mut Cols<'_>) -> Result<PaymentResult> {
    Ok(PaymentResult {
        batch_id: c.get("batch_id")?,
        end_to_end_id: c.get("end_to_end_id")?,
        debit_account: c.get("debit_account")?,
        worker_name: c.get("worker_name")?,
        id_number: c
            .get::<Option<String>>("id_number")?
            .map(schemas::IdNumber::new),
        card_number: c
            .get::<Option<String>>("card_number")?
            .map(schemas::CardNumber::new),
        amount: c.opt_fen("amount_fen")?,
        status: c.parse("status")?,
        reason: c.opt_parse("reason")?,
        reason_code: c.get("reason_code")?,
        reason_text: c.get("reason_text")?,
        raw_status: c.get("raw_status")?,
        pay_date: c.opt_date("pay_date")?,
        period: c.opt_parse("period")?,
    })
}

const BATCH: &str =
    "batch_id, debit_account, pay_date, declared_count, declared_total_fen, group_status";

fn batch(c: &mut Cols<'_>) -> Result<PayrollBatch> {
    Ok(PayrollBatch {
        batch_id: c.get("batch_id")?,
        debit_account: c.get("debit_account")?,
        pay_date: c.opt_date("pay_date")?,
        declared_count: c
            .get::<Option<i64>>("declared_count")?
            .map(|n| crate::sql::to_u64(n, "declared count"))
            .transpose()?,
        declared_total: c.opt_fen("declared_total_fen")?,
        group_status: c.get("group_status")?,
    })
}

const GUARANTEE: &str = "number, verification_code, form, issuer_name, issuer_code, \
     applicant_name, applicant_credit_code, beneficiary, project_code, project_name, \
     contract_fen, guaranteed_fen, valid_from, valid_to, irrevocable_on_demand, action, \
     previous_number, status, event_date, claim_fen, document_hash";

fn guarantee(c: &mut Cols<'_>) -> Result<GuaranteeLetter> {
    Ok(GuaranteeLetter {
        number: c.get("number")?,
        verification_code: c.get("verification_code")?,
        form: c.parse("form")?,
        issuer_name: c.get("issuer_name")?,
        issuer_code: c.get("issuer_code")?,
        applicant_name: c.get("applicant_name")?,
        applicant_credit_code: c.parse("applicant_credit_code")?,
        beneficiary: c.get("beneficiary")?,
        project_code: c.get("project_code")?,
        project_name: c.get("project_name")?,
        contract_amount: c.opt_fen("contract_fen")?,
        guaranteed_amount: c.fen("guaranteed_fen")?,
        valid_from: c.date("valid_from")?,
        valid_to: c.date("valid_to")?,
        irrevocable_on_demand: c.get("irrevocable_on_demand")?,
        action: c.parse("action")?,
        previous_number: c.get("previous_number")?,
        status: c.parse("status")?,
        event_date: c.date("event_date")?,
        claim_amount: c.opt_fen("claim_fen")?,
        document_hash: c.get("document_hash")?,
    })
}

/// Where a chunk's fact rows come from. PostgreSQL's store reads them with binary `COPY`
/// (`postgres/copy_rows.rs`); SQLite's with SQLite's own row API on a read connection of its
/// own (`sqlite.rs`).
pub trait Scan {
    /// The columns `columns` of one typed table for these projects, in `order`: one ordered
    /// scan of the table's primary key over the chunk. Rows are handed to `each` as they
    /// arrive, so no more than one row is held at a time.
    #[allow(async_fn_in_trait)] // used with concrete types only, never as `dyn`
    async fn scan(
        &mut self,
        table: &str,
        columns: &str,
        order: &str,
        projects: &[String],
        each: &mut (dyn FnMut(&dyn FactRow) -> Result<()> + Send),
    ) -> Result<()>;
}

/// A chunk's projects by owner, sorted, remembering the last one asked for: each table is
/// read in owner order, so consecutive rows mostly belong to the project just found (one
/// comparison, not a search of the chunk per row).
#[derive(Default)]
struct ByOwner {
    list: Vec<(String, ProjectFactRows)>,
    last: usize,
}

impl ByOwner {
    fn get_mut(&mut self, owner: &str) -> Option<&mut ProjectFactRows> {
        if self.list.get(self.last).is_none_or(|(o, _)| o != owner) {
            self.last = self
                .list
                .binary_search_by(|(o, _)| o.as_str().cmp(owner))
                .ok()?;
        }
        Some(&mut self.list[self.last].1)
    }
}

/// The facts of one kind of the projects in `out`, read by `read` after the row's owner.
async fn load_kind<S, T, R, P>(
    src: &mut S,
    kind: RecordKind,
    columns: &str,
    projects: &[String],
    out: &mut ByOwner,
    read: R,
    mut put: P,
) -> Result<()>
where
    S: Scan,
    R: Fn(&mut Cols<'_>) -> Result<T> + Send + Sync,
    P: FnMut(&mut ProjectFactRows, T) + Send,
{
    let columns = format!("owner, {columns}");
    let mut each = |row: &dyn FactRow| {
        let mut c = Cols::new(row);
        let owner: &str = c.get("owner")?;
        if let Some(f) = out.get_mut(owner) {
            put(f, read(&mut c)?);
        }
        Ok(())
    };
    src.scan(table(kind), &columns, "owner, key", projects, &mut each)
        .await
}

/// A [`Scan`] that counts each project's rows as they pass (the first column of every scan
/// is the owner) and, once a project has more than `limit`, hands no more of its rows on:
/// a project far beyond a real one costs one read of its rows, never their memory, and
/// needs no count of its own before the load.
struct Counted<'s, S> {
    src: &'s mut S,
    limit: u64,
    counts: HashMap<String, u64>,
}

impl<S: Scan> Scan for Counted<'_, S> {
    async fn scan(
        &mut self,
        table: &str,
        columns: &str,
        order: &str,
        projects: &[String],
        each: &mut (dyn FnMut(&dyn FactRow) -> Result<()> + Send),
    ) -> Result<()> {
        let (counts, limit) = (&mut self.counts, self.limit);
        // The project of the last row and its count so far: rows come in owner order, so
        // the count is looked up once per project and table, not once per row.
        let mut current: Option<(String, u64)> = None;
        let mut counted = |row: &dyn FactRow| -> Result<()> {
            let owner = row.text(0)?.unwrap_or_default();
            let n = match &mut current {
                Some((o, n)) if o == owner => n,
                _ => {
                    if let Some((o, n)) = current.take() {
                        counts.insert(o, n);
                    }
                    let n = counts.get(owner).copied().unwrap_or(0);
                    &mut current.insert((owner.to_string(), n)).1
                }
            };
            *n += 1;
            if *n > limit {
                return Ok(());
            }
            each(row)
        };
        let scanned = self
            .src
            .scan(table, columns, order, projects, &mut counted)
            .await;
        if let Some((o, n)) = current {
            self.counts.insert(o, n);
        }
        scanned
    }
}

/// The typed facts of these projects (at most [`IN_LIST`]), each kind in key order, as the
/// reconciler reads them: projects without a project record are left out, and so is a
/// project with more than `limit` facts (counted as [`counts`] counts them), which comes
/// back in [`LoadedFacts::too_large`] with its count instead.
pub async fn load<S: Scan>(inner: &mut S, projects: &[String], limit: u64) -> Result<LoadedFacts> {
    let mut undecodable = None;
    inner
        .scan(
            "fact_undecodable",
            "owner, kind, key",
            "owner, kind, key",
            projects,
            &mut |row: &dyn FactRow| {
                if undecodable.is_none() {
                    let mut c = Cols::new(row);
                    let owner: String = c.get("owner")?;
                    let kind: String = c.get("kind")?;
                    let key: String = c.get("key")?;
                    undecodable = Some((owner, kind, key));
                }
                Ok(())
            },
        )
        .await?;
    if let Some((owner, kind, key)) = undecodable {
        return Err(StoreError::Corrupt(format!(
            "the stored body of {kind} record {key} (project {owner}) does not read as a {kind}"
        )));
    }
    let src = &mut Counted {
        src: inner,
        limit,
        counts: HashMap::new(),
    };
    let mut out = ByOwner::default();
    let columns = format!("owner, {PROJECT}");
    src.scan(
        "fact_projects",
        &columns,
        "owner, key",
        projects,
        &mut |row: &dyn FactRow| {
            let mut c = Cols::new(row);
            let owner: String = c.get("owner")?;
            out.list
                .push((owner, ProjectFactRows::new(project(&mut c)?)));
            Ok(())
        },
    )
    .await?;
    if out.list.is_empty() {
        return Ok(LoadedFacts::default());
    }
    // In the order of Rust's strings whatever the database's (they agree; this makes sure).
    out.list.sort_by(|a, b| a.0.cmp(&b.0));
    out.list.dedup_by(|b, a| a.0 == b.0);
    // A statement's entries, by owner and then statement key: one allocation per statement,
    // not per entry (consecutive rows of one statement share the group).
    let mut entries: HashMap<String, HashMap<String, Vec<Entry>>> = HashMap::new();
    let mut current: Option<(String, String, Vec<Entry>)> = None;
    let columns = format!("owner, statement_key, {ENTRY}");
    src.scan(
        "fact_entries",
        &columns,
        "owner, statement_key, seq",
        projects,
        &mut |row: &dyn FactRow| {
            let mut c = Cols::new(row);
            let owner: &str = c.get("owner")?;
            let key: &str = c.get("statement_key")?;
            let e = entry(&mut c)?;
            match &mut current {
                Some((o, k, list)) if o == owner && k == key => list.push(e),
                _ => {
                    if let Some((o, k, list)) = current.replace((owner.into(), key.into(), vec![e]))
                    {
                        entries.entry(o).or_default().insert(k, list);
                    }
                }
            }
            Ok(())
        },
    )
    .await?;
    if let Some((o, k, list)) = current {
        entries.entry(o).or_default().insert(k, list);
    }
    let o = &mut out;
    use RecordKind as K;
    load_kind(src, K::Account, ACCOUNT, projects, o, account, |f, a| {
        f.accounts.push(a)
    })
    .await?;
    load_kind(
        src,
        K::Obligation,
        OBLIGATION,
        projects,
        o,
        obligation,
        |f, x| f.obligations.push(x),
    )
    .await?;
    load_kind(src, K::Paysheet, PAYSHEET, projects, o, paysheet, |f, x| {
        f.pay_sheet.push(x)
    })
    .await?;
    load_kind(src, K::Roster, ROSTER, projects, o, roster, |f, x| {
        f.roster.push(x)
    })
    .await?;
    let requirement = guarantee_requirement;
    load_kind(
        src,
        K::GuaranteeRequirement,
        GUARANTEE_REQUIREMENT,
        projects,
        o,
        requirement,
        |f, x| f.guarantee_requirement = Some(x),
    )
    .await?;
    let columns = format!("owner, key, {STATEMENT}");
    src.scan(
        table(K::Statement),
        &columns,
        "owner, key",
        projects,
        &mut |row: &dyn FactRow| {
            let mut c = Cols::new(row);
            let owner: &str = c.get("owner")?;
            let key: &str = c.get("key")?;
            let Some(f) = o.get_mut(owner) else {
                return Ok(());
            };
            let mut s = statement(&mut c)?;
            if let Some(list) = entries.get_mut(owner).and_then(|m| m.remove(key)) {
                s.entries = list;
            }
            f.statements.push(s);
            Ok(())
        },
    )
    .await?;
    load_kind(src, K::Payment, PAYMENT, projects, o, payment, |f, x| {
        f.payment_results.push(x)
    })
    .await?;
    load_kind(src, K::Batch, BATCH, projects, o, batch, |f, x| {
        f.payroll_batches.push(x)
    })
    .await?;
    load_kind(
        src,
        K::Guarantee,
        GUARANTEE,
        projects,
        o,
        guarantee,
        |f, x| f.guarantees.push(x),
    )
    .await?;
    let mut loaded = LoadedFacts::default();
    for (project, facts) in out.list {
        match src.counts.get(&project) {
            Some(&n) if n > limit => loaded.too_large.push(TooLarge {
                project,
                facts: n,
                limit,
            }),
            _ => loaded.projects.push(facts),
        }
    }
    Ok(loaded)
}

/// Every registered account with its project, bank and whether an operator registered it,
/// in key order (no JSON: the typed columns, and the file of the record).
/// The registered accounts with one of these numbers, or of one of these projects (the
/// project's own accounts: an account's owner is its project). Found through
/// `fact_accounts_key` (an account's key is derived from its number) and the primary key
/// `(owner, key)`: the cost follows the file, not the number of registered accounts.
pub async fn accounts_named(
    pool: &Pool,
    numbers: &[String],
    projects: &[String],
) -> Result<Vec<crate::model::AccountEntry>> {
    const SELECT: &str = "SELECT f.account_no, f.project_code, f.bank_code, r.file_id \
         FROM fact_accounts f JOIN records r ON r.kind = 'account' AND r.key = f.key WHERE ";
    let keys: BTreeSet<String> = numbers
        .iter()
        .map(|n| schemas::key::record_key("account", &[n]))
        .collect();
    let keys: Vec<String> = keys.into_iter().collect();
    let owners: BTreeSet<&String> = projects.iter().collect();
    let owners: Vec<&String> = owners.into_iter().collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut take = |rows: Vec<DbRow>| -> Result<()> {
        for r in &rows {
            let entry = crate::model::AccountEntry {
                account_no: get(r, "account_no")?,
                project: get(r, "project_code")?,
                bank_code: get(r, "bank_code")?,
                by_operator: get::<Option<String>>(r, "file_id")?.is_none(),
            };
            if seen.insert((entry.account_no.clone(), entry.project.clone())) {
                out.push(entry);
            }
        }
        Ok(())
    };
    // One connection for the lookup, whose cache is let go after it (`release_cache`).
    let mut conn = pool.acquire().await?;
    for chunk in keys.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::<Db>::new(SELECT);
        q.push("f.key IN ");
        push_list(&mut q, chunk.iter());
        take(q.build().fetch_all(&mut *conn).await?)?;
    }
    for chunk in owners.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::<Db>::new(SELECT);
        q.push("f.owner IN ");
        push_list(&mut q, chunk.iter().copied());
        take(q.build().fetch_all(&mut *conn).await?)?;
    }
    super::release_cache(&mut *conn).await?;
    Ok(out)
}

// ----- how many -----

/// How many fact rows each project owns in each typed fact table (statement entries one by
/// one, as kind `entry`): one `UNION ALL` of grouped counts per [`IN_LIST`] projects, each
/// read from the table's primary key (`owner` first), no row decoded.
pub async fn counts(
    pool: &Pool,
    projects: &[String],
) -> Result<HashMap<String, crate::model::FactCounts>> {
    let tables: Vec<(&str, &str)> = RecordKind::ALL
        .iter()
        .map(|k| (k.as_str(), table(*k)))
        .chain([(crate::model::FactCounts::ENTRY, "fact_entries")])
        .collect();
    let mut out: HashMap<String, crate::model::FactCounts> = HashMap::new();
    // One connection, whose cache is let go after the counts (`release_cache`): a count reads every page of the projects' fact tables, which
    // left 64 MiB of pages in each pool connection a count landed on, beside the fact
    // readers' own reads of the same pages (a province pass: 905 MiB → 1,100 MiB peak).
    let mut conn = pool.acquire().await?;
    for chunk in projects.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new("");
        for (i, (kind, t)) in tables.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            // Kinds and tables are this crate's constants, never input.
            q.push(format!(
                "SELECT owner, '{kind}' AS kind, COUNT(*) AS n FROM {t} WHERE owner IN "
            ));
            push_list(&mut q, chunk.iter().map(String::as_str));
            q.push(" GROUP BY owner");
        }
        for row in q.build().fetch_all(&mut *conn).await? {
            let n: i64 = get(&row, "n")?;
            let kind: String = get(&row, "kind")?;
            *out.entry(get(&row, "owner")?)
                .or_default()
                .by_kind
                .entry(kind)
                .or_default() += u64::try_from(n).unwrap_or(0);
        }
    }
    super::release_cache(&mut *conn).await?;
    Ok(out)
}

// ----- what the last reconciliation saw -----

/// The fingerprint of each project's facts now and its last recorded reconciliation.
pub async fn states(
    pool: &Pool,
    projects: &[String],
) -> Result<HashMap<String, crate::model::ReconcileState>> {
    let mut out: HashMap<String, crate::model::ReconcileState> = HashMap::new();
    for chunk in projects.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT project, fingerprint FROM project_facts WHERE project IN ",
        );
        push_list(&mut q, chunk.iter().map(String::as_str));
        for row in q.build().fetch_all(pool).await? {
            out.entry(get(&row, "project")?).or_default().fingerprint =
                Some(get(&row, "fingerprint")?);
        }
        let mut q = sqlx::QueryBuilder::new(
            "SELECT project, fingerprint, rules, as_of, valid_until, hand_changes \
             FROM project_reconciled WHERE project IN ",
        );
        push_list(&mut q, chunk.iter().map(String::as_str));
        for row in q.build().fetch_all(pool).await? {
            let project: String = get(&row, "project")?;
            let hand_changes: i64 = get(&row, "hand_changes")?;
            let state = out.entry(project.clone()).or_default();
            state.hand_changes = hand_changes;
            state.last = Some(crate::model::Reconciled {
                project: project.clone(),
                fingerprint: get(&row, "fingerprint")?,
                rules: get(&row, "rules")?,
                as_of: get(&row, "as_of")?,
                valid_until: get(&row, "valid_until")?,
                hand_changes,
            });
        }
    }
    Ok(out)
}

/// Records projects' reconciliations (replacing the previous ones), each only if its
/// findings were not changed by hand since the pass read its state (`hand_changes` still the
/// one read): otherwise the record would say "nothing to do" about findings an operator
/// changed after they were computed, and the next pass would skip the project.
pub async fn put_states(tx: &mut Tx<'_>, done: &[crate::model::Reconciled]) -> Result<()> {
    let Some(first) = done.first() else {
        return Ok(());
    };
    let row = |r: &crate::model::Reconciled| -> Row<'static> {
        Row::new()
            .col("project", r.project.clone())
            .col("fingerprint", r.fingerprint.clone())
            .col("rules", r.rules.clone())
            .col("as_of", r.as_of)
            .col("valid_until", r.valid_until)
            .col("hand_changes", r.hand_changes)
    };
    for chunk in done.chunks(rows_per_insert(row(first).binds())) {
        insert(
            "project_reconciled",
            chunk.iter().map(row).collect(),
            " ON CONFLICT (project) DO UPDATE SET fingerprint = excluded.fingerprint, \
             rules = excluded.rules, as_of = excluded.as_of, valid_until = excluded.valid_until \
             WHERE project_reconciled.hand_changes = excluded.hand_changes",
        )
        .build()
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Forgets a project's last reconciliation: its stored findings were changed by hand, so
/// the next pass computes it again (and a finding resolved by hand but still computed is
/// reopened, as without skipping).
///
/// Kept as a row with an empty fingerprint (never skipped) and one more hand change, so that
/// a pass that read the project's state before this cannot record it afterwards
/// ([`put_states`]).
pub async fn forget(tx: &mut Tx<'_>, project: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO project_reconciled (project, fingerprint, rules, as_of, valid_until, hand_changes) \
         VALUES ($1, '', '', $2, NULL, 1) \
         ON CONFLICT (project) DO UPDATE SET fingerprint = '', \
         hand_changes = project_reconciled.hand_changes + 1",
    )
    .bind(project)
    .bind(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// ----- the backfill of an upgraded database -----

/// Fills the typed tables from `records` once (a database written before migration 0013):
/// every record is decoded from its JSON body and written as [`write`] would have, a batch
/// of owners at a time, each in its own transaction; then the backfill is marked done.
/// Idempotent (rows already there are kept) and resumable. Several processes opening one
/// database at once run it one at a time (`BACKFILL_LOCK`, taken on a connection of its own
/// so that the pool keeps all of its own, and released when that connection closes); the
/// later ones find it done.
pub async fn backfill(pool: &Pool) -> Result<u64> {
    use sqlx::{ConnectOptions as _, Connection as _};
    if !backfill_pending(pool).await? {
        return Ok(0);
    }
    let Some(lock) = ThisStore::BACKFILL_LOCK else {
        return backfill_now(pool).await;
    };
    let mut held = pool.connect_options().connect().await?;
    sqlx::query(lock).execute(&mut held).await?;
    let done = match backfill_pending(pool).await {
        Ok(true) => backfill_now(pool).await,
        Ok(false) => Ok(0),
        Err(e) => Err(e),
    };
    held.close().await?;
    done
}

/// Whether the typed tables still wait for [`backfill`].
async fn backfill_pending(pool: &Pool) -> Result<bool> {
    let done: Option<bool> =
        sqlx::query_scalar("SELECT done FROM store_backfills WHERE name = 'typed_facts'")
            .fetch_optional(pool)
            .await?;
    Ok(done == Some(false))
}

/// [`backfill`], by the process that holds its lock.
async fn backfill_now(pool: &Pool) -> Result<u64> {
    // The records are read owner by owner, which `records` has no index for (migration
    // 0019): one for this run, dropped when it is done (kept, and reused, should the run stop
    // half-way).
    sqlx::query(OWNER_INDEX).execute(pool).await?;
    let owners: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT owner FROM records ORDER BY owner")
            .fetch_all(pool)
            .await?;
    let mut n = 0u64;
    for chunk in owners.chunks(64) {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT kind, key, owner, content_hash, body FROM records WHERE owner IN ",
        );
        push_list(&mut q, chunk.iter().map(String::as_str));
        let rows = q.build().fetch_all(pool).await?;
        let mut tx = pool.begin().await?;
        let mut by_kind: BTreeMap<RecordKind, Vec<Row<'static>>> = BTreeMap::new();
        let mut entries = Vec::new();
        let mut undecodable = Vec::new();
        let mut touched: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in &rows {
            let kind: RecordKind = get::<String>(row, "kind")?.parse()?;
            let key: String = get(row, "key")?;
            let owner: String = get(row, "owner")?;
            let body: String = get(row, "body")?;
            let hash: String = get(row, "content_hash")?;
            typed_row(
                kind,
                &owner,
                &key,
                &body,
                by_kind.entry(kind).or_default(),
                &mut entries,
                &mut undecodable,
            )?;
            touched
                .entry(owner)
                .or_default()
                .push(format!("{key}:{hash}"));
            n += 1;
        }
        for (kind, typed) in by_kind {
            insert_rows(&mut tx, table(kind), typed, KEEP).await?;
        }
        insert_rows(&mut tx, "fact_entries", entries, KEEP).await?;
        insert_rows(&mut tx, "fact_undecodable", undecodable, KEEP).await?;
        // The fingerprint of a backfilled project: its records' content hashes (and its
        // conflicts, which only add to it).
        chain(&mut tx, touched).await?;
        tx.commit().await?;
    }
    sqlx::query("UPDATE store_backfills SET done = $1 WHERE name = 'typed_facts'")
        .bind(true)
        .execute(pool)
        .await?;
    sqlx::query("DROP INDEX IF EXISTS records_owner_backfill")
        .execute(pool)
        .await?;
    Ok(n)
}

/// The index on `records`' owners that [`backfill`] reads through.
const OWNER_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS records_owner_backfill ON records (owner, kind, key)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_whatever_they_hold() {
        for items in [
            vec![],
            vec!["".to_string()],
            vec!["a:b".to_string(), "12:x".to_string(), "中文".to_string()],
        ] {
            let s = encode_list(items.iter().map(String::as_str));
            assert_eq!(decode_list(&s).unwrap(), items);
        }
        assert!(decode_list("5:ab").is_err());
        assert!(decode_list("x:ab").is_err());
    }
}
