//! Binding keys to their workshop's guardrail after the first attempt (during the claim) failed.
//! The attendee already has the key; until it is bound, the model restriction does not apply,
//! so the background retries with backoff and admins can retry at once.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::claim::mint::ensure_guardrail;
use crate::claim::ClaimError;
use crate::openrouter::OpenRouterError;
use crate::state::AppState;
use crate::store::{Attendance, StoreError};
use crate::workshops::Workshop;

/// The wait after the first failed attempt; it doubles with each further failure.
pub const FIRST_RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(30);
/// The longest wait between two attempts.
pub const MAX_RETRY_AFTER: chrono::Duration = chrono::Duration::minutes(30);

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("the row has no key yet")]
    NoKey,
    #[error("the key is disabled")]
    Disabled,
    #[error("the workshop's guardrail is not available: {0}")]
    Guardrail(ClaimError),
    #[error("OpenRouter refused the assignment: {0}")]
    OpenRouter(#[from] OpenRouterError),
    #[error("OpenRouter did not take the key (assigned_count 0)")]
    NotTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// When to try again after `failures` failed attempts (≥ 1): 30 s, 1 min, 2 min, … ≤ 30 min.
pub fn next_attempt_at(now: DateTime<Utc>, failures: u32) -> DateTime<Utc> {
    let factor = 1i32 << failures.saturating_sub(1).min(10);
    now + (FIRST_RETRY_AFTER * factor).min(MAX_RETRY_AFTER)
}

/// Assigns the row's key to the workshop's guardrail and marks the row bound.
pub async fn bind(state: &AppState, workshop: &Workshop, row: &Attendance) -> Result<String, BindError> {
    let hash = row.or_key_hash.as_deref().ok_or(BindError::NoKey)?;
    if row.disabled_at.is_some() {
        return Err(BindError::Disabled);
    }
    let guardrail_id = ensure_guardrail(state, workshop).await.map_err(BindError::Guardrail)?;
    // Idempotent: a key already assigned is counted again.
    match state.openrouter.assign_keys_to_guardrail(&guardrail_id, &[hash.to_string()]).await? {
        1 => {
            state.store.mark_bound(&row.user_id, &workshop.slug, &guardrail_id, Utc::now()).await?;
            Ok(guardrail_id)
        }
        _ => Err(BindError::NotTaken),
    }
}

/// Binds every unbound key of `workshops` whose retry is due; returns (bound, failed).
pub async fn rebind_due(
    state: &AppState,
    workshops: &[&Workshop],
    now: DateTime<Utc>,
) -> Result<(u32, u32), StoreError> {
    let (mut bound, mut failed) = (0, 0);
    for row in state.store.unbound_keys_due(now).await? {
        let Some(workshop) = workshops.iter().find(|w| w.slug == row.workshop_slug) else { continue };
        match bind(state, workshop, &row).await {
            Ok(_) => {
                info!(workshop = %workshop.slug, key_label = %row.key_label, "unbound key bound to the guardrail");
                bound += 1;
            }
            Err(e) => {
                let next = next_attempt_at(now, row.bind_attempts + 1);
                warn!(workshop = %workshop.slug, key_label = %row.key_label, error = %e, next_attempt = %next, "binding the key failed again");
                state.store.record_bind_failure(&row.user_id, &workshop.slug, next).await?;
                failed += 1;
            }
        }
    }
    Ok((bound, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_minutes() {
        let now = Utc::now();
        let waits: Vec<i64> = (1..=9).map(|n| (next_attempt_at(now, n) - now).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!((next_attempt_at(now, u32::MAX) - now).num_seconds(), 1800, "no overflow");
    }
}
