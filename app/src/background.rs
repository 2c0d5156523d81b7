//! Work the server does by itself, without cron. Every `USAGE_SYNC_SECONDS` the one process that
//! holds the background lock (a Postgres advisory lock shared by all replicas; on SQLite the only
//! process) reads every key's usage from OpenRouter and stores it, so pages show stored usage
//! and never call OpenRouter on a page view.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tracing::{info, warn};

use crate::openrouter::OpenRouterError;
use crate::state::AppState;
use crate::store::{Leadership, StoreError};
use crate::workshops::Workshop;

/// Keys keep spending after a workshop ends (its expiry buffer): usage is synced a day longer.
const SYNC_AFTER_END: chrono::Duration = chrono::Duration::days(1);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    OpenRouter(#[from] OpenRouterError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one usage sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// `GET /keys` calls: ⌈keys / 100⌉ per workspace (one more when the count is a multiple of 100).
    pub list_calls: u32,
    pub keys_seen: usize,
    pub rows_updated: u64,
}

/// Workshops whose keys may be spending now: claims have opened and the workshop ended less than
/// a day ago.
pub fn workshops_to_sync(workshops: &[Workshop], now: DateTime<Utc>) -> Vec<&Workshop> {
    let live =
        |w: &&Workshop| w.is_active && w.claims_open_at.to_utc() <= now && now <= w.ends_at.to_utc() + SYNC_AFTER_END;
    workshops.iter().filter(live).collect()
}

/// One sync: pages through `GET /keys` (disabled keys included) of each workspace `workshops`
/// use, and stores the usage of every key that has an attendance row.
pub async fn sync_usage(
    state: &AppState,
    workshops: &[&Workshop],
    now: DateTime<Utc>,
) -> Result<SyncReport, SyncError> {
    let mut workspaces: Vec<Option<&str>> = workshops.iter().map(|w| w.openrouter.workspace_id.as_deref()).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    let mut report = SyncReport::default();
    for workspace in workspaces {
        let (keys, calls) = state.openrouter.list_every_key(workspace).await?;
        report.list_calls += calls;
        report.keys_seen += keys.len();
        let usage: Vec<(String, Decimal)> = keys
            .into_iter()
            // The database keeps 4 decimal places of a dollar.
            .map(|k| (k.hash, Decimal::from_f64_retain(k.usage).unwrap_or_default().round_dp(4)))
            .collect();
        report.rows_updated += state.store.record_usage(&usage, now).await?;
    }
    Ok(report)
}

/// Runs the background work for as long as the server runs: every `every`, takes the lead if no
/// other replica holds it, and while leading, syncs usage.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut leadership: Option<Leadership> = None;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Some(lead) = &mut leadership {
                if !lead.still_held().await {
                    warn!("lost the background lock (database connection gone); trying to take it again");
                    leadership = None;
                }
            }
            if leadership.is_none() {
                match state.store.try_lead().await {
                    Ok(Some(lead)) => {
                        info!("this process runs the background work (usage sync)");
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
            match sync_usage(&state, &workshops_to_sync(state.workshops(), now), now).await {
                Ok(report) if report.list_calls > 0 => info!(
                    list_calls = report.list_calls,
                    keys = report.keys_seen,
                    rows = report.rows_updated,
                    ms = started.elapsed().as_millis() as u64,
                    "usage synced"
                ),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "usage sync failed; next try in {every:?}"),
            }
        }
    })
}
