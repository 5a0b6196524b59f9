//! The three record kinds inside a platform push's `data` array, and their conversion.

use schemas::{
    msg, CardNumber, Cnaps, Direction, Entry, IdNumber, PaymentResult, PaymentStatus, Period,
    Position, RecordSet, WageAccount,
};

use super::FORMAT;
use crate::profiles::common::{self, Row};
use crate::profiles::json_fields::Obj;
use crate::profiles::reasons;
use crate::ParseError;

const ACCOUNT_FIELDS: &[&str] = &[
    "accountNo",
    "accountName",
    "projectCode",
    "bankCode",
    "cnaps",
    "openDate",
    "currency",
    "payerAccounts",
];
const STATEMENT_FIELDS: &[&str] = &[
    "accountNo",
    "billNo",
    "billType",
    "amount",
    "balance",
    "tradeTime",
    "oppAccountNo",
    "oppAccountName",
    "oppBankName",
    "excerpt",
    "currency",
    "batchNo",
];
const WAGE_FIELDS: &[&str] = &[
    "batchNo",
    "seqNo",
    "accountNo",
    "idCardNo",
    "workerName",
    "grossAmount",
    "netAmount",
    "month",
    "payDate",
    "bankCardNo",
    "status",
    "failCode",
    "failReason",
];

/// Platform wage-result status → domain status; unknown is pending, never paid.
pub fn wage_status(code: &str) -> Option<PaymentStatus> {
    match code {
        "0" => Some(PaymentStatus::Pending),   // 处理中
        "1" => Some(PaymentStatus::Paid),      // 成功
        "2" => Some(PaymentStatus::Failed),    // 失败
        "3" => Some(PaymentStatus::Cancelled), // 已撤销
        _ => None,
    }
}

fn pos(obj: &Obj<'_>, key: &str) -> Position {
    Position::default().with_field(obj.pointer_to(key))
}

/// Unknown fields are kept out but reported: a platform adding a field must not stop the
/// flow, and a misspelt field must not pass unseen.
fn warn_unknown(obj: &Obj<'_>, allowed: &[&str], out: &mut RecordSet) {
    for k in obj.map.keys() {
        if !allowed.contains(&k.as_str()) {
            out.warn(
                pos(obj, k),
                msg!("已忽略无法识别的字段 '{k}'", "unknown field '{k}' ignored"),
            );
        }
    }
}

pub fn account(obj: &Obj<'_>, out: &mut RecordSet) -> Result<WageAccount, ParseError> {
    warn_unknown(obj, ACCOUNT_FIELDS, out);
    let cnaps_text = obj.req_str("cnaps")?;
    let cnaps = Cnaps::parse(&cnaps_text).map_err(|e| obj.err("cnaps", e.msg()))?;
    let bank_code = cnaps.bank_code().to_string();
    if let Some(declared) = obj.opt_str("bankCode")? {
        if declared != bank_code {
            return Err(obj.err(
                "bankCode",
                msg!(
                    "银行代码 bankCode '{declared}' 与联行号所属银行 '{bank_code}' 不符",
                    "bankCode '{declared}' does not match the CNAPS code's bank '{bank_code}'"
                ),
            ));
        }
    }
    let opened_on = common::date(FORMAT, &obj.req_str("openDate")?, pos(obj, "openDate"))?;
    let mut payer_accounts = Vec::new();
    if let Some(list) = obj.opt_array("payerAccounts")? {
        for (i, v) in list.iter().enumerate() {
            match v.as_str().map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => payer_accounts.push(s.to_string()),
                None => {
                    return Err(obj.err(
                        &format!("payerAccounts/{i}"),
                        msg!(
                            "应为非空的账号字符串",
                            "expected a non-empty account number string"
                        ),
                    ))
                }
            }
        }
    }
    Ok(WageAccount {
        account_no: obj.req_str("accountNo")?,
        account_name: obj.req_str("accountName")?,
        project_code: obj.req_str("projectCode")?,
        bank_code,
        cnaps,
        opened_on,
        currency: common::currency(&obj.opt_str("currency")?.unwrap_or_default()),
        payer_accounts,
    })
}

pub fn statement_line(
    obj: &Obj<'_>,
    out: &mut RecordSet,
) -> Result<(String, String, Row), ParseError> {
    warn_unknown(obj, STATEMENT_FIELDS, out);
    let account = obj.req_str("accountNo")?;
    let bill_type = obj.req_str("billType")?;
    let direction = match bill_type.as_str() {
        "1" => Direction::Credit,
        "2" => Direction::Debit,
        other => {
            return Err(obj.err(
                "billType",
                msg!(
                    "收支类型 billType '{other}' 既不是 1（收入）也不是 2（支出）",
                    "billType '{other}' is neither 1 (income) nor 2 (expense)"
                ),
            ))
        }
    };
    let amount = obj.req_positive_money("amount")?;
    let booking_date =
        common::date_or_datetime(FORMAT, &obj.req_str("tradeTime")?, pos(obj, "tradeTime"))?;
    let entry = Entry {
        amount,
        direction,
        booking_date,
        value_date: None,
        bank_ref: Some(obj.req_str("billNo")?),
        end_to_end_id: None,
        counterparty_name: obj.opt_str("oppAccountName")?,
        counterparty_account: obj.opt_str("oppAccountNo")?,
        remittance: obj.opt_str("excerpt")?,
        reversal: false,
        transaction_code: None,
        batch_ref: obj.opt_str("batchNo")?,
        balance_after: obj.opt_money("balance")?,
    };
    let currency = common::currency(&obj.opt_str("currency")?.unwrap_or_default());
    Ok((
        account,
        currency,
        Row {
            entry,
            position: Position::default().with_field(obj.pointer.clone()),
        },
    ))
}

pub fn wage_result(obj: &Obj<'_>, out: &mut RecordSet) -> Result<PaymentResult, ParseError> {
    warn_unknown(obj, WAGE_FIELDS, out);
    let raw = obj.req_str("status")?;
    let status = wage_status(&raw).unwrap_or_else(|| {
        out.warn(
            pos(obj, "status"),
            msg!(
                "无法识别的状态 '{raw}'：按处理中对待",
                "unknown status '{raw}': treated as pending"
            ),
        );
        PaymentStatus::Pending
    });
    let gross = obj.req_money("grossAmount")?;
    let net = obj.req_positive_money("netAmount")?;
    if net > gross {
        out.warn(
            pos(obj, "netAmount"),
            msg!(
                "实发工资 {net} 高于应发工资 {gross}",
                "net pay {net} is more than gross pay {gross}"
            ),
        );
    }
    let month_text = obj.req_str("month")?;
    let period: Period = month_text
        .parse()
        .map_err(|e: schemas::period::PeriodError| obj.err("month", e.msg()))?;
    let pay_date = match obj.opt_str("payDate")? {
        Some(d) => Some(common::date(FORMAT, &d, pos(obj, "payDate"))?),
        None => None,
    };
    let id_number = obj.opt_str("idCardNo")?.map(IdNumber::new);
    if let Some(id) = &id_number {
        if !id.checksum_ok() {
            out.warn(
                pos(obj, "idCardNo"),
                msg!(
                    "身份证号 {} 校验位不符",
                    "ID number {} fails its check character",
                    id.masked()
                ),
            );
        }
    }
    let code = obj.opt_str("failCode")?;
    let text = obj.opt_str("failReason")?;
    let reason = (status == PaymentStatus::Failed)
        .then(|| reasons::normalise(code.as_deref(), text.as_deref()));
    Ok(PaymentResult {
        batch_id: Some(obj.req_str("batchNo")?),
        end_to_end_id: obj.opt_str("seqNo")?,
        debit_account: obj.opt_str("accountNo")?,
        worker_name: Some(obj.req_str("workerName")?),
        id_number,
        card_number: Some(CardNumber::new(obj.req_str("bankCardNo")?)),
        amount: Some(net),
        status,
        reason,
        reason_code: code,
        reason_text: text,
        raw_status: Some(raw),
        pay_date,
        period: Some(period),
    })
}
