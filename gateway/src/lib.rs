//! wagegate's shell around the pure core: configuration, registry import, the ingest
//! pipeline, the CLI commands and the gateway daemon. The store lives in the `store` crate.

pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod inbox;
pub mod pipeline;
pub mod pki;
pub mod registry;
pub mod server;
pub mod simulate;
pub mod webhook;
