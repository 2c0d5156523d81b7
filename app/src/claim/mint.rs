//! The mint flow: reserve a pool slot → ensure the workshop's guardrail (`crate::guardrail`) →
//! create the key → assign it to the guardrail → save both. Server-only.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use openrouter::{CreateKey, OpenRouterError};
use rand::distr::{Alphanumeric, SampleString};
use tracing::{info, warn};

use super::ClaimError;
use crate::auth::SessionUser;
use crate::guardrail::{self, GuardrailError};
use crate::metrics::claim_step;
use crate::state::AppState;
use crate::store::{Attendance, Binding, ClaimStatus, MintedKey, NewReservation, Reservation, StoreError};
use crate::workshops::{Pause, WindowState, Workshop};

/// A reservation older than this belongs to a request that died; the next claim takes it over.
pub const STALE_RESERVATION: chrono::Duration = chrono::Duration::minutes(2);
/// How long a parallel request of the same attendee waits for the first one's key.
const WAIT_FOR_PARALLEL_MINT: Duration = Duration::from_secs(20);

impl From<StoreError> for ClaimError {
    fn from(e: StoreError) -> Self {
        warn!(error = %e, "storage failed during a claim");
        ClaimError::internal()
    }
}

/// Claims the attendee's key for `workshop`, or returns the one they already have.
pub async fn claim(
    state: &AppState,
    user: &SessionUser,
    workshop: &Workshop,
    marketing_consent: bool,
    now: DateTime<Utc>,
) -> Result<Attendance, ClaimError> {
    let started = std::time::Instant::now();
    let result = claim_once(state, user, workshop, marketing_consent, now).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    crate::metrics::claim_finished(outcome, started.elapsed());
    result
}

async fn claim_once(
    state: &AppState,
    user: &SessionUser,
    workshop: &Workshop,
    marketing_consent: bool,
    now: DateTime<Utc>,
) -> Result<Attendance, ClaimError> {
    match workshop.window_state(now) {
        WindowState::Open { .. } => {}
        WindowState::NotYetOpen { opens_at } => return Err(ClaimError::NotOpenYet { opens_at }),
        WindowState::Closed => return Err(ClaimError::Closed),
        WindowState::Inactive => return Err(ClaimError::Inactive),
    }
    let reservation = NewReservation {
        user_id: user.user_id.clone(),
        workshop_slug: workshop.slug.clone(),
        key_label: key_label(&workshop.openrouter.key_label_prefix),
        limit_usd: workshop.openrouter.budget_usd,
        expires_at: workshop.key_expires_at(),
        now,
    };
    let reserved =
        claim_step("reserve", state.store.reserve_claim(&reservation, workshop.pool_size(), STALE_RESERVATION)).await?;
    // Consent travels with a claim the pool accepted: a refused claim writes nothing.
    let refused =
        matches!(reserved, Reservation::Paused(_) | Reservation::PoolFull | Reservation::ClaimedWithOtherSignIn { .. });
    if marketing_consent && !refused {
        state.store.record_marketing_consent(&user.user_id, &workshop.slug, now).await?;
    }
    match reserved {
        Reservation::Paused(Pause::Everywhere) => Err(ClaimError::PausedEverywhere),
        Reservation::Paused(Pause::ThisWorkshop) => Err(ClaimError::Paused),
        Reservation::PoolFull => Err(ClaimError::PoolFull),
        Reservation::ClaimedWithOtherSignIn { auth_provider } => {
            Err(ClaimError::ClaimedWithOtherSignIn { provider: auth_provider })
        }
        Reservation::Existing(row) if row.status == ClaimStatus::Minted => Ok(row),
        Reservation::Existing(_) => wait_for_parallel_mint(state, &user.user_id, &workshop.slug).await,
        Reservation::Reserved(row) => mint(state, workshop, row).await,
        Reservation::TakenOver(row) => {
            if let Err(e) = remove_orphans(state, workshop, &row.key_label).await {
                state.store.release_claim(&row.user_id, &workshop.slug).await?;
                return Err(e);
            }
            mint(state, workshop, row).await
        }
    }
}

/// Deletes keys named `name` that a dead request may have created: their plaintext was never
/// saved, so they could only ever be a second, unusable key for this claim.
async fn remove_orphans(state: &AppState, workshop: &Workshop, name: &str) -> Result<(), ClaimError> {
    let slug = workshop.slug.as_str();
    let workspace = workshop.openrouter.workspace_id.as_deref();
    let orphans = state
        .openrouter
        .find_keys_by_name(name, workspace)
        .await
        .map_err(|e| openrouter_failed(slug, "looking for an orphaned key", &e))?;
    for orphan in orphans {
        state
            .openrouter
            .delete_key(&orphan.hash)
            .await
            .map_err(|e| openrouter_failed(slug, "deleting an orphaned key", &e))?;
        warn!(workshop = slug, key_label = name, "deleted a key left by a claim that died before saving it");
    }
    Ok(())
}

/// How many random characters end a key's name.
pub const KEY_LABEL_RANDOM_CHARS: usize = 10;

/// `<prefix>-<10 random characters>`: unique, so a lost answer can be found by name, and free of
/// personal data, since key names are visible to everyone with access to the OpenRouter account.
pub fn key_label(prefix: &str) -> String {
    let random = Alphanumeric.sample_string(&mut rand::rng(), KEY_LABEL_RANDOM_CHARS).to_lowercase();
    format!("{prefix}-{random}")
}

async fn mint(state: &AppState, workshop: &Workshop, row: Attendance) -> Result<Attendance, ClaimError> {
    let started = std::time::Instant::now();
    let (user_id, slug) = (row.user_id.as_str(), workshop.slug.as_str());
    let guardrail_id = match claim_step("guardrail", guardrail::ensure(state, workshop)).await {
        Ok(id) => id,
        Err(e) => {
            state.store.release_claim(user_id, slug).await?;
            return Err(guardrail_failed(slug, &e));
        }
    };
    let request = CreateKey {
        name: row.key_label.clone(),
        limit: Some(rust_decimal::prelude::ToPrimitive::to_f64(&row.limit_usd).unwrap_or(0.0)),
        expires_at: Some(row.expires_at),
        workspace_id: workshop.openrouter.workspace_id.clone(),
        ..CreateKey::default()
    };
    // The name is unique per reservation, so after an ambiguous failure the client can tell
    // whether the key exists before creating another: never two keys for one claim.
    let created = match claim_step("create_key", state.openrouter.create_key_exactly_once(&request)).await {
        Ok(created) => created,
        Err(e) => {
            state.store.release_claim(user_id, slug).await?;
            return Err(openrouter_failed(slug, "creating the key", &e));
        }
    };
    let key = MintedKey { hash: created.data.hash.clone(), plaintext: created.key };
    // Bound before it is saved, so that one write saves the key with its binding. A request that
    // dies in between leaves a key no row holds, as one dying before the save always could: the
    // attendee's next claim takes the stale reservation over and deletes it by name.
    let binding = match claim_step("assign", guardrail::assign(state, &guardrail_id, &key.hash)).await {
        Ok(at) => Binding::Bound { guardrail_id, at },
        // The attendee keeps the key (budget and expiry still bound it) and the row stays
        // unbound: this was the first attempt, the background retries with backoff.
        Err(e) => {
            warn!(workshop = slug, key_label = %row.key_label, error = %e, "binding the key to the guardrail failed; row left unbound");
            Binding::Failed { retry_at: guardrail::next_bind_attempt_at(Utc::now().trunc_subsecs(6), 1) }
        }
    };
    if let Err(e) = claim_step("save", state.store.save_minted_key(user_id, slug, &key, &binding)).await {
        key_not_saved(state, workshop, &row, &key.hash, &e).await?;
    }
    crate::metrics::key_minted(started.elapsed());
    let saved = row.minted(key, &binding);
    info!(workshop = slug, key_label = %saved.key_label, "key minted");
    Ok(saved)
}

/// Saving the key the attendee was just given failed. A failed write may still have committed
/// (its answer lost), so the row decides: `Ok` when it holds `hash` after all, and the claim goes
/// on. Otherwise the reservation is released first: that `DELETE` of the `reserved` row waits for
/// (Postgres row lock) or follows (SQLite write lock) a write still in flight, so the row read
/// after it is final. Still not holding `hash`, the key is deleted at OpenRouter (its plaintext is
/// lost to us) and the attendee is told to try again, with their slot free. Whatever cannot be
/// settled here (a read or the release fails, the delete fails) is left to reconciliation: the
/// next claim takes a stale reservation over and deletes the keys named like it, and the
/// background disables unknown keys older than its grace period. Either way the attendee is never
/// told they have a key the database does not hold.
async fn key_not_saved(
    state: &AppState,
    workshop: &Workshop,
    row: &Attendance,
    hash: &str,
    error: &StoreError,
) -> Result<(), ClaimError> {
    let (user_id, slug, key_label) = (row.user_id.as_str(), workshop.slug.as_str(), row.key_label.as_str());
    let holds_key = |saved: Option<Attendance>| saved.is_some_and(|saved| saved.or_key_hash.as_deref() == Some(hash));
    warn!(workshop = slug, key_label, error = %error, "saving the minted key failed; checking the row");
    let settled = async {
        if holds_key(state.store.attendance(user_id, slug).await?) {
            return Ok(true);
        }
        state.store.release_claim(user_id, slug).await?;
        Ok::<_, StoreError>(holds_key(state.store.attendance(user_id, slug).await?))
    };
    match settled.await {
        Ok(true) => {
            info!(workshop = slug, key_label, "the key was saved after all");
            Ok(())
        }
        Ok(false) => {
            match state.openrouter.delete_key(hash).await {
                Ok(()) => info!(workshop = slug, key_label, "deleted the unsaved key; the claim was released"),
                Err(e) => {
                    warn!(workshop = slug, key_label, error = %e, "deleting the unsaved key failed; the orphan check disables it")
                }
            }
            Err(ClaimError::internal())
        }
        Err(e) => {
            warn!(workshop = slug, key_label, error = %e, "the row cannot be checked; the key is left to reconciliation");
            Err(ClaimError::internal())
        }
    }
}

/// The guardrail is not available: logged, and the attendee told whether to retry.
fn guardrail_failed(slug: &str, e: &GuardrailError) -> ClaimError {
    warn!(workshop = slug, error = %e, "the guardrail is not available; the claim was released");
    if e.is_retryable() {
        ClaimError::Busy
    } else {
        ClaimError::internal()
    }
}

/// Logs what failed (the error never holds a key) and tells the attendee whether to retry.
fn openrouter_failed(slug: &str, what: &str, e: &OpenRouterError) -> ClaimError {
    warn!(workshop = slug, error = %e, "{what} failed; the claim was released");
    if e.is_retryable() {
        ClaimError::Busy
    } else {
        ClaimError::internal()
    }
}

/// Another request of the same attendee holds the reservation: wait for its key.
async fn wait_for_parallel_mint(state: &AppState, user_id: &str, slug: &str) -> Result<Attendance, ClaimError> {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_PARALLEL_MINT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match state.store.attendance(user_id, slug).await? {
            Some(row) if row.status == ClaimStatus::Minted => return Ok(row),
            Some(_) => continue,
            // The other request failed and released the slot.
            None => return Err(ClaimError::Busy),
        }
    }
    Err(ClaimError::InProgress)
}

/// The view of a minted row; `None` while it is only reserved.
pub fn my_key(row: Attendance) -> Option<super::MyKey> {
    // Across the attendee's keys: after a rotation the new key carries what was left.
    let (limit_usd, usage_usd, bound) = (row.total_limit_usd(), row.total_usage_usd(), row.is_bound());
    Some(super::MyKey {
        key: row.or_key_plaintext?,
        key_label: row.key_label,
        limit_usd,
        usage_usd,
        usage_synced_at: row.usage_synced_at,
        expires_at: row.expires_at,
        bound,
        disabled: row.disabled_at.is_some(),
    })
}
