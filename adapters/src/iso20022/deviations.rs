//! Field deviations real banks send in camt messages that are read anyway: each breaks a
//! rule of the schema, the data it carries is still unambiguous. Every one is counted per
//! file and reported once, as a warning that names the rule, the count and the first place
//! (so a file of 10,000 entries with the same habit gets one line, not 10,000).

use schemas::{msg, Level, Msg, Position};

use super::Diags;

/// The deviations this reader accepts. A closed list: anything else a bank does wrong is
/// refused with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `<Bal>` without `<CdtDbtInd>`: the sign is taken from the amount (none = credit).
    BalanceWithoutIndicator,
    /// `<Bal><Tp><Cd>` without the `<CdOrPrtry>` wrapper.
    BalanceTypeWithoutWrapper,
    /// `<Bal><Tp><CdOrPrtry><Prtry>CLBD` — an ISO balance code given as proprietary.
    BalanceTypeAsProprietary,
    /// `<Bal><Dt>2024-05-31</Dt>` without the inner `<Dt>`/`<DtTm>`.
    BalanceDateWithoutChoice,
    /// `<BookgDt>2024-05-31</BookgDt>` without the inner `<Dt>`/`<DtTm>`.
    BookingDateWithoutChoice,
    /// `<ValDt>2024-05-31</ValDt>` without the inner `<Dt>`/`<DtTm>`.
    ValueDateWithoutChoice,
    /// `<Sts>BOOK</Sts>` in a version from .08 on, which wants `<Sts><Cd>BOOK</Cd></Sts>`.
    StatusWithoutCode,
    /// `<Sts><Cd>BOOK</Cd></Sts>` in a version before .08, which wants `<Sts>BOOK</Sts>`.
    StatusWithCode,
    /// An entry without `<Sts>`: read as booked.
    StatusMissing,
    /// A camt.053 (end-of-day statement) entry whose status is not BOOK.
    StatementEntryNotBooked,
}

const RULES: [Rule; 10] = [
    Rule::BalanceWithoutIndicator,
    Rule::BalanceTypeWithoutWrapper,
    Rule::BalanceTypeAsProprietary,
    Rule::BalanceDateWithoutChoice,
    Rule::BookingDateWithoutChoice,
    Rule::ValueDateWithoutChoice,
    Rule::StatusWithoutCode,
    Rule::StatusWithCode,
    Rule::StatusMissing,
    Rule::StatementEntryNotBooked,
];

impl Rule {
    /// What the bank did, which rule that breaks, and what the reader did instead.
    fn describe(self, message: &str) -> Msg {
        match self {
            Rule::BalanceWithoutIndicator => msg!(
                "余额缺少借贷标志 <CdtDbtInd>（{message} 的必备元素）：已按金额的正负号确定方向\
                 （无符号视为贷方）",
                "balance without <CdtDbtInd> (mandatory in {message}): its sign was read from \
                 the amount (no sign = credit)"
            ),
            Rule::BalanceTypeWithoutWrapper => msg!(
                "余额类型写成 <Tp><Cd>，缺少 {message} 要求的 <CdOrPrtry> 外层元素；已按其代码读取",
                "balance type as <Tp><Cd> without the <CdOrPrtry> wrapper {message} requires; \
                 read as the code"
            ),
            Rule::BalanceTypeAsProprietary => msg!(
                "ISO 余额类型代码（OPBD、CLBD 等）在 {message} 中写在自定义的 <Prtry> 中，而不是 \
                 <Cd>；已按 ISO 代码读取",
                "ISO balance code (OPBD, CLBD ...) given as proprietary <Prtry> instead of <Cd> \
                 in {message}; read as the ISO code"
            ),
            Rule::BalanceDateWithoutChoice => msg!(
                "余额的 <Dt> 直接写了日期，而 {message} 要求写成 <Dt><Dt> 或 <Dt><DtTm>；已按该日期读取",
                "balance <Dt> holds the date itself instead of <Dt><Dt> or <Dt><DtTm> as \
                 {message} requires; read as the date"
            ),
            Rule::BookingDateWithoutChoice => msg!(
                "<BookgDt> 直接写了日期，而 {message} 要求写成 <BookgDt><Dt> 或 \
                 <BookgDt><DtTm>；已按该日期读取",
                "<BookgDt> holds the date itself instead of <BookgDt><Dt> or <BookgDt><DtTm> as \
                 {message} requires; read as the date"
            ),
            Rule::ValueDateWithoutChoice => msg!(
                "<ValDt> 直接写了日期，而 {message} 要求写成 <ValDt><Dt> 或 <ValDt><DtTm>；\
                 已按该日期读取",
                "<ValDt> holds the date itself instead of <ValDt><Dt> or <ValDt><DtTm> as \
                 {message} requires; read as the date"
            ),
            Rule::StatusWithoutCode => msg!(
                "明细状态写成 <Sts>BOOK</Sts>（.08 版本之前的写法），而 {message} 要求 \
                 <Sts><Cd>BOOK</Cd></Sts>；已按其代码读取",
                "entry status as <Sts>BOOK</Sts>, the form before version .08, while {message} \
                 requires <Sts><Cd>BOOK</Cd></Sts>; read as the code"
            ),
            Rule::StatusWithCode => msg!(
                "明细状态写成 <Sts><Cd>BOOK</Cd></Sts>（.08 版本起的写法），而 {message} 要求 \
                 <Sts>BOOK</Sts>；已按其代码读取",
                "entry status as <Sts><Cd>BOOK</Cd></Sts>, the form from version .08 on, while \
                 {message} requires <Sts>BOOK</Sts>; read as the code"
            ),
            Rule::StatusMissing => msg!(
                "明细缺少状态 <Sts>（{message} 的必备元素）；已按已入账（BOOK）读取",
                "entry without <Sts> (mandatory in {message}); read as booked"
            ),
            Rule::StatementEntryNotBooked => msg!(
                "日终对账单（{message}）中出现状态不是 BOOK 的明细（待入账或仅供参考），日终对账单\
                 应只含已入账明细；已按原样保留",
                "entry whose status is not BOOK (pending or information only) in an end-of-day \
                 statement ({message}), which should hold booked entries only; kept as sent"
            ),
        }
    }
}

#[derive(Default)]
pub(crate) struct Deviations {
    /// Count and first position per rule, indexed like [`RULES`].
    seen: [(u64, Option<Position>); RULES.len()],
}

impl Deviations {
    /// Counts one deviation; `at` computes the position, only for the first one (a
    /// position costs a scan from the start of the file).
    pub(crate) fn note(&mut self, rule: Rule, at: impl FnOnce() -> Position) {
        let i = RULES.iter().position(|r| *r == rule).unwrap_or(0);
        let slot = &mut self.seen[i];
        if slot.0 == 0 {
            slot.1 = Some(at());
        }
        slot.0 += 1;
    }

    /// One warning per rule broken; `message` names the message and its version.
    pub(crate) fn report(self, message: &str, diags: &mut Diags) {
        for (rule, (count, first)) in RULES.iter().zip(self.seen) {
            if count == 0 {
                continue;
            }
            let times = if count == 1 {
                Msg::default()
            } else {
                msg!(
                    "（共 {count} 次；此处为第一次）",
                    " ({count} times; the first is at this position)"
                )
            };
            let rule = rule.describe(message);
            diags.push(
                Level::Warning,
                first.unwrap_or_default(),
                Msg::new(rule.zh + &times.zh, rule.en + &times.en),
            );
        }
    }
}
