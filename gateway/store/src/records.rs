//! Building [`NewRecord`]s from canonical records: the kind, the deterministic key and the
//! project/account columns the loaders select on are decided here, once.

use std::collections::HashMap;

use schemas::{
    GuaranteeLetter, GuaranteeRequirement, LaborCostObligation, PaySheetLine, PaymentResult,
    PayrollBatch, Project, RecordSet, RosterEntry, Statement, WageAccount,
};

use crate::error::StoreError;
use crate::model::{NewRecord, RecordKind, StatementDelivery};

pub fn project(p: &Project) -> Result<NewRecord, StoreError> {
    NewRecord::new(RecordKind::Project, p.key(), Some(p.code.clone()), None, p)
}

pub fn account(a: &WageAccount) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::Account,
        a.key(),
        Some(a.project_code.clone()),
        Some(a.account_no.clone()),
        a,
    )
}

pub fn obligation(o: &LaborCostObligation) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::Obligation,
        o.key(),
        Some(o.project_code.clone()),
        None,
        o,
    )
}

pub fn paysheet(l: &PaySheetLine) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::Paysheet,
        l.key(),
        Some(l.project_code.clone()),
        None,
        l,
    )
}

pub fn roster(r: &RosterEntry) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::Roster,
        r.key(),
        Some(r.project_code.clone()),
        None,
        r,
    )
}

pub fn guarantee_requirement(g: &GuaranteeRequirement) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::GuaranteeRequirement,
        g.key(),
        Some(g.project_code.clone()),
        None,
        g,
    )
}

pub fn statement(s: &Statement) -> Result<NewRecord, StoreError> {
    let mut r = NewRecord::new(
        RecordKind::Statement,
        s.key(),
        None,
        Some(s.account.clone()),
        s,
    )?;
    r.statement = Some(StatementDelivery {
        identity: s.identity_key(),
        incomplete: s.incomplete,
    });
    Ok(r)
}

pub fn batch(b: &PayrollBatch) -> Result<NewRecord, StoreError> {
    NewRecord::new(RecordKind::Batch, b.key(), None, b.debit_account.clone(), b)
}

/// `account` is the dedicated account the payment was drawn on: the result's own, or its
/// batch's when the file only says it once in the header.
pub fn payment(p: &PaymentResult, account: Option<String>) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::Payment,
        p.key(),
        None,
        p.debit_account.clone().or(account),
        p,
    )
}

pub fn guarantee(g: &GuaranteeLetter) -> Result<NewRecord, StoreError> {
    NewRecord::new(
        RecordKind::Guarantee,
        g.key(),
        Some(g.project_code.clone()),
        None,
        g,
    )
}

/// Every record an adapter produced from one file, in a stable order: accounts, statements,
/// batches, payments, guarantees.
pub fn from_record_set(set: &RecordSet) -> Result<Vec<NewRecord>, StoreError> {
    let batch_accounts: HashMap<&str, &str> = set
        .payroll_batches
        .iter()
        .filter_map(|b| Some((b.batch_id.as_str(), b.debit_account.as_deref()?)))
        .collect();
    let mut out = Vec::with_capacity(
        set.accounts.len()
            + set.statements.len()
            + set.payroll_batches.len()
            + set.payment_results.len()
            + set.guarantees.len(),
    );
    for a in &set.accounts {
        out.push(account(a)?);
    }
    for s in &set.statements {
        out.push(statement(s)?);
    }
    for b in &set.payroll_batches {
        out.push(batch(b)?);
    }
    for p in &set.payment_results {
        let from_batch = p
            .batch_id
            .as_deref()
            .and_then(|b| batch_accounts.get(b))
            .map(|a| a.to_string());
        out.push(payment(p, from_batch)?);
    }
    for g in &set.guarantees {
        out.push(guarantee(g)?);
    }
    Ok(out)
}
