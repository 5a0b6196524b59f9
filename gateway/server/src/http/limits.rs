//! Per-caller rate limiting (a token bucket per partner) and the request timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

/// How many distinct callers the limiter remembers before it forgets idle ones; callers are
/// authenticated partners and operators, so this bounds memory, not legitimate traffic.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A token bucket per caller: `rate_per_second` tokens refill each second up to `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate_per_second: f64::from(rate_per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), ApiError> {
        // A poisoned lock only means another request panicked mid-update; the map is still
        // usable, so keep serving rather than failing every request.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let full = self.burst;
            let rate = self.rate_per_second;
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < full);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate_per_second).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_s = (1.0 - bucket.tokens) / self.rate_per_second;
            metrics::counter!("wagegate_rate_limited_total").increment(1);
            Err(ApiError::RateLimited {
                retry_after_s: wait_s.ceil().max(1.0) as u64,
            })
        }
    }
}

/// Answers 408 (JSON) when a request — reading its body included — takes longer than
/// `server.request_timeout_ms`.
pub async fn request_timeout(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let timeout_ms = state.settings.server.request_timeout_ms;
    match tokio::time::timeout(Duration::from_millis(timeout_ms), next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout { timeout_ms }.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let limiter = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("bank", t0).is_ok());
        }
        match limiter.check_at("bank", t0) {
            Err(ApiError::RateLimited { retry_after_s }) => assert_eq!(retry_after_s, 1),
            other => panic!("expected rate limited, got {other:?}"),
        }
        // Another partner is unaffected.
        assert!(limiter.check_at("insurer", t0).is_ok());
        // 100 ms later one token has come back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert!(limiter.check_at("bank", t1).is_ok());
        assert!(limiter.check_at("bank", t1).is_err());
    }
}
