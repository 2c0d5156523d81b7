//! What the server counts, through the `metrics` facade: nothing is recorded unless the server
//! installed a recorder (`METRICS_ADDR`), which then serves them in Prometheus' text format.

use std::time::Duration;

/// A claim ended: `outcome` is `ok` or the error's code (`full`, `busy`, …).
pub fn claim_finished(outcome: &'static str, took: Duration) {
    metrics::counter!("minter_claims_total", "outcome" => outcome).increment(1);
    metrics::histogram!("minter_claim_seconds", "outcome" => outcome).record(took.as_secs_f64());
}

/// Runs one step of a claim (`reserve`, `guardrail`, `create_key`, `assign`, `save`) and records
/// how long it took, queueing included: where a claim's time goes, by step.
pub async fn claim_step<T>(step: &'static str, work: impl std::future::Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let outcome = work.await;
    metrics::histogram!("minter_claim_step_seconds", "step" => step).record(started.elapsed().as_secs_f64());
    outcome
}

/// A key was created and saved: the time from reservation to saved row.
pub fn key_minted(took: Duration) {
    metrics::histogram!("minter_mint_seconds").record(took.as_secs_f64());
}

/// One round of background work.
pub fn sync_finished(took: Duration, ok: bool, orphans_disabled: u32) {
    metrics::histogram!("minter_sync_seconds").record(took.as_secs_f64());
    if !ok {
        metrics::counter!("minter_sync_failures_total").increment(1);
    }
    metrics::counter!("minter_orphans_disabled_total").increment(u64::from(orphans_disabled));
}
