//! Personal data on console pages: the workers behind a finding's pay-sheet lines, roster
//! entries and payment results, with ID and card numbers (and names) masked. Only an operator
//! named in `ui.personal_data_viewers` may reveal them in full, and every reveal is written to
//! the store's access log (who, when, which finding, which records) before anything is shown.

use std::collections::HashMap;

use schemas::{EvidenceKind, Finding, PaySheetLine, PaymentResult, RosterEntry};
use serde::Serialize;
use store::{RecordKind, Scope, Store};

use crate::i18n::{self, Lang};

/// The access log's action for a reveal.
pub const REVEAL: &str = "reveal_personal_data";

/// One person a finding's evidence names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Where the person appears (工资支付表明细, 实名名册, 代发结果).
    pub source: String,
    pub name: String,
    pub id_number: String,
    pub card_number: String,
    /// The record's key (what the access log names; never the data itself).
    pub key: String,
}

/// `张**`: the first character, then one `*` per further character.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// Whether `operator` (as the console names it: `operator:li.wei`, or a certificate's
/// partner id) is one of `viewers` (names as configured, with or without `operator:`).
pub fn may_reveal(viewers: &[String], operator: &str) -> bool {
    let bare = operator.strip_prefix("operator:").unwrap_or(operator);
    viewers.iter().any(|v| {
        let v = v.trim();
        !v.is_empty() && (v == operator || v == bare)
    })
}

/// The people behind `f`'s evidence, masked unless `full`. They are read from the records of
/// the finding's project: none are listed for a project of more than `max_project_facts`
/// facts (`reconciler.max_project_facts`; counted, not read), whose records would fill the
/// memory — it is not reconciled either, and its status says why.
pub async fn people(
    store: &dyn Store,
    f: &Finding,
    full: bool,
    lang: Lang,
    max_project_facts: u64,
) -> anyhow::Result<Vec<Person>> {
    let facts = store
        .fact_counts(std::slice::from_ref(&f.project))
        .await?
        .remove(&f.project)
        .map_or(0, |c| c.total());
    if facts > max_project_facts {
        return Ok(Vec::new());
    }
    let wanted: HashMap<&str, EvidenceKind> = f
        .evidence
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EvidenceKind::PaySheetLine
                    | EvidenceKind::RosterEntry
                    | EvidenceKind::PaymentResult
            )
        })
        .map(|e| (e.key.as_str(), e.kind))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for r in store.load_records(&Scope::project(&f.project)).await? {
        let Some(kind) = wanted.get(r.key.as_str()) else {
            continue;
        };
        let (name, id, card) = match r.kind {
            RecordKind::Paysheet => {
                let l: PaySheetLine = r.decode()?;
                (Some(l.worker_name), Some(l.id_number), Some(l.card_number))
            }
            RecordKind::Roster => {
                let e: RosterEntry = r.decode()?;
                (Some(e.worker_name), Some(e.id_number), Some(e.card_number))
            }
            RecordKind::Payment => {
                let p: PaymentResult = r.decode()?;
                (p.worker_name, p.id_number, p.card_number)
            }
            _ => continue,
        };
        out.push(Person {
            source: i18n::evidence_label(*kind, lang).to_string(),
            name: name
                .map(|n| if full { n } else { mask_name(&n) })
                .unwrap_or_default(),
            id_number: id
                .map(|i| {
                    if full {
                        i.expose().to_string()
                    } else {
                        i.masked()
                    }
                })
                .unwrap_or_default(),
            card_number: card
                .map(|c| {
                    if full {
                        c.expose().to_string()
                    } else {
                        c.masked()
                    }
                })
                .unwrap_or_default(),
            key: r.key,
        });
    }
    // In the order the finding cites them.
    let order: HashMap<&str, usize> = f
        .evidence
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.as_str(), i))
        .collect();
    out.sort_by_key(|p| order.get(p.key.as_str()).copied().unwrap_or(usize::MAX));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_their_first_character() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn only_configured_operators_may_reveal() {
        let viewers = vec!["li.wei".to_string(), "ops-cert".to_string()];
        assert!(may_reveal(&viewers, "operator:li.wei"));
        assert!(may_reveal(&viewers, "ops-cert"));
        assert!(!may_reveal(&viewers, "operator:zhang.min"));
        assert!(!may_reveal(&viewers, "operator:li.wei2"));
        assert!(!may_reveal(&[String::new()], "operator:"));
        assert!(!may_reveal(&[], "operator:li.wei"));
    }
}
