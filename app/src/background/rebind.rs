//! Binding keys to their workshop's guardrail after the first attempt (during the claim) failed.
//! The attendee already has the key; until it is bound, the model restriction does not apply,
//! so the background retries with backoff and admins can retry at once.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::guardrail::{bind, next_bind_attempt_at};
use crate::state::AppState;
use crate::store::StoreError;
use crate::workshops::Workshop;

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
                let next = next_bind_attempt_at(now, row.bind_attempts + 1);
                warn!(workshop = %workshop.slug, key_label = %row.key_label, error = %e, next_attempt = %next, "binding the key failed again");
                state.store.record_bind_failure(&row.user_id, &workshop.slug, next).await?;
                failed += 1;
            }
        }
    }
    Ok((bound, failed))
}
