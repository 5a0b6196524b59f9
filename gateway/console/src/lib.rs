//! wagegate's operator console: server-rendered pages (Simplified Chinese by default, an
//! English switch), behind operator authentication, mounted by the server under `/console`.
//! [`i18n`] holds the labels and formats the CLI and the exports share; [`export`] the CSV
//! and XLSX of findings. See docs/console.md.

pub mod data;
pub mod evidence;
pub mod export;
pub mod i18n;
pub mod privacy;
pub mod reconciliation;
pub mod session;
mod text;
pub mod web;

pub use data::PartnerInfo;
pub use i18n::Lang;
pub use session::{
    BoxFuture, CertificateCaller, Keys, Operator, OperatorDirectory, TokenCheck, TokenGrant, Via,
};
pub use web::{router, ConsoleState};
