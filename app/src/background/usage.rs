//! Usage sync: one paged listing of every key per workspace, stored by key hash.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{orphans, SyncError, SyncReport};
use crate::state::AppState;
use crate::workshops::Workshop;

/// Pages through `GET /keys` (disabled keys included) of each workspace `workshops` use, stores
/// the usage of every key that has a row, and disables the workshops' orphaned keys in the list.
pub async fn sync_usage(
    state: &AppState,
    workshops: &[&Workshop],
    now: DateTime<Utc>,
) -> Result<SyncReport, SyncError> {
    let workspace_of = |w: &Workshop| w.openrouter.workspace_id.clone();
    let mut workspaces: Vec<Option<String>> = workshops.iter().map(|w| workspace_of(w)).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    let mut report = SyncReport::default();
    for workspace in workspaces {
        let (keys, calls) = state.openrouter.list_every_key(workspace.as_deref()).await?;
        report.list_calls += calls;
        report.keys_seen += keys.len();
        let usage: Vec<(String, Decimal)> = keys
            .iter()
            // The database keeps 4 decimal places of a dollar.
            .map(|k| (k.hash.clone(), Decimal::from_f64_retain(k.usage).unwrap_or_default().round_dp(4)))
            .collect();
        report.rows_updated += state.store.record_usage(&usage, now).await?;
        for workshop in workshops.iter().filter(|w| workspace_of(w) == workspace) {
            report.orphans_disabled += orphans::disable_orphans(state, workshop, &keys, now).await?;
        }
    }
    Ok(report)
}
