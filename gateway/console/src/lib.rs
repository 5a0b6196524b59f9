//! wagegate's operator console: server-rendered pages (Simplified Chinese by default, an
//! English switch), behind operator authentication, mounted by the server under `/console`.
//! [`i18n`] holds the labels and formats the CLI and the exports share. See docs/console.md.

pub mod i18n;

pub use i18n::Lang;
