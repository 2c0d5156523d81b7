//! Work the server does by itself, without cron. Every `USAGE_SYNC_SECONDS` the one process that
//! holds the background lock (a Postgres advisory lock shared by all replicas; on SQLite the only
//! process) runs [`run_once`]: bind unbound keys whose retry is due, read every key's usage from
//! OpenRouter and store it (pages show stored usage and never call OpenRouter on a page view),
//! and disable orphaned keys found in the same listing.

pub mod orphans;
pub mod rebind;
mod usage;

use std::time::Duration;

use chrono::{DateTime, Utc};
use openrouter::OpenRouterError;
use tracing::{info, warn};

use crate::state::AppState;
use crate::store::{Leadership, StoreError};
use crate::workshops::Workshop;

pub use usage::sync_usage;

/// Keys keep spending after a workshop ends (its expiry buffer): usage is synced a day longer.
const SYNC_AFTER_END: chrono::Duration = chrono::Duration::days(1);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    OpenRouter(#[from] OpenRouterError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one round of background work did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// `GET /keys` calls: ⌈keys / 100⌉ per workspace (one more when the count is a multiple of 100).
    pub list_calls: u32,
    pub keys_seen: usize,
    pub rows_updated: u64,
    /// Unbound keys now bound to their guardrail, and those whose attempt failed again.
    pub rebound: u32,
    pub rebind_failed: u32,
    /// Keys with a workshop's name prefix but no row, disabled now.
    pub orphans_disabled: u32,
}

/// Workshops whose keys may be spending now: claims have opened and the workshop ended less than
/// a day ago.
pub fn workshops_to_sync(workshops: &[Workshop], now: DateTime<Utc>) -> Vec<&Workshop> {
    let live =
        |w: &&Workshop| w.is_active && w.claims_open_at.to_utc() <= now && now <= w.ends_at.to_utc() + SYNC_AFTER_END;
    workshops.iter().filter(live).collect()
}

/// One round for `workshops`: re-bind what is due, then sync usage and disable orphans. Also
/// what an admin's "Sync now" runs for one workshop.
pub async fn run_once(state: &AppState, workshops: &[&Workshop], now: DateTime<Utc>) -> Result<SyncReport, SyncError> {
    let (rebound, rebind_failed) = rebind::rebind_due(state, workshops, now).await?;
    let report = sync_usage(state, workshops, now).await?;
    Ok(SyncReport { rebound, rebind_failed, ..report })
}

/// Runs the background work for as long as the server runs: every `every`, takes the lead if no
/// other replica holds it, and while leading, runs [`run_once`] for the live workshops.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut leadership: Option<Leadership> = None;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // Every process, leader or not: its own rate-limit counters.
            state.limits.forget_idle();
            if let Some(lead) = &mut leadership {
                if !lead.still_held().await {
                    warn!("lost the background lock (database connection gone); trying to take it again");
                    leadership = None;
                }
            }
            if leadership.is_none() {
                match state.store.try_lead().await {
                    Ok(Some(lead)) => {
                        info!("this process runs the background work (usage sync, re-binding, orphans)");
                        leadership = Some(lead);
                    }
                    Ok(None) => continue, // another replica leads
                    Err(e) => {
                        warn!(error = %e, "could not try the background lock");
                        continue;
                    }
                }
            }
            let started = std::time::Instant::now();
            let now = Utc::now();
            let result = run_once(&state, &workshops_to_sync(state.workshops(), now), now).await;
            let orphans = result.as_ref().map_or(0, |r| r.orphans_disabled);
            crate::metrics::sync_finished(started.elapsed(), result.is_ok(), orphans);
            match result {
                Ok(report) if report.list_calls > 0 => info!(
                    list_calls = report.list_calls,
                    keys = report.keys_seen,
                    rows = report.rows_updated,
                    rebound = report.rebound,
                    rebind_failed = report.rebind_failed,
                    orphans_disabled = report.orphans_disabled,
                    ms = started.elapsed().as_millis() as u64,
                    "usage synced"
                ),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "background work failed; next try in {every:?}"),
            }
        }
    })
}
