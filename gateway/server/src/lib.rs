//! wagegate's gateway daemon: the mutual-TLS HTTPS app (`http`: router, TLS listener, auth,
//! limits, partner and operator APIs), the webhook sender, the inbox poller, the development
//! PKI, and the `daemon` that runs them with the ingest workers and the reconcile scheduling
//! of the `ingest` crate.

pub mod daemon;
pub mod http;
pub mod inbox;
pub mod pki;
pub mod webhook;
