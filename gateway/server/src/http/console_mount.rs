//! Mounts the operator console (`gateway/console`) under `/console`: tells it who a
//! certificate belongs to and which tokens are operators', with the same rules as the API
//! (a presented certificate alone decides; tokens are compared by their SHA-256).

use std::sync::Arc;

use axum::Router;
use console::{
    BoxFuture, CertificateCaller, ConsoleState, Lang, OperatorDirectory, PartnerInfo, TokenCheck,
    TokenGrant,
};
use ingest::config::{PartnerRole, PartnerSettings};

use super::auth::{token_sha256, PeerIdentity};
use super::AppState;

struct Directory {
    state: Arc<AppState>,
    /// The partners as last converted for the console, with the pipeline's list they came
    /// from: converted again only when a reload replaced that list.
    partners: std::sync::Mutex<PartnerCache>,
}

type PartnerCache = (Arc<Vec<PartnerSettings>>, Arc<Vec<PartnerInfo>>);

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

    fn token<'a>(
        &'a self,
        extensions: &'a axum::http::Extensions,
        token: &'a str,
    ) -> BoxFuture<'a, TokenCheck> {
        Box::pin(async move {
            let remote = extensions
                .get::<PeerIdentity>()
                .and_then(|p| p.remote)
                .map(|a| a.ip());
            if let Err(retry_after_s) = self.state.auth_failures.check(remote, token) {
                metrics::counter!("wagegate_auth_throttled_total").increment(1);
                return TokenCheck::Throttled { retry_after_s };
            }
            let reference = token_sha256(token);
            match self.operator_of(&reference).await {
                Some(name) => TokenCheck::Granted(TokenGrant { name, reference }),
                None => {
                    self.state.auth_failures.record(remote, token);
                    metrics::counter!("wagegate_auth_failures_total", "method" => "console_token")
                        .increment(1);
                    TokenCheck::Refused
                }
            }
        })
    }

    fn still_valid<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(self.operator_of(reference))
    }

    fn partners(&self) -> Arc<Vec<PartnerInfo>> {
        let now = self.state.pipeline.partners();
        let mut cache = match self.partners.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !Arc::ptr_eq(&cache.0, &now) {
            *cache = (
                now.clone(),
                Arc::new(now.iter().map(partner_info).collect()),
            );
        }
        cache.1.clone()
    }
}

impl Directory {
    /// The operator a token digest belongs to now, with the API's rules: the configured
    /// `[[operators]]` (as reloaded by SIGHUP) first, then the stored tokens (`wagegate
    /// token create`, gone once revoked).
    async fn operator_of(&self, digest: &str) -> Option<String> {
        let name = match self.state.auth.configured_operator(digest) {
            // A scraper's token (`role = "metrics"`) reads /metrics only: no console.
            Some((_, role)) if role != PartnerRole::Operator => None,
            Some((name, _)) => Some(name),
            None => self
                .state
                .store
                .find_operator_token(digest)
                .await
                .ok()
                .flatten(),
        };
        name.map(|n| format!("operator:{n}"))
    }
}

fn partner_info(p: &PartnerSettings) -> PartnerInfo {
    PartnerInfo {
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
    }
}

/// The console's routes, ready to merge into the server's router.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
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
            partners: std::sync::Mutex::new((Arc::default(), Arc::default())),
        }),
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
    console.reconciler = state.settings.reconciler.clone();
    console.calendar = state.pipeline.calendar().clone();
    console::router(Arc::new(console))
}
