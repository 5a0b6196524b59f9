//! Writers for the bank formats the demo (and the simulator) emit: ISO 20022 camt.053
//! statements and pain.002 payment status reports. Output is deterministic.

use std::fmt::Write as _;

use chrono::NaiveDate;
use schemas::Money;

/// One booked movement to write.
#[derive(Debug, Clone)]
pub struct TxResult {
    pub credit: bool,
    pub amount: Money,
    pub bank_ref: String,
    pub counterparty_name: String,
    pub counterparty_account: String,
    pub remittance: String,
    pub batch: Option<String>,
}

impl TxResult {
    pub fn credit(
        amount: Money,
        bank_ref: &str,
        name: &str,
        account: &str,
        remittance: &str,
    ) -> TxResult {
        TxResult {
            credit: true,
            amount,
            bank_ref: bank_ref.into(),
            counterparty_name: name.into(),
            counterparty_account: account.into(),
            remittance: remittance.into(),
            batch: None,
        }
    }

    pub fn debit(
        amount: Money,
        bank_ref: &str,
        name: &str,
        account: &str,
        remittance: &str,
        batch: Option<&str>,
    ) -> TxResult {
        TxResult {
            credit: false,
            amount,
            bank_ref: bank_ref.into(),
            counterparty_name: name.into(),
            counterparty_account: account.into(),
            remittance: remittance.into(),
            batch: batch.map(str::to_string),
        }
    }
}

/// One day's statement of an account.
#[derive(Debug, Clone)]
pub struct StatementDay {
    pub date: NaiveDate,
    /// Electronic sequence number: consecutive across the account's statements.
    pub sequence: u64,
    pub opening: Money,
    pub closing: Money,
    pub entries: Vec<TxResult>,
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn balance(out: &mut String, code: &str, amount: Money, date: NaiveDate) {
    let (ind, abs) = if amount.is_negative() {
        ("DBIT", Money::from_fen(-amount.fen()))
    } else {
        ("CRDT", amount)
    };
    let _ = writeln!(
        out,
        "      <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">{abs}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>"
    );
}

/// camt.053.001.08: one `Stmt` per day in one message.
pub struct Camt053Writer<'a> {
    pub account: &'a str,
    pub account_name: &'a str,
    pub bic: &'a str,
    pub message_id: &'a str,
}

impl Camt053Writer<'_> {
    pub fn write(&self, days: &[StatementDay]) -> String {
        let mut out = String::new();
        let created = days.last().map(|d| d.date).unwrap_or(NaiveDate::MIN);
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n  <BkToCstmrStmt>\n    <GrpHdr><MsgId>{}</MsgId><CreDtTm>{created}T23:30:00+08:00</CreDtTm></GrpHdr>\n",
            escape(self.message_id)
        );
        for day in days {
            let _ = write!(
                out,
                "    <Stmt>\n      <Id>{}-{}</Id>\n      <ElctrncSeqNb>{}</ElctrncSeqNb>\n      <CreDtTm>{}T23:30:00+08:00</CreDtTm>\n      <Acct><Id><Othr><Id>{}</Id></Othr></Id><Ccy>CNY</Ccy><Nm>{}</Nm><Svcr><FinInstnId><BICFI>{}</BICFI></FinInstnId></Svcr></Acct>\n",
                escape(self.account),
                day.date.format("%Y%m%d"),
                day.sequence,
                day.date,
                escape(self.account),
                escape(self.account_name),
                escape(self.bic),
            );
            balance(&mut out, "OPBD", day.opening, day.date);
            balance(&mut out, "CLBD", day.closing, day.date);
            for e in &day.entries {
                let ind = if e.credit { "CRDT" } else { "DBIT" };
                let party = if e.credit { "Dbtr" } else { "Cdtr" };
                let party_acct = if e.credit { "DbtrAcct" } else { "CdtrAcct" };
                let _ = write!(
                    out,
                    "      <Ntry>\n        <Amt Ccy=\"CNY\">{}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>{}</Dt></BookgDt><ValDt><Dt>{}</Dt></ValDt><AcctSvcrRef>{}</AcctSvcrRef>\n        <BkTxCd><Prtry><Cd>{}</Cd></Prtry></BkTxCd>\n        <NtryDtls>\n",
                    e.amount,
                    day.date,
                    day.date,
                    escape(&e.bank_ref),
                    if e.batch.is_some() { "PAYROLL" } else { "TRANSFER" },
                );
                if let Some(b) = &e.batch {
                    let _ = writeln!(
                        out,
                        "          <Btch><PmtInfId>{}</PmtInfId></Btch>",
                        escape(b)
                    );
                }
                let _ = write!(
                    out,
                    "          <TxDtls>\n            <Refs><EndToEndId>{}</EndToEndId></Refs>\n            <RltdPties><{party}><Nm>{}</Nm></{party}>",
                    escape(&e.bank_ref),
                    escape(&e.counterparty_name),
                );
                if !e.counterparty_account.is_empty() {
                    let _ = write!(
                        out,
                        "<{party_acct}><Id><Othr><Id>{}</Id></Othr></Id></{party_acct}>",
                        escape(&e.counterparty_account)
                    );
                }
                let _ = write!(
                    out,
                    "</RltdPties>\n            <RmtInf><Ustrd>{}</Ustrd></RmtInf>\n          </TxDtls>\n        </NtryDtls>\n      </Ntry>\n",
                    escape(&e.remittance)
                );
            }
            out.push_str("    </Stmt>\n");
        }
        out.push_str("  </BkToCstmrStmt>\n</Document>\n");
        out
    }
}

/// One payment in a pain.002 report.
#[derive(Debug, Clone)]
pub struct PainTx {
    pub end_to_end_id: String,
    pub amount: Money,
    pub creditor_name: String,
    /// The worker's card number.
    pub creditor_account: String,
    /// Rejection (ISO reason code, text); `None` for settled.
    pub rejection: Option<(String, String)>,
}

/// pain.002.001.10: the bank's per-payment status report for one payroll batch.
pub struct Pain002Writer<'a> {
    pub message_id: &'a str,
    /// The dedicated account the batch was drawn on.
    pub debit_account: &'a str,
    pub original_message_id: &'a str,
    pub created: NaiveDate,
}

impl Pain002Writer<'_> {
    pub fn write(&self, results: &[PainTx]) -> String {
        let mut out = String::new();
        let group = if results.iter().all(|r| r.rejection.is_none()) {
            "ACCP"
        } else {
            "PART"
        };
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n  <CstmrPmtStsRpt>\n    <GrpHdr><MsgId>{}</MsgId><CreDtTm>{}T18:00:00+08:00</CreDtTm></GrpHdr>\n    <OrgnlGrpInfAndSts><OrgnlMsgId>{}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><OrgnlNbOfTxs>{}</OrgnlNbOfTxs><GrpSts>{group}</GrpSts></OrgnlGrpInfAndSts>\n    <OrgnlPmtInfAndSts>\n      <OrgnlPmtInfId>{}</OrgnlPmtInfId>\n",
            escape(self.message_id),
            self.created,
            escape(self.original_message_id),
            results.len(),
            escape(self.original_message_id),
        );
        for PainTx {
            end_to_end_id: e2e,
            amount,
            creditor_name,
            creditor_account,
            rejection,
        } in results
        {
            let status = if rejection.is_some() { "RJCT" } else { "ACSC" };
            let _ = write!(
                out,
                "      <TxInfAndSts>\n        <OrgnlEndToEndId>{}</OrgnlEndToEndId>\n        <TxSts>{status}</TxSts>\n",
                escape(e2e)
            );
            if let Some((code, text)) = rejection {
                let _ = writeln!(
                    out,
                    "        <StsRsnInf><Rsn><Cd>{code}</Cd></Rsn><AddtlInf>{}</AddtlInf></StsRsnInf>",
                    escape(text)
                );
            }
            let _ = write!(
                out,
                "        <OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{amount}</InstdAmt></Amt><ReqdExctnDt><Dt>{}</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>{}</Id></Othr></Id></DbtrAcct><Cdtr><Pty><Nm>{}</Nm></Pty></Cdtr><CdtrAcct><Id><Othr><Id>{}</Id></Othr></Id></CdtrAcct></OrgnlTxRef>\n      </TxInfAndSts>\n",
                self.created,
                escape(self.debit_account),
                escape(creditor_name),
                escape(creditor_account),
            );
        }
        out.push_str("    </OrgnlPmtInfAndSts>\n  </CstmrPmtStsRpt>\n</Document>\n");
        out
    }
}
