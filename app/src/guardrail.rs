//! The workshop's guardrail at OpenRouter: made once (`workshop-<slug>`, the YAML's models and
//! cap), kept matching the YAML, and every key assigned to it. Used by the claim, the background
//! re-binder and the admin actions; it knows nothing of any of them. Server-only.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use openrouter::{guardrail_drift, CreateGuardrail, OpenRouterError, ResetInterval};
use rand::distr::{Alphanumeric, SampleString};
use tracing::{info, warn};

use crate::state::AppState;
use crate::store::{Attendance, StoreError};
use crate::workshops::{self, WindowState, Workshop};

/// How long one request may hold a workshop's guardrail lease (find-or-create takes seconds).
const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// How long a caller waits for another request (or replica) to finish creating the guardrail.
const WAIT_FOR_ANOTHER: Duration = Duration::from_secs(30);
/// The wait after the first failed binding; it doubles with each further failure.
pub const FIRST_RETRY_AFTER: chrono::Duration = chrono::Duration::seconds(30);
/// The longest wait between two binding attempts.
pub const MAX_RETRY_AFTER: chrono::Duration = chrono::Duration::minutes(30);

/// Why the workshop's guardrail is not available.
#[derive(Debug, thiserror::Error)]
pub enum GuardrailError {
    #[error("another request is still creating the guardrail")]
    Busy,
    #[error("finding or creating the guardrail failed: {0}")]
    OpenRouter(#[from] OpenRouterError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GuardrailError {
    /// Worth retrying in a few seconds (as opposed to a refusal or a storage failure).
    pub fn is_retryable(&self) -> bool {
        match self {
            GuardrailError::Busy => true,
            GuardrailError::OpenRouter(e) => e.is_retryable(),
            GuardrailError::Store(_) => false,
        }
    }
}

/// Why a key could not be assigned to its workshop's guardrail.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("the row has no key yet")]
    NoKey,
    #[error("the key is disabled")]
    Disabled,
    #[error("the workshop's guardrail is not available: {0}")]
    Guardrail(GuardrailError),
    #[error("OpenRouter refused the assignment: {0}")]
    OpenRouter(#[from] OpenRouterError),
    #[error("OpenRouter did not take the key (assigned_count 0)")]
    NotTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The guardrail the YAML asks for.
pub fn desired(workshop: &Workshop) -> CreateGuardrail {
    CreateGuardrail {
        name: workshop.guardrail_name(),
        description: Some(format!("Workshop {}: {}", workshop.slug, workshop.name)),
        limit_usd: rust_decimal::prelude::ToPrimitive::to_f64(&workshop.openrouter.guardrail.cap_usd),
        reset_interval: Some(reset_interval(workshop.openrouter.guardrail.reset_interval)),
        allowed_models: Some(workshop.openrouter.models.iter().map(|m| m.id.clone()).collect()),
        workspace_id: workshop.openrouter.workspace_id.clone(),
        ..CreateGuardrail::default()
    }
}

/// The workshop's guardrail id: known to this process, else from the database (checked once per
/// process for drift from the YAML), else found by name or created by whoever holds the
/// workshop's lease, so that requests and replicas racing at the first claim make one guardrail.
pub async fn ensure(state: &AppState, workshop: &Workshop) -> Result<String, GuardrailError> {
    let slug = workshop.slug.as_str();
    if let Some(id) = state.known_guardrail_id(slug) {
        repair_drift(state, workshop, &id).await;
        return Ok(id);
    }
    let id = find_or_create(state, workshop).await?;
    state.remember_guardrail_id(slug, &id);
    Ok(id)
}

async fn find_or_create(state: &AppState, workshop: &Workshop) -> Result<String, GuardrailError> {
    let slug = workshop.slug.as_str();
    let holder = Alphanumeric.sample_string(&mut rand::rng(), 16);
    let deadline = tokio::time::Instant::now() + WAIT_FOR_ANOTHER;
    loop {
        if let Some(id) = state.store.guardrail_id(slug).await? {
            repair_drift(state, workshop, &id).await;
            return Ok(id);
        }
        if state.store.try_acquire_guardrail_lease(slug, &holder, Utc::now(), LEASE).await? {
            let outcome = match state.openrouter.ensure_guardrail(&desired(workshop)).await {
                Ok((guardrail, created)) => match state.store.save_guardrail_id(slug, &guardrail.id).await {
                    Ok(()) if created => {
                        info!(workshop = slug, guardrail = %guardrail.name, "guardrail created");
                        state.mark_guardrail_checked(slug);
                        Ok(guardrail.id)
                    }
                    Ok(()) => {
                        repair_drift(state, workshop, &guardrail.id).await;
                        Ok(guardrail.id)
                    }
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            };
            state.store.release_guardrail_lease(slug, &holder).await?;
            return outcome;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(GuardrailError::Busy);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Patches the guardrail where it differs from the YAML (models, cap, reset interval), once per
/// process and workshop: at start-up and before the first mint after a deploy. A failure only
/// logs; the claim goes on with the guardrail as it is, and the next claim checks again.
pub async fn repair_drift(state: &AppState, workshop: &Workshop, guardrail_id: &str) {
    let slug = workshop.slug.as_str();
    if state.guardrail_checked(slug) {
        return;
    }
    let current = match state.openrouter.get_guardrail(guardrail_id).await {
        Ok(current) => current,
        Err(e) => {
            return warn!(workshop = slug, error = %e, "could not read the guardrail to check it against the YAML")
        }
    };
    if let Some(patch) = guardrail_drift(&current, &desired(workshop)) {
        match state.openrouter.update_guardrail(guardrail_id, &patch).await {
            Ok(_) => {
                info!(workshop = slug, guardrail = %current.name, change = ?patch, "guardrail differed from the YAML; patched")
            }
            Err(e) => return warn!(workshop = slug, error = %e, "patching the guardrail to match the YAML failed"),
        }
    }
    state.mark_guardrail_checked(slug);
}

/// At start-up: makes sure every workshop that can still be claimed has its guardrail (so the
/// first burst of claims does not queue behind creating it) and checks every current workshop's
/// guardrail against its YAML. Failures only log; the claims retry on their own.
pub async fn prepare_all(state: &AppState) {
    let now = Utc::now();
    for workshop in state.workshops().iter().filter(|w| w.is_active && w.key_expires_at() > now) {
        let slug = workshop.slug.as_str();
        if workshop.window_state(now) != WindowState::Closed {
            if let Err(e) = ensure(state, workshop).await {
                warn!(workshop = slug, error = %e, "could not prepare the guardrail at start-up");
            }
            continue;
        }
        match state.store.guardrail_id(slug).await {
            Ok(Some(id)) => repair_drift(state, workshop, &id).await,
            Ok(None) => {}
            Err(e) => warn!(workshop = slug, error = %e, "could not read the stored guardrail id"),
        }
    }
}

/// Assigns the row's key to the workshop's guardrail and marks the row bound.
pub async fn bind(state: &AppState, workshop: &Workshop, row: &Attendance) -> Result<String, BindError> {
    let hash = row.or_key_hash.as_deref().ok_or(BindError::NoKey)?;
    if row.disabled_at.is_some() {
        return Err(BindError::Disabled);
    }
    let guardrail_id = ensure(state, workshop).await.map_err(BindError::Guardrail)?;
    let bound_at = assign(state, &guardrail_id, hash).await?;
    state.store.mark_bound(&row.user_id, &row.workshop_slug, &guardrail_id, bound_at).await?;
    Ok(guardrail_id)
}

/// Assigns the key `hash` to the guardrail `guardrail_id` at OpenRouter; when it was assigned.
/// Idempotent: a key already assigned is counted again. Records nothing.
pub async fn assign(state: &AppState, guardrail_id: &str, hash: &str) -> Result<DateTime<Utc>, BindError> {
    // POST /keys ignores guardrail ids: binding is this separate call. The API answers 200 with
    // a count; a key it did not find is simply not counted.
    match state.openrouter.assign_keys_to_guardrail(guardrail_id, &[hash.to_string()]).await? {
        // To the microsecond, as both databases keep it: the claim shows this very value.
        1 => Ok(Utc::now().trunc_subsecs(6)),
        _ => Err(BindError::NotTaken),
    }
}

/// When to try binding again after `failures` failed attempts (≥ 1): 30 s, 1 min, 2 min, …
/// ≤ 30 min.
pub fn next_bind_attempt_at(now: DateTime<Utc>, failures: u32) -> DateTime<Utc> {
    let factor = 1i32 << failures.saturating_sub(1).min(10);
    now + (FIRST_RETRY_AFTER * factor).min(MAX_RETRY_AFTER)
}

fn reset_interval(interval: workshops::ResetInterval) -> ResetInterval {
    match interval {
        workshops::ResetInterval::Daily => ResetInterval::Daily,
        workshops::ResetInterval::Weekly => ResetInterval::Weekly,
        workshops::ResetInterval::Monthly => ResetInterval::Monthly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_backoff_doubles_up_to_thirty_minutes() {
        let now = Utc::now();
        let waits: Vec<i64> = (1..=9).map(|n| (next_bind_attempt_at(now, n) - now).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!((next_bind_attempt_at(now, u32::MAX) - now).num_seconds(), 1800, "no overflow");
    }
}
