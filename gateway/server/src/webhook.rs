//! The webhook sender: delivers finding events from the store's outbox (written in the same
//! transaction as the finding change) to the platform. Each POST carries the event JSON,
//! `X-Wagegate-Signature: sha256=<hex HMAC-SHA256 of the body>`, the event id as
//! `X-Wagegate-Idempotency-Key` and its type as `X-Wagegate-Event`. A failed attempt is
//! retried after an exponential backoff with jitter (backon's schedule, persisted in the
//! outbox so that retries survive a restart) and dead-lettered after `max_attempts`.
//!
//! Several senders (concurrent tasks here, other processes on the same PostgreSQL) share the
//! outbox through claims with a lease (`Store::outbox_claim`): an event is sent by one sender
//! at a time, and only after the previous event of its finding is delivered or dead. A sender
//! killed mid-request leaves its claim to run out; the event is then sent again with the same
//! idempotency key, which is the only way a receiver sees it twice.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::Utc;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use ingest::config::WebhookSettings;

pub const SIGNATURE_HEADER: &str = "X-Wagegate-Signature";
pub const IDEMPOTENCY_HEADER: &str = "X-Wagegate-Idempotency-Key";
pub const EVENT_HEADER: &str = "X-Wagegate-Event";

/// Events fetched per pass and delivered concurrently.
const BATCH: u32 = 100;
const CONCURRENCY: usize = 8;
/// How often the outbox is looked at when nothing wakes the sender.
const POLL: Duration = Duration::from_secs(1);
/// How long a claim on an event lasts beyond the request timeout: a process that dies while
/// sending leaves a claim that runs out, and another sender (or this one, restarted) sends
/// the event again with the same idempotency key.
const CLAIM_MARGIN: Duration = Duration::from_secs(10);
/// Longest error text kept in the outbox.
const MAX_ERROR_CHARS: usize = 500;

/// `sha256=<hex>` HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header in constant time (for receivers and tests).
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The delay before retry number `attempt` (1 = after the first failure): exponential from
/// `initial_backoff_ms`, capped at `max_backoff_ms`, with jitter.
pub fn retry_delay(settings: &WebhookSettings, attempt: u32) -> Duration {
    let initial = Duration::from_millis(settings.initial_backoff_ms.max(1));
    let max = Duration::from_millis(
        settings
            .max_backoff_ms
            .max(settings.initial_backoff_ms)
            .max(1),
    );
    let mut schedule = ExponentialBuilder::default()
        .with_min_delay(initial)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(attempt.max(1) as usize)
        .build();
    let mut delay = initial;
    for _ in 0..attempt.max(1) {
        match schedule.next() {
            Some(d) => delay = d,
            None => break,
        }
    }
    // backon's jitter adds up to one more delay; keep the configured cap a cap.
    delay.min(max)
}

/// Delivers outbox events to the configured URL.
/// Whether an event that has failed `attempts` times is given up: at `max_attempts`, or once
/// the nominal backoffs so far (without jitter) add up to `retry_for_ms`. Counting attempts
/// rather than reading the clock keeps the decision the same across restarts, and a redriven
/// event (attempts reset) gets a whole new retry period.
pub fn gives_up(settings: &WebhookSettings, attempts: u32) -> bool {
    if attempts >= settings.max_attempts {
        return true;
    }
    let initial = settings.initial_backoff_ms.max(1);
    let max = settings.max_backoff_ms.max(initial);
    let mut waited: u64 = 0;
    let mut delay = initial;
    for _ in 0..attempts {
        waited = waited.saturating_add(delay);
        if waited >= settings.retry_for_ms {
            return true;
        }
        delay = delay.saturating_mul(2).min(max);
    }
    false
}

pub struct WebhookSender {
    store: Arc<dyn store::Store>,
    settings: WebhookSettings,
    url: String,
    secret: Vec<u8>,
    client: reqwest::Client,
    /// This sender's name on its claims: unique per process.
    worker: String,
}

impl WebhookSender {
    /// `None` when webhooks are off (no url).
    pub fn new(
        store: Arc<dyn store::Store>,
        settings: &WebhookSettings,
    ) -> anyhow::Result<Option<WebhookSender>> {
        let Some(url) = settings.url.clone() else {
            return Ok(None);
        };
        let secret = settings
            .secret
            .clone()
            .context("webhooks.secret is required when webhooks.url is set")?
            .into_bytes();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms.max(1)))
            .user_agent(concat!("wagegate/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the webhook HTTP client")?;
        Ok(Some(WebhookSender {
            store,
            settings: settings.clone(),
            url,
            secret,
            client,
            worker: ingest::schedule::instance_name("webhook"),
        }))
    }

    /// One pass: claims due events (only the oldest pending one of each finding, so events of
    /// a finding go out in order even with concurrent senders here and in other processes)
    /// and delivers each once. Returns how many were attempted.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let now = Utc::now();
        // How far behind delivery is: the age of the oldest pending event (0 when none).
        let oldest = self
            .store
            .outbox_list(Some(store::OutboxStatus::Pending), 1)
            .await?;
        let age_s = oldest
            .first()
            .map(|e| (now - e.created_at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        metrics::gauge!("wagegate_webhook_outbox_oldest_pending_seconds").set(age_s);
        let lease = Duration::from_millis(self.settings.timeout_ms.max(1)) + CLAIM_MARGIN;
        let due = self
            .store
            .outbox_claim(&self.worker, BATCH, lease, now)
            .await?;
        let n = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(CONCURRENCY, |event| async move {
                // Every line about this delivery names the event and its finding.
                let span = tracing::info_span!("webhook", event_id = %event.id, finding_id = %event.finding_id);
                if let Err(e) = tracing::Instrument::instrument(self.deliver(&event), span).await {
                    tracing::error!(event_id = %event.id, error = %format!("{e:#}"), "cannot record a webhook attempt");
                }
            })
            .await;
        Ok(n)
    }

    async fn deliver(&self, event: &store::OutboxEvent) -> anyhow::Result<()> {
        let signature = sign(&self.secret, event.payload.as_bytes());
        let result = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, &event.id)
            .header(EVENT_HEADER, event.event_type.as_str())
            .body(event.payload.clone())
            .send()
            .await;
        let error = match result {
            Ok(response) if response.status().is_success() => {
                self.store.outbox_delivered(&event.id, Utc::now()).await?;
                metrics::counter!("wagegate_webhooks_total", "outcome" => "delivered").increment(1);
                tracing::info!(event_id = %event.id, finding_id = %event.finding_id, kind = %event.event_type.as_str(), "webhook delivered");
                return Ok(());
            }
            Ok(response) => format!("HTTP {}", response.status()),
            // Without the URL: it may carry credentials in its query.
            Err(e) => format!("{}", e.without_url()),
        };
        let attempts = u32::try_from(event.attempts.saturating_add(1)).unwrap_or(u32::MAX);
        let dead = gives_up(&self.settings, attempts);
        let delay = retry_delay(&self.settings, attempts);
        let next = Utc::now()
            + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::seconds(60));
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        self.store
            .outbox_failed(&event.id, &error, next, dead)
            .await?;
        if dead {
            metrics::counter!("wagegate_webhooks_total", "outcome" => "dead").increment(1);
            tracing::error!(event_id = %event.id, attempts, error = %error, "webhook dead-lettered");
        } else {
            metrics::counter!("wagegate_webhooks_total", "outcome" => "retry").increment(1);
            tracing::warn!(event_id = %event.id, attempts, retry_in_ms = delay.as_millis() as u64, error = %error, "webhook failed; will retry");
        }
        Ok(())
    }

    /// Delivers until `cancel`; woken early by `wakeup` (new findings).
    pub async fn run(self, wakeup: Arc<Notify>, cancel: CancellationToken) {
        loop {
            match self.deliver_due().await {
                // A delivered event may have unblocked the next one of its finding.
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "webhook pass failed"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = wakeup.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(initial: u64, max: u64) -> WebhookSettings {
        WebhookSettings {
            url: None,
            secret: None,
            max_attempts: 5,
            initial_backoff_ms: initial,
            max_backoff_ms: max,
            retry_for_ms: 86_400_000,
            timeout_ms: 1000,
        }
    }

    /// A receiver down for a day, on a simulated clock: with the shipped defaults an event is
    /// still being retried 23 hours in, attempts are never more than the cap apart, and it is
    /// given up only after 24 hours.
    #[test]
    fn default_schedule_rides_out_a_day_of_outage() {
        let defaults = ingest::config::Settings::load_with_env(None, Vec::new())
            .unwrap()
            .webhooks;
        let mut clock_ms: u64 = 0;
        let mut attempts = 0u32;
        loop {
            attempts += 1; // an attempt at `clock_ms` fails
            if gives_up(&defaults, attempts) {
                break;
            }
            let delay = retry_delay(&defaults, attempts);
            assert!(delay <= Duration::from_millis(defaults.max_backoff_ms));
            clock_ms += delay.as_millis() as u64;
            assert!(attempts < 100_000, "never gives up");
        }
        assert!(
            clock_ms >= 23 * 3_600_000,
            "gave up after {} h of outage",
            clock_ms / 3_600_000
        );
        assert!(clock_ms <= 26 * 3_600_000, "{clock_ms} ms");
        assert!(attempts < defaults.max_attempts, "{attempts}");
        // A short retry period is honoured.
        let short = WebhookSettings {
            retry_for_ms: 1000,
            ..settings(100, 400)
        };
        assert!(!gives_up(&short, 3)); // 100 + 200 + 400 = 700
        assert!(gives_up(&short, 4)); // + 400 = 1100
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify(b"Jefe", b"what do ya want for nothing?", &sig));
        assert!(!verify(b"Jefe", b"what do ya want for nothing!", &sig));
        assert!(!verify(b"other", b"what do ya want for nothing?", &sig));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let s = settings(100, 1000);
        for attempt in 1..10 {
            let d = retry_delay(&s, attempt);
            assert!(d >= Duration::from_millis(100), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(1000), "{attempt}: {d:?}");
        }
        // Late attempts sit at the cap (jitter cannot take them below the exponential floor).
        assert!(retry_delay(&s, 8) >= Duration::from_millis(800));
    }
}
