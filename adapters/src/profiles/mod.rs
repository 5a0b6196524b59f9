//! Chinese bank profiles (DOMAIN.md §3, layouts in `docs/profiles.md`).
//!
//! One bank = one folder shaped like every other (Hyperswitch's connector template):
//! `profiles/<bank>/mod.rs` holds the wire types, their conversion into canonical records,
//! `sniff` and `parse`; golden fixtures live in `adapters/fixtures/profiles/<bank>/`.
//! Adding a bank is adding that folder, a [`Format`] variant and one line in [`PROFILES`].

use schemas::RecordSet;

use crate::{Format, ParseContext, ParseError};

pub mod bocom;
pub mod cib;
pub mod cmb;
pub mod common;
pub mod core_payroll;
pub mod icbc;
pub mod json_fields;
pub mod platform;
pub mod reasons;
pub mod stream;
pub mod xml;

/// One registered bank profile.
pub struct Profile {
    pub format: Format,
    /// The folder name under `adapters/src/profiles/` and `adapters/fixtures/profiles/`.
    pub name: &'static str,
    /// Whether the bytes carry this profile's signature.
    pub sniff: fn(&[u8]) -> bool,
    pub parse: fn(&[u8], &ParseContext) -> Result<RecordSet, ParseError>,
}

/// The registry. Sniffing tries the profiles in this order, most specific signature first.
pub const PROFILES: &[Profile] = &[
    Profile {
        format: Format::PlatformJson,
        name: "platform",
        sniff: platform::sniff,
        parse: platform::parse,
    },
    Profile {
        format: Format::Icbc,
        name: "icbc",
        sniff: icbc::sniff,
        parse: icbc::parse,
    },
    Profile {
        format: Format::CorePayroll,
        name: "core_payroll",
        sniff: core_payroll::sniff,
        parse: core_payroll::parse,
    },
    Profile {
        format: Format::Bocom,
        name: "bocom",
        sniff: bocom::sniff,
        parse: bocom::parse,
    },
    Profile {
        format: Format::Cmb,
        name: "cmb",
        sniff: cmb::sniff,
        parse: cmb::parse,
    },
    Profile {
        format: Format::Cib,
        name: "cib",
        sniff: cib::sniff,
        parse: cib::parse,
    },
];

/// The registered profile for `format`, if it is a bank profile.
pub fn profile(format: Format) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.format == format)
}

/// Parses `bytes` as the bank profile `format`.
pub fn parse(format: Format, bytes: &[u8], ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    match profile(format) {
        Some(p) => (p.parse)(bytes, ctx),
        None => Err(ParseError::new(
            format.as_str(),
            schemas::Position::offset(0),
            schemas::msg!(
                "{format} 不是中国的银行格式",
                "{format} is not a Chinese bank profile"
            ),
        )),
    }
}

/// `Some(format)` when `bytes` look like one of the Chinese bank profiles.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    PROFILES.iter().find(|p| (p.sniff)(bytes)).map(|p| p.format)
}
