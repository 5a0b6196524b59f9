//! Field deviations real banks send in camt messages that are read anyway: each breaks a
//! rule of the schema, the data it carries is still unambiguous. Every one is counted per
//! file and reported once, as a warning that names the rule, the count and the first place
//! (so a file of 10,000 entries with the same habit gets one line, not 10,000).

use schemas::{Level, Position};

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
    fn describe(self, message: &str) -> String {
        match self {
            Rule::BalanceWithoutIndicator => format!(
                "balance without <CdtDbtInd> (mandatory in {message}): its sign was read from \
                 the amount (no sign = credit)"
            ),
            Rule::BalanceTypeWithoutWrapper => format!(
                "balance type as <Tp><Cd> without the <CdOrPrtry> wrapper {message} requires; \
                 read as the code"
            ),
            Rule::BalanceTypeAsProprietary => format!(
                "ISO balance code (OPBD, CLBD ...) given as proprietary <Prtry> instead of <Cd> \
                 in {message}; read as the ISO code"
            ),
            Rule::BalanceDateWithoutChoice => format!(
                "balance <Dt> holds the date itself instead of <Dt><Dt> or <Dt><DtTm> as \
                 {message} requires; read as the date"
            ),
            Rule::BookingDateWithoutChoice => format!(
                "<BookgDt> holds the date itself instead of <BookgDt><Dt> or <BookgDt><DtTm> as \
                 {message} requires; read as the date"
            ),
            Rule::ValueDateWithoutChoice => format!(
                "<ValDt> holds the date itself instead of <ValDt><Dt> or <ValDt><DtTm> as \
                 {message} requires; read as the date"
            ),
            Rule::StatusWithoutCode => format!(
                "entry status as <Sts>BOOK</Sts>, the form before version .08, while {message} \
                 requires <Sts><Cd>BOOK</Cd></Sts>; read as the code"
            ),
            Rule::StatusWithCode => format!(
                "entry status as <Sts><Cd>BOOK</Cd></Sts>, the form from version .08 on, while \
                 {message} requires <Sts>BOOK</Sts>; read as the code"
            ),
            Rule::StatusMissing => {
                format!("entry without <Sts> (mandatory in {message}); read as booked")
            }
            Rule::StatementEntryNotBooked => format!(
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
                String::new()
            } else {
                format!(" ({count} times; the first is at this position)")
            };
            diags.push(
                Level::Warning,
                first.unwrap_or_default(),
                format!("{}{times}", rule.describe(message)),
            );
        }
    }
}
