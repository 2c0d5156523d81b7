//! Retry policy of the OpenRouter client: capped exponential backoff with full jitter, and
//! `Retry-After` honoured on 429.
//!
//! What is retried is decided by [`OpenRouterError::is_retryable`] (429, 5xx, transport and
//! connect failures; never another 4xx, a decode error or a misconfiguration). Which calls are
//! retried is decided by the client: only requests that are safe to repeat (GET, PATCH, DELETE,
//! key assignment and unassignment). `POST /keys` and `POST /guardrails` are never blindly
//! repeated; see `OpenRouterClient::create_key_exactly_once` and
//! `OpenRouterClient::ensure_guardrail`.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::error::OpenRouterError;

/// How often and how patiently a failed request is repeated.
///
/// Delay before retry `n` (1-based): a uniformly random duration in
/// `[0, min(max_delay, base_delay * 2^(n-1))]` ("full jitter"). When the server answered 429
/// with `Retry-After`, the delay is instead `min(Retry-After, max_retry_after)` plus a random
/// `[0, base_delay]`, so a crowd of clients told the same `Retry-After` does not come back in the
/// same millisecond. `max_retry_after` is separate from (and larger than) `max_delay` because the
/// server's hint is worth obeying even when it is longer than our own backoff cap; it still
/// bounds how long a single claim can hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first one; 1 means no retry (0 is treated as 1).
    pub max_attempts: u32,
    pub base_delay: Duration,
    /// Cap of the exponential backoff.
    pub max_delay: Duration,
    /// Cap of an honoured `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 200 ms base, 5 s backoff cap, `Retry-After` honoured up to 10 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A single attempt: every failure is returned as is.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// `attempts` total attempts with the given base delay; the caps stay at their defaults.
    pub fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self { max_attempts, base_delay, max_delay, ..Self::default() }
    }

    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// `max_attempts`, at least 1.
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Upper bound of the jittered backoff before retry `retry` (1-based).
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay.checked_mul(1u32 << exp).unwrap_or(self.max_delay).min(self.max_delay)
    }

    /// The (random) wait before retry `retry` (1-based) after `err`.
    pub fn delay(&self, retry: u32, err: &OpenRouterError) -> Duration {
        match err.retry_after() {
            Some(hint) if err.status() == Some(429) => hint.min(self.max_retry_after) + jitter(self.base_delay),
            _ => jitter(self.backoff_cap(retry)),
        }
    }
}

/// Uniform in `[0, max]`.
fn jitter(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or the policy's attempts are
/// used up (the last error is returned). `op` gets whether an earlier attempt of this call
/// failed ambiguously (it may have been applied), so e.g. a DELETE can read a later 404 as
/// success. `what` (method and path, no secrets) only goes into logs.
pub(crate) async fn retrying<T, F, Fut>(policy: &RetryPolicy, what: &str, mut op: F) -> Result<T, OpenRouterError>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<T, OpenRouterError>>,
{
    let attempts = policy.attempts();
    let mut after_ambiguous = false;
    let mut attempt = 1;
    loop {
        let err = match op(after_ambiguous).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.is_retryable() || attempt >= attempts {
            return Err(err);
        }
        after_ambiguous |= err.is_ambiguous();
        let delay = policy.delay(attempt, &err);
        tracing::info!(
            request = what,
            attempt,
            max_attempts = attempts,
            delay_ms = delay.as_millis() as u64,
            error = %err,
            "OpenRouter request failed; retrying"
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, retry_after: Option<Duration>) -> OpenRouterError {
        OpenRouterError::Api { status, message: String::new(), retry_after }
    }

    #[test]
    fn backoff_is_exponential_and_capped() {
        let p = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_millis(700));
        let caps: Vec<u128> = (1..=5).map(|n| p.backoff_cap(n).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 700, 700]);
        assert_eq!(p.backoff_cap(1000), Duration::from_millis(700));
        for n in 1..=5 {
            for _ in 0..50 {
                assert!(p.delay(n, &api(500, None)) <= p.backoff_cap(n));
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::new(4, Duration::from_millis(10), Duration::from_millis(50))
            .with_max_retry_after(Duration::from_secs(3));
        let d = p.delay(1, &api(429, Some(Duration::from_secs(2))));
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2010), "{d:?}");
        let d = p.delay(1, &api(429, Some(Duration::from_secs(60))));
        assert!(d >= Duration::from_secs(3) && d <= Duration::from_millis(3010), "{d:?}");
        // Only a 429's hint counts; a 503's falls back to backoff.
        assert!(p.delay(1, &api(503, Some(Duration::from_secs(60)))) <= Duration::from_millis(10));
    }

    #[test]
    fn none_and_zero_mean_one_attempt() {
        assert_eq!(RetryPolicy::none().attempts(), 1);
        let p = RetryPolicy { max_attempts: 0, ..RetryPolicy::default() };
        assert_eq!(p.attempts(), 1);
        assert_eq!(RetryPolicy::default().attempts(), 4);
    }

    #[tokio::test]
    async fn retrying_stops_on_success_permanent_error_or_exhaustion() {
        let p = RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(2));
        let mut calls = 0;
        let r: Result<u32, _> = retrying(&p, "GET /x", |_| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(api(500, None))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);

        let mut calls = 0;
        let r: Result<(), _> = retrying(&p, "GET /x", |_| {
            calls += 1;
            async { Err(api(404, None)) }
        })
        .await;
        assert_eq!((r.unwrap_err().status(), calls), (Some(404), 1));

        let mut seen = Vec::new();
        let r: Result<(), _> = retrying(&p, "GET /x", |after_ambiguous| {
            seen.push(after_ambiguous);
            async { Err(api(502, None)) }
        })
        .await;
        assert_eq!(r.unwrap_err().status(), Some(502));
        assert_eq!(seen, [false, true, true]);
    }
}
