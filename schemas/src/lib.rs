//! wagegate's canonical records. Everything an adapter produces and everything the
//! reconciler consumes is one of these types. No I/O lives here.

pub mod bank;
pub mod conflict;
pub mod dates;
pub mod finding;
pub mod guarantee;
pub mod ids;
pub mod key;
pub mod lang;
pub mod money;
pub mod period;
pub mod province;
pub mod records;
pub mod registry;

pub use bank::{
    Balance, Direction, Entry, FailureReason, PaymentResult, PaymentStatus, PayrollBatch,
    Statement, StatementKind,
};
pub use conflict::DeliveryConflict;
pub use dates::{DateKind, DateWindow};
pub use finding::{
    Attribution, AttributionRule, Evidence, EvidenceKind, Finding, FindingCode, FindingEvent,
    FindingStatus, Severity, StoredFinding,
};
pub use guarantee::{GuaranteeAction, GuaranteeForm, GuaranteeLetter, GuaranteeStatus};
pub use ids::{CardNumber, Cnaps, CreditCode, IdError, IdNumber};
pub use key::{record_key, sha256_hex};
pub use lang::{
    io_error_text, render_error, render_error_with, Lang, LocalizedError, Msg, WithMsg,
};
pub use money::{Money, MoneyError};
pub use period::Period;
pub use province::{Province, UnknownProvince};
pub use records::{Diagnostic, Level, Position, RecordSet};
pub use registry::{
    ContractorCredit, GuaranteeRequirement, LaborCostObligation, ObligationAmount, Party,
    PaySheetLine, Project, ProjectStatus, RosterEntry, WageAccount,
};
