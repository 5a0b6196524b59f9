//! Mounts the operator console (`gateway/console`) under `/console`: tells it who a
//! certificate belongs to and which tokens are operators', with the same rules as the API
//! (a presented certificate alone decides; tokens are compared by their SHA-256).

use std::sync::Arc;

use axum::Router;
use console::{BoxFuture, CertificateCaller, ConsoleState, Lang, OperatorDirectory, PartnerInfo};
use ingest::config::PartnerRole;

use super::auth::{token_sha256, PeerIdentity};
use super::AppState;

struct Directory {
    state: Arc<AppState>,
}

impl OperatorDirectory for Directory {
    fn certificate(&self, extensions: &axum::http::Extensions) -> CertificateCaller {
        let Some(fingerprint) = extensions
            .get::<PeerIdentity>()
            .and_then(|p| p.fingerprint.as_deref())
        else {
            return CertificateCaller::None;
        };
        match self.state.auth.partner_for(fingerprint) {
            Some(c) if c.role == PartnerRole::Operator => CertificateCaller::Operator(c.id),
            Some(c) => CertificateCaller::Partner(c.id),
            None => CertificateCaller::Unknown,
        }
    }

    fn token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let digest = token_sha256(token);
            let configured = self.state.settings.operators.iter().find(|o| {
                ingest::config::normalise_fingerprint(&o.token_sha256).as_deref()
                    == Some(digest.as_str())
            });
            let name = match configured {
                // A scraper's token (`role = "metrics"`) reads /metrics only: no console.
                Some(o) if o.role != PartnerRole::Operator => None,
                Some(o) => Some(o.name.clone()),
                None => self
                    .state
                    .store
                    .find_operator_token(&digest)
                    .await
                    .ok()
                    .flatten(),
            };
            name.map(|n| format!("operator:{n}"))
        })
    }
}

/// The console's routes, ready to merge into the server's router.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let partners = state
        .settings
        .partners
        .iter()
        .map(|p| PartnerInfo {
            id: p.id.clone(),
            name: p.name.clone(),
            role: match p.role {
                PartnerRole::Bank => "bank",
                PartnerRole::Insurer => "insurer",
                PartnerRole::Operator => "operator",
                PartnerRole::Metrics => "metrics",
            }
            .to_string(),
            bank_codes: p.bank_codes.clone(),
        })
        .collect();
    let lang = state
        .settings
        .ui
        .lang
        .as_deref()
        .and_then(|l| l.parse().ok())
        .unwrap_or(Lang::Zh);
    let mut console = ConsoleState::new(
        state.store.clone(),
        Arc::new(Directory {
            state: state.clone(),
        }),
        partners,
        lang,
    );
    // The configuration was validated at start-up: a key that is set is long enough.
    console.evidence_key = state
        .settings
        .evidence
        .signing_key
        .as_deref()
        .and_then(|k| console::evidence::SigningKey::new(k).ok());
    console.personal_data_viewers = state.settings.ui.personal_data_viewers.clone();
    console::router(Arc::new(console))
}
