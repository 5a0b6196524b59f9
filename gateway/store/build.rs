//! Rebuilds the store when a migration is added or changed: `sqlx::migrate!` embeds the
//! migration files at compile time, and without this a new file is not seen until some
//! source file of the crate changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
