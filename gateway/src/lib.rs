//! wagegate's shell around the pure core: configuration, registry import, the ingest
//! pipeline, the CLI commands and the gateway daemon. The store lives in the `store` crate.

pub mod commands;
pub mod config;
pub mod demo;
pub mod pipeline;
pub mod pki;
pub mod registry;
pub mod simulate;
pub mod server;
pub mod webhook;
pub mod inbox;
pub mod daemon;
