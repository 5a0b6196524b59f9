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
use super::{Db, DbRow, Tx};
use crate::error::StoreError;
use crate::model::{NewRecord, ProjectFactRows, RecordKind};
use crate::sql::IN_LIST;

type Pool = sqlx::Pool<Db>;
type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The typed table of each record kind.
pub fn table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Project => "fact_projects",
        RecordKind::Account => "fact_accounts",
        RecordKind::Obligation => "fact_obligations",
        RecordKind::Paysheet => "fact_paysheet",
        RecordKind::Roster => "fact_roster",
        RecordKind::GuaranteeRequirement => "fact_guarantee_requirements",
        RecordKind::Statement => "fact_statements",
        RecordKind::Payment => "fact_payments",
        RecordKind::Batch => "fact_batches",
        RecordKind::Guarantee => "fact_guarantees",
    }
}

const KINDS: [RecordKind; 10] = [
    RecordKind::Project,
    RecordKind::Account,
    RecordKind::Obligation,
    RecordKind::Paysheet,
    RecordKind::Roster,
    RecordKind::GuaranteeRequirement,
    RecordKind::Statement,
    RecordKind::Payment,
    RecordKind::Batch,
    RecordKind::Guarantee,
];

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

fn opt_parse<T: DeserializeOwned>(s: Option<String>) -> Result<Option<T>> {
    s.as_deref().map(parse).transpose()
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
/// of `rows` with `replace`, registry rows; else only those `written` reports new, facts
/// being never replaced), moves the typed rows an account registered or moved here takes
/// along (as `records::adopt_facts` does for `records`, which runs after this), and chains
/// the content hashes into the fingerprint of every project touched.
pub async fn write(
    tx: &mut Tx<'_>,
    rows: &[Write<'_>],
    replace: bool,
    written: &std::collections::HashSet<(String, String)>,
) -> Result<()> {
    let is_written =
        |r: &NewRecord| replace || written.contains(&(r.kind.as_str().to_string(), r.key.clone()));
    let rows: Vec<&Write<'_>> = rows.iter().filter(|w| is_written(w.record)).collect();
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
        insert_rows(tx, table(kind), typed).await?;
        insert_rows(tx, "fact_entries", entries).await?;
        insert_rows(tx, "fact_undecodable", undecodable).await?;
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

async fn insert_rows(tx: &mut Tx<'_>, table: &str, rows: Vec<Row<'static>>) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let per = rows_per_insert(first.binds());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Row<'static>> = rows.by_ref().take(per).collect();
        insert(table, chunk, " ON CONFLICT DO NOTHING")
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

fn project(row: &DbRow) -> Result<Project> {
    let subs = decode_list(&get::<String>(row, "subcontractors")?)?;
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
        code: get(row, "code")?,
        name: get(row, "name")?,
        province: parse(&get::<String>(row, "province")?)?,
        construction_unit: Party {
            name: get(row, "cu_name")?,
            credit_code: parse(&get::<String>(row, "cu_credit_code")?)?,
        },
        general_contractor: Party {
            name: get(row, "gc_name")?,
            credit_code: parse(&get::<String>(row, "gc_credit_code")?)?,
        },
        subcontractors,
        contract_amount: Money::from_fen(get(row, "contract_fen")?),
        start_date: get(row, "start_date")?,
        planned_end_date: get(row, "planned_end_date")?,
        status: parse(&get::<String>(row, "status")?)?,
    })
}

fn account(row: &DbRow) -> Result<WageAccount> {
    Ok(WageAccount {
        account_no: get(row, "account_no")?,
        account_name: get(row, "account_name")?,
        project_code: get(row, "project_code")?,
        bank_code: get(row, "bank_code")?,
        cnaps: parse(&get::<String>(row, "cnaps")?)?,
        opened_on: get(row, "opened_on")?,
        currency: get(row, "currency")?,
        payer_accounts: decode_list(&get::<String>(row, "payer_accounts")?)?,
    })
}

fn obligation(row: &DbRow) -> Result<LaborCostObligation> {
    Ok(LaborCostObligation {
        obligation_id: get(row, "obligation_id")?,
        project_code: get(row, "project_code")?,
        period: parse(&get::<String>(row, "period")?)?,
        due_date: get(row, "due_date")?,
        amount: Money::from_fen(get(row, "amount_fen")?),
        ratio: opt_parse(get(row, "ratio")?)?,
        progress_payment: money(get(row, "progress_fen")?),
    })
}

fn paysheet(row: &DbRow) -> Result<PaySheetLine> {
    Ok(PaySheetLine {
        project_code: get(row, "project_code")?,
        period: parse(&get::<String>(row, "period")?)?,
        employer: get(row, "employer")?,
        worker_name: get(row, "worker_name")?,
        id_number: schemas::IdNumber::new(get::<String>(row, "id_number")?),
        card_number: schemas::CardNumber::new(get::<String>(row, "card_number")?),
        gross: Money::from_fen(get(row, "gross_fen")?),
        net: Money::from_fen(get(row, "net_fen")?),
        batch_ref: get(row, "batch_ref")?,
    })
}

fn roster(row: &DbRow) -> Result<RosterEntry> {
    Ok(RosterEntry {
        project_code: get(row, "project_code")?,
        worker_name: get(row, "worker_name")?,
        id_number: schemas::IdNumber::new(get::<String>(row, "id_number")?),
        card_number: schemas::CardNumber::new(get::<String>(row, "card_number")?),
        employer: get(row, "employer")?,
        entered_on: get(row, "entered_on")?,
        left_on: get(row, "left_on")?,
    })
}

fn guarantee_requirement(row: &DbRow) -> Result<GuaranteeRequirement> {
    Ok(GuaranteeRequirement {
        project_code: get(row, "project_code")?,
        contract_amount: Money::from_fen(get(row, "contract_fen")?),
        contractor_credit: parse(&get::<String>(row, "contractor_credit")?)?,
        rate: opt_parse(get(row, "rate")?)?,
        cap: money(get(row, "cap_fen")?),
        cover_from: get(row, "cover_from")?,
        cover_to: get(row, "cover_to")?,
        cash_deposit: Money::from_fen(get(row, "cash_deposit_fen")?),
    })
}

fn balance(amount: Option<i64>, date: Option<NaiveDate>) -> Option<Balance> {
    Some(Balance {
        amount: Money::from_fen(amount?),
        date: date?,
    })
}

fn statement(row: &DbRow) -> Result<Statement> {
    Ok(Statement {
        account: get(row, "account")?,
        currency: get(row, "currency")?,
        kind: parse(&get::<String>(row, "kind")?)?,
        statement_id: get(row, "statement_id")?,
        sequence: get(row, "sequence")?,
        opening_balance: balance(get(row, "opening_fen")?, get(row, "opening_date")?),
        closing_balance: balance(get(row, "closing_fen")?, get(row, "closing_date")?),
        entries: Vec::new(),
        incomplete: get(row, "incomplete")?,
    })
}

fn entry(row: &DbRow) -> Result<Entry> {
    Ok(Entry {
        amount: Money::from_fen(get(row, "amount_fen")?),
        direction: parse(&get::<String>(row, "direction")?)?,
        booking_date: get(row, "booking_date")?,
        value_date: get(row, "value_date")?,
        bank_ref: get(row, "bank_ref")?,
        end_to_end_id: get(row, "end_to_end_id")?,
        counterparty_name: get(row, "counterparty_name")?,
        counterparty_account: get(row, "counterparty_account")?,
        remittance: get(row, "remittance")?,
        reversal: get(row, "reversal")?,
        transaction_code: get(row, "transaction_code")?,
        batch_ref: get(row, "batch_ref")?,
        balance_after: money(get(row, "balance_after_fen")?),
    })
}

fn payment(row: &DbRow) -> Result<PaymentResult> {
    Ok(PaymentResult {
        batch_id: get(row, "batch_id")?,
        end_to_end_id: get(row, "end_to_end_id")?,
        debit_account: get(row, "debit_account")?,
        worker_name: get(row, "worker_name")?,
        id_number: get::<Option<String>>(row, "id_number")?.map(schemas::IdNumber::new),
        card_number: get::<Option<String>>(row, "card_number")?.map(schemas::CardNumber::new),
        amount: money(get(row, "amount_fen")?),
        status: parse(&get::<String>(row, "status")?)?,
        reason: opt_parse(get(row, "reason")?)?,
        reason_code: get(row, "reason_code")?,
        reason_text: get(row, "reason_text")?,
        raw_status: get(row, "raw_status")?,
        pay_date: get(row, "pay_date")?,
        period: opt_parse(get(row, "period")?)?,
    })
}

fn batch(row: &DbRow) -> Result<PayrollBatch> {
    Ok(PayrollBatch {
        batch_id: get(row, "batch_id")?,
        debit_account: get(row, "debit_account")?,
        pay_date: get(row, "pay_date")?,
        declared_count: get::<Option<i64>>(row, "declared_count")?
            .map(|c| crate::sql::to_u64(c, "declared count"))
            .transpose()?,
        declared_total: money(get(row, "declared_total_fen")?),
        group_status: get(row, "group_status")?,
    })
}

fn guarantee(row: &DbRow) -> Result<GuaranteeLetter> {
    Ok(GuaranteeLetter {
        number: get(row, "number")?,
        verification_code: get(row, "verification_code")?,
        form: parse(&get::<String>(row, "form")?)?,
        issuer_name: get(row, "issuer_name")?,
        issuer_code: get(row, "issuer_code")?,
        applicant_name: get(row, "applicant_name")?,
        applicant_credit_code: parse(&get::<String>(row, "applicant_credit_code")?)?,
        beneficiary: get(row, "beneficiary")?,
        project_code: get(row, "project_code")?,
        project_name: get(row, "project_name")?,
        contract_amount: money(get(row, "contract_fen")?),
        guaranteed_amount: Money::from_fen(get(row, "guaranteed_fen")?),
        valid_from: get(row, "valid_from")?,
        valid_to: get(row, "valid_to")?,
        irrevocable_on_demand: get(row, "irrevocable_on_demand")?,
        action: parse(&get::<String>(row, "action")?)?,
        previous_number: get(row, "previous_number")?,
        status: parse(&get::<String>(row, "status")?)?,
        event_date: get(row, "event_date")?,
        claim_amount: money(get(row, "claim_fen")?),
        document_hash: get(row, "document_hash")?,
    })
}

/// The rows of one typed table for these projects, in (owner, key) order: one ordered scan
/// of the table's primary key over the chunk.
async fn scan(pool: &Pool, table: &str, order: &str, projects: &[String]) -> Result<Vec<DbRow>> {
    let mut q = sqlx::QueryBuilder::new(format!("SELECT * FROM {table} WHERE owner IN "));
    push_list(&mut q, projects.iter().map(String::as_str));
    q.push(format!(" ORDER BY {order}"));
    Ok(q.build().fetch_all(pool).await?)
}

/// The typed facts of these projects (at most [`IN_LIST`]), each kind in key order, as the
/// reconciler reads them: projects without a project record are left out.
pub async fn load(pool: &Pool, projects: &[String]) -> Result<Vec<ProjectFactRows>> {
    let undecodable = scan(pool, "fact_undecodable", "owner, kind, key", projects).await?;
    if let Some(row) = undecodable.first() {
        let kind: String = get(row, "kind")?;
        let key: String = get(row, "key")?;
        let owner: String = get(row, "owner")?;
        return Err(StoreError::Corrupt(format!(
            "the stored body of {kind} record {key} (project {owner}) does not read as a {kind}"
        )));
    }
    let mut out: BTreeMap<String, ProjectFactRows> = BTreeMap::new();
    for row in scan(pool, "fact_projects", "owner, key", projects).await? {
        let owner: String = get(&row, "owner")?;
        out.insert(owner, ProjectFactRows::new(project(&row)?));
    }
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let mut entries: HashMap<(String, String), Vec<Entry>> = HashMap::new();
    for row in scan(pool, "fact_entries", "owner, statement_key, seq", projects).await? {
        entries
            .entry((get(&row, "owner")?, get(&row, "statement_key")?))
            .or_default()
            .push(entry(&row)?);
    }
    for kind in KINDS.into_iter().skip(1) {
        for row in scan(pool, table(kind), "owner, key", projects).await? {
            let owner: String = get(&row, "owner")?;
            let Some(f) = out.get_mut(&owner) else {
                continue;
            };
            match kind {
                RecordKind::Project => {}
                RecordKind::Account => f.accounts.push(account(&row)?),
                RecordKind::Obligation => f.obligations.push(obligation(&row)?),
                RecordKind::Paysheet => f.pay_sheet.push(paysheet(&row)?),
                RecordKind::Roster => f.roster.push(roster(&row)?),
                RecordKind::GuaranteeRequirement => {
                    f.guarantee_requirement = Some(guarantee_requirement(&row)?)
                }
                RecordKind::Statement => {
                    let mut s = statement(&row)?;
                    let key: String = get(&row, "key")?;
                    s.entries = entries.remove(&(owner, key)).unwrap_or_default();
                    f.statements.push(s);
                }
                RecordKind::Payment => f.payment_results.push(payment(&row)?),
                RecordKind::Batch => f.payroll_batches.push(batch(&row)?),
                RecordKind::Guarantee => f.guarantees.push(guarantee(&row)?),
            }
        }
    }
    Ok(out.into_values().collect())
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
    for chunk in keys.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::<Db>::new(SELECT);
        q.push("f.key IN ");
        push_list(&mut q, chunk.iter());
        take(q.build().fetch_all(pool).await?)?;
    }
    for chunk in owners.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::<Db>::new(SELECT);
        q.push("f.owner IN ");
        push_list(&mut q, chunk.iter().copied());
        take(q.build().fetch_all(pool).await?)?;
    }
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
/// Idempotent (rows already there are kept) and resumable.
pub async fn backfill(pool: &Pool) -> Result<u64> {
    let done: Option<bool> =
        sqlx::query_scalar("SELECT done FROM store_backfills WHERE name = 'typed_facts'")
            .fetch_optional(pool)
            .await?;
    if done != Some(false) {
        return Ok(0);
    }
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
            insert_rows(&mut tx, table(kind), typed).await?;
        }
        insert_rows(&mut tx, "fact_entries", entries).await?;
        insert_rows(&mut tx, "fact_undecodable", undecodable).await?;
        // The fingerprint of a backfilled project: its records' content hashes (and its
        // conflicts, which only add to it).
        chain(&mut tx, touched).await?;
        tx.commit().await?;
    }
    sqlx::query("UPDATE store_backfills SET done = $1 WHERE name = 'typed_facts'")
        .bind(true)
        .execute(pool)
        .await?;
    Ok(n)
}

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
