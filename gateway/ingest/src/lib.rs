//! wagegate's ingest: the configuration, the registry import, the one pipeline every file
//! goes through (stored raw, parsed, authorised against its sender, reconciled), the
//! backfill of files from disk and the daemon's ingest and reconcile scheduling. Below it
//! the `store`; above it the `server` and the `sim`ulator; the `wagegate` binary wires them.

use std::sync::Arc;

use schemas::WithMsg;
use store::StoreOptions;

use crate::config::Settings;
use crate::pipeline::Pipeline;

pub mod backfill;
pub mod claims;
pub mod config;
pub mod group;
mod lanes;
pub mod pipeline;
pub mod registry;
pub mod replay;
pub mod schedule;
pub mod skip;
pub mod stream;

/// Opens the configured store and builds the pipeline.
pub async fn open(settings: Settings) -> anyhow::Result<Pipeline> {
    let options = StoreOptions {
        max_connections: settings.database.max_connections,
        sqlite_synchronous: settings.database.sqlite_synchronous,
        acquire_timeout_ms: settings.database.acquire_timeout_ms,
        sqlite_writer_cache_mib: settings.database.sqlite_writer_cache_mib,
        sqlite_mmap_mib: settings.database.sqlite_mmap_mib,
        ..StoreOptions::default()
    };
    let store = store::open_with(&settings.database.url, &options)
        .await
        .with_msg(|| {
            let db = store::mask_url(&settings.database.url);
            schemas::msg!("无法打开数据库 {db}", "opening the database {db}")
        })?;
    Ok(Pipeline::new(store, Arc::new(settings)))
}
