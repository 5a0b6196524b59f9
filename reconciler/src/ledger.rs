//! The effective movements of a project's dedicated accounts: entries of every statement,
//! de-duplicated (the same entry arrives in an intraday report and again in the end-of-day
//! statement; the end-of-day statement is authoritative for every day it covers), with
//! reversals paired with what they reverse.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use schemas::{Direction, Entry, Money, Statement, StatementKind};

use crate::ProjectFacts;

pub(crate) struct LedgerEntry<'a> {
    pub account: &'a str,
    /// 0 for the first entry with these facts in its statement, 1 for the second ...
    pub occurrence: u32,
    pub entry: &'a Entry,
    /// Cancelled by a reversal (or is a reversal that cancels something): not a movement
    /// that matching may use.
    pub cancelled: bool,
}

impl LedgerEntry<'_> {
    /// `Entry::key(account, occurrence)`: computed only for evidence (hashing is the
    /// expensive part of a run).
    pub fn key(&self) -> String {
        self.entry.key(self.account, self.occurrence)
    }

    pub fn date(&self) -> NaiveDate {
        self.entry.booking_date
    }

    pub fn amount(&self) -> Money {
        self.entry.amount
    }

    /// One line describing the entry for evidence (no personal data: counterparties of
    /// labor-cost credits are companies; workers' cards are masked by the caller).
    pub fn describe(&self) -> crate::text::Text {
        crate::text::Text::new(self.describe_zh(), self.describe_en())
    }

    fn describe_zh(&self) -> String {
        let e = self.entry;
        let mut s = format!(
            "{} 账户 {} {} {}元",
            e.booking_date,
            self.account,
            match e.direction {
                schemas::Direction::Credit => "转入",
                schemas::Direction::Debit => "转出",
            },
            e.amount
        );
        if let Some(r) = &e.bank_ref {
            s.push_str(&format!("，流水号 {r}"));
        }
        if let Some(n) = &e.counterparty_name {
            s.push_str(&format!("，对方 {n}"));
        }
        if let Some(t) = &e.remittance {
            s.push_str(&format!("，附言“{t}”"));
        }
        if e.reversal {
            s.push_str("，冲正");
        }
        s
    }

    fn describe_en(&self) -> String {
        let e = self.entry;
        let mut s = format!(
            "{} {} {} on {}",
            e.booking_date,
            e.direction.as_str(),
            e.amount,
            self.account
        );
        if let Some(r) = &e.bank_ref {
            s.push_str(&format!(", ref {r}"));
        }
        if let Some(n) = &e.counterparty_name {
            s.push_str(&format!(", from/to {n}"));
        }
        if let Some(t) = &e.remittance {
            s.push_str(&format!(", \"{t}\""));
        }
        if e.reversal {
            s.push_str(", reversal");
        }
        s
    }
}

pub(crate) struct Ledger<'a> {
    /// Sorted by (booking date, key).
    pub entries: Vec<LedgerEntry<'a>>,
}

fn kind_rank(k: StatementKind) -> u8 {
    match k {
        StatementKind::EndOfDay => 0,
        StatementKind::Intraday => 1,
        StatementKind::Notification => 2,
    }
}

/// The days an end-of-day statement vouches for: its closing date, and, when its opening
/// balance is dated earlier (MT940 style: the previous closing), every day after that up to
/// the closing date.
pub(crate) fn coverage(st: &Statement) -> Option<(NaiveDate, NaiveDate)> {
    let close = st
        .closing_balance
        .map(|b| b.date)
        .or_else(|| st.entries.iter().map(|e| e.booking_date).max())?;
    let open = match st.opening_balance {
        Some(b) if b.date < close => b.date.succ_opt().unwrap_or(close),
        _ => st
            .entries
            .iter()
            .map(|e| e.booking_date)
            .min()
            .map_or(close, |d| d.min(close)),
    };
    Some((open, close))
}

/// The natural identity of an entry (what `Entry::key` hashes, without the occurrence):
/// with a bank reference, the reference, date, amount, direction and reversal flag; without
/// one, also the counterparty account, end-to-end id and remittance text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EntryId<'a> {
    date: NaiveDate,
    account: &'a str,
    bank_ref: Option<&'a str>,
    amount: i64,
    debit: bool,
    reversal: bool,
    extra: Option<(Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
}

pub(crate) fn entry_id<'a>(account: &'a str, e: &'a Entry) -> EntryId<'a> {
    let bank_ref = e
        .bank_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    EntryId {
        date: e.booking_date,
        account,
        bank_ref,
        amount: e.amount.fen(),
        debit: e.direction == Direction::Debit,
        reversal: e.reversal,
        extra: match bank_ref {
            Some(_) => None,
            None => Some((
                e.counterparty_account.as_deref(),
                e.end_to_end_id.as_deref(),
                e.remittance.as_deref(),
            )),
        },
    }
}

/// Each entry of a statement with its identity and occurrence number.
pub(crate) fn entry_ids(st: &Statement) -> Vec<(EntryId<'_>, u32)> {
    let mut seen: BTreeMap<EntryId<'_>, u32> = BTreeMap::new();
    st.entries
        .iter()
        .map(|e| {
            let id = entry_id(&st.account, e);
            let n = seen.entry(id).or_insert(0);
            let occ = *n;
            *n += 1;
            (id, occ)
        })
        .collect()
}

/// A statement's natural identity (the parts of `Statement::key`) plus its balances and size
/// as tie-breakers, so statements sort the same whatever order they arrive in.
pub(crate) type StmtId<'a> = (
    &'a str,
    u8,
    Option<&'a str>,
    Option<&'a str>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<i64>,
    Option<i64>,
    usize,
);

pub(crate) fn stmt_id(st: &Statement) -> StmtId<'_> {
    (
        st.account.as_str(),
        kind_rank(st.kind),
        st.statement_id.as_deref(),
        st.sequence.as_deref(),
        st.opening_balance.map(|b| b.date),
        st.closing_balance.map(|b| b.date),
        st.closing_balance.map(|b| b.amount.fen()),
        st.opening_balance.map(|b| b.amount.fen()),
        st.entries.len(),
    )
}

/// The currency of a statement when it is not its account's (the registered currency, CNY
/// when the account is not registered or has none): such a statement's entries and balances
/// never enter the account's sums. A statement that states no currency is taken as the
/// account's.
pub(crate) fn foreign_currency<'s>(facts: &ProjectFacts, st: &'s Statement) -> Option<&'s str> {
    let c = st.currency.trim();
    if c.is_empty() {
        return None;
    }
    let acct = crate::text::norm_account(&st.account);
    let expected = facts
        .accounts
        .iter()
        .find(|a| crate::text::norm_account(&a.account_no) == acct)
        .map(|a| a.currency.trim())
        .filter(|c| !c.is_empty())
        .unwrap_or("CNY");
    (!c.eq_ignore_ascii_case(expected)).then_some(c)
}

impl<'a> Ledger<'a> {
    pub fn build(facts: &'a ProjectFacts, as_of: NaiveDate) -> Ledger<'a> {
        let mut stmts: Vec<&Statement> = facts
            .statements
            .iter()
            .filter(|s| foreign_currency(facts, s).is_none())
            .collect();
        stmts.sort_by(|a, b| stmt_id(a).cmp(&stmt_id(b)));
        // Days covered by an end-of-day statement, per account.
        let mut eod_days: BTreeMap<&str, BTreeSet<NaiveDate>> = BTreeMap::new();
        for st in &stmts {
            if st.kind != StatementKind::EndOfDay {
                continue;
            }
            let days = eod_days.entry(st.account.as_str()).or_default();
            if let Some((from, to)) = coverage(st) {
                let mut d = from;
                while d <= to {
                    days.insert(d);
                    match d.succ_opt() {
                        Some(n) => d = n,
                        None => break,
                    }
                }
            }
            days.extend(st.entries.iter().map(|e| e.booking_date));
        }
        let mut by_key: BTreeMap<(EntryId<'a>, u32), LedgerEntry<'a>> = BTreeMap::new();
        for st in &stmts {
            let eod = st.kind == StatementKind::EndOfDay;
            for (e, (id, occ)) in st.entries.iter().zip(entry_ids(st)) {
                if e.booking_date > as_of {
                    continue;
                }
                if !eod
                    && eod_days
                        .get(st.account.as_str())
                        .is_some_and(|d| d.contains(&e.booking_date))
                {
                    continue;
                }
                by_key.entry((id, occ)).or_insert(LedgerEntry {
                    account: st.account.as_str(),
                    occurrence: occ,
                    entry: e,
                    cancelled: false,
                });
            }
        }
        let mut entries: Vec<LedgerEntry<'a>> = by_key.into_values().collect();
        pair_reversals(&mut entries);
        Ledger { entries }
    }

    pub fn credits(&self) -> impl Iterator<Item = (usize, &LedgerEntry<'a>)> {
        self.entries.iter().enumerate().filter(|(_, e)| {
            !e.cancelled && e.entry.direction == Direction::Credit && !e.entry.reversal
        })
    }

    pub fn debits(&self) -> impl Iterator<Item = (usize, &LedgerEntry<'a>)> {
        self.entries.iter().enumerate().filter(|(_, e)| {
            !e.cancelled && e.entry.direction == Direction::Debit && !e.entry.reversal
        })
    }
}

fn refs(e: &Entry) -> impl Iterator<Item = &str> {
    [e.bank_ref.as_deref(), e.end_to_end_id.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// Pairs each reversal with the entry it reverses: same account, opposite direction, same
/// amount, booked on or before the reversal; a shared reference wins, then the latest date,
/// then the key. Both are marked cancelled. A reversal whose original is not in the data
/// stays uncancelled (it is still reported by the balance checks, and is never matched as
/// labor cost or flagged as a non-wage debit).
fn pair_reversals(entries: &mut [LedgerEntry<'_>]) {
    let mut index: BTreeMap<(&str, &str, Money), Vec<usize>> = BTreeMap::new();
    for (i, le) in entries.iter().enumerate() {
        if !le.entry.reversal {
            index
                .entry((le.account, le.entry.direction.as_str(), le.entry.amount))
                .or_default()
                .push(i);
        }
    }
    let reversals: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].entry.reversal)
        .collect();
    for r in reversals {
        let rev = entries[r].entry;
        let wanted = match rev.direction {
            Direction::Credit => Direction::Debit,
            Direction::Debit => Direction::Credit,
        };
        let Some(cands) = index.get(&(entries[r].account, wanted.as_str(), rev.amount)) else {
            continue;
        };
        let rev_refs: Vec<&str> = refs(rev).collect();
        let best = cands
            .iter()
            .copied()
            .filter(|&i| !entries[i].cancelled && entries[i].entry.booking_date <= rev.booking_date)
            .max_by(|&a, &b| {
                let shared = |i: usize| {
                    let e = entries[i].entry;
                    refs(e).any(|x| rev_refs.contains(&x))
                        || rev
                            .remittance
                            .as_deref()
                            .is_some_and(|t| refs(e).any(|x| crate::text::contains_token(t, x)))
                };
                (
                    shared(a),
                    entries[a].entry.booking_date,
                    std::cmp::Reverse(a),
                )
                    .cmp(&(
                        shared(b),
                        entries[b].entry.booking_date,
                        std::cmp::Reverse(b),
                    ))
            });
        if let Some(orig) = best {
            entries[orig].cancelled = true;
            entries[r].cancelled = true;
        }
    }
}
