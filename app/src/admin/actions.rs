//! What the admin buttons do. Each takes a workshop the caller was already allowed to run.

use chrono::Utc;
use openrouter::{CreateKey, OpenRouterError, UpdateKey};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use tracing::{info, warn};

use super::{AdminError, HandedKey, SyncSummary};
use crate::auth::{looks_like_email, normalize_email, SessionUser};
use crate::claim::mint::{self, key_label};
use crate::claim::{provider_label, ClaimError};
use crate::guardrail::{self, BindError};
use crate::state::AppState;
use crate::store::{Attendance, AttendeeProfile, KeyRotation, MintedKey, StoreError};
use crate::workshops::Workshop;

/// The auth provider of attendees an admin minted a key for (no Google or GitHub account).
pub const ORGANISER_PROVIDER: &str = "organiser";
const MAX_NAME_CHARS: usize = 100;

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        warn!(error = %e, "storage failed during an admin action");
        AdminError::Internal(with_reference("Something went wrong on our side. Please try again."))
    }
}

/// OpenRouter's answer is for the log (under the request id the page shows), not for the page.
fn openrouter_refused(what: &str, e: &OpenRouterError) -> AdminError {
    warn!(error = %e, "{what} failed");
    if e.is_retryable() {
        AdminError::Busy(format!("OpenRouter is busy; {what} did not happen. Try again in a few seconds."))
    } else {
        AdminError::OpenRouterRefused(with_reference(&format!("OpenRouter refused: {what} did not happen.")))
    }
}

/// The claim rules refused an organiser's mint: the attendee's words, the admin's kind of error.
fn claim_refused(error: ClaimError) -> AdminError {
    let text = error.to_string();
    match error {
        ClaimError::Inactive
        | ClaimError::NotOpenYet { .. }
        | ClaimError::Closed
        | ClaimError::Paused
        | ClaimError::PausedEverywhere => AdminError::NotTakingClaims(text),
        ClaimError::PoolFull | ClaimError::InProgress | ClaimError::ClaimedWithOtherSignIn { .. } => {
            AdminError::Conflict(text)
        }
        ClaimError::Busy | ClaimError::TooManyAttempts => AdminError::Busy(text),
        ClaimError::NotSignedIn
        | ClaimError::UnknownWorkshop
        | ClaimError::NoKeyYet
        | ClaimError::Internal { .. }
        | ClaimError::Request(_) => AdminError::Internal(text),
    }
}

/// `text` and the request's id, under which the log holds the detail.
fn with_reference(text: &str) -> String {
    format!("{text}{}", crate::claim::reference_text(&crate::request_id::current()))
}

/// The row with a key, or why there is none.
async fn keyed_row(state: &AppState, workshop: &Workshop, user_id: &str) -> Result<(Attendance, String), AdminError> {
    let row = state.store.attendance(user_id, &workshop.slug).await?.ok_or(AdminError::NotFound)?;
    match row.or_key_hash.clone() {
        Some(hash) => Ok((row, hash)),
        None => Err(AdminError::Conflict("This attendee's key is still being created.".into())),
    }
}

pub async fn retry_binding(state: &AppState, workshop: &Workshop, user_id: &str) -> Result<(), AdminError> {
    let (row, _) = keyed_row(state, workshop, user_id).await?;
    if row.is_bound() {
        return Ok(());
    }
    match guardrail::bind(state, workshop, &row).await {
        Ok(_) => {
            info!(workshop = %workshop.slug, key_label = %row.key_label, "admin bound an unbound key");
            Ok(())
        }
        Err(BindError::Disabled) => {
            Err(AdminError::Conflict("The key is disabled; rotate it to give a new one.".into()))
        }
        Err(BindError::OpenRouter(e)) => Err(openrouter_refused("binding the key", &e)),
        Err(e) => {
            warn!(workshop = %workshop.slug, key_label = %row.key_label, error = %e, "admin re-binding failed");
            Err(AdminError::Internal(with_reference("Binding failed; the background keeps trying.")))
        }
    }
}

pub async fn disable_key(state: &AppState, workshop: &Workshop, user_id: &str, admin: &str) -> Result<(), AdminError> {
    let (row, hash) = keyed_row(state, workshop, user_id).await?;
    state
        .openrouter
        .update_key(&hash, &UpdateKey { disabled: Some(true), ..UpdateKey::default() })
        .await
        .map_err(|e| openrouter_refused("disabling the key", &e))?;
    state.store.mark_disabled(user_id, &workshop.slug, Utc::now()).await?;
    info!(workshop = %workshop.slug, key_label = %row.key_label, admin, "admin disabled a key");
    Ok(())
}

/// Disables the attendee's key and gives them a new one with what is left of their budget, so the
/// pool (keys × budget ≤ cap) still holds. The row keeps the old key in `retired_keys`.
pub async fn rotate_key(state: &AppState, workshop: &Workshop, user_id: &str, admin: &str) -> Result<(), AdminError> {
    let (row, old_hash) = keyed_row(state, workshop, user_id).await?;
    // Disable first: the old key must stop spending before its final usage is read.
    state
        .openrouter
        .update_key(&old_hash, &UpdateKey { disabled: Some(true), ..UpdateKey::default() })
        .await
        .map_err(|e| openrouter_refused("disabling the old key", &e))?;
    // Recorded at once: if anything below fails, the table shows the key as disabled, as it is.
    state.store.mark_disabled(user_id, &workshop.slug, Utc::now()).await?;
    let old = state.openrouter.get_key(&old_hash).await.map_err(|e| openrouter_refused("reading the old key", &e))?;
    let old_usage = Decimal::from_f64_retain(old.usage).unwrap_or_default().round_dp(4);
    let remaining = (row.limit_usd - old_usage).max(Decimal::ZERO);
    if remaining.is_zero() {
        return Err(AdminError::Conflict(
            "The old key is disabled, but its budget is used up: there is nothing left to put on a new key.".into(),
        ));
    }
    let label = key_label(&workshop.openrouter.key_label_prefix);
    let request = CreateKey {
        name: label.clone(),
        limit: remaining.to_f64(),
        expires_at: Some(row.expires_at),
        workspace_id: workshop.openrouter.workspace_id.clone(),
        ..CreateKey::default()
    };
    let created = state
        .openrouter
        .create_key_exactly_once(&request)
        .await
        .map_err(|e| openrouter_refused("creating the new key", &e))?;
    let rotation = KeyRotation {
        user_id: user_id.to_string(),
        workshop_slug: workshop.slug.clone(),
        old_hash,
        old_label: row.key_label.clone(),
        old_usage_usd: old_usage,
        new_key: MintedKey { hash: created.data.hash.clone(), plaintext: created.key },
        new_label: label.clone(),
        new_limit_usd: remaining,
        retired_by: admin.to_string(),
        now: Utc::now(),
    };
    if !state.store.rotate_key(&rotation).await? {
        // Another admin rotated it meanwhile: this new key has no row and must not live on.
        if let Err(e) = state.openrouter.delete_key(&created.data.hash).await {
            warn!(error = %e, key_label = %label, "deleting the key of a lost rotation race failed; reconciliation will disable it");
        }
        return Err(AdminError::Conflict("Someone rotated this key at the same time; reload to see theirs.".into()));
    }
    info!(workshop = %workshop.slug, old = %row.key_label, new = %label, admin, "admin rotated a key");
    let rotated = state.store.attendance(user_id, &workshop.slug).await?.ok_or(AdminError::NotFound)?;
    if let Err(e) = guardrail::bind(state, workshop, &rotated).await {
        warn!(workshop = %workshop.slug, key_label = %label, error = %e, "binding the rotated key failed; the background retries");
        state
            .store
            .record_bind_failure(user_id, &workshop.slug, guardrail::next_bind_attempt_at(Utc::now(), 1))
            .await?;
    }
    Ok(())
}

pub async fn pause_all_claims(state: &AppState, paused: bool, admin: &str) -> Result<(), AdminError> {
    state.store.set_claims_paused(crate::store::EVERY_WORKSHOP, paused.then_some(admin), Utc::now()).await?;
    warn!(paused, admin, "admin switched claims in every workshop");
    Ok(())
}

pub async fn pause_claims(state: &AppState, workshop: &Workshop, paused: bool, admin: &str) -> Result<(), AdminError> {
    state.store.set_claims_paused(&workshop.slug, paused.then_some(admin), Utc::now()).await?;
    info!(workshop = %workshop.slug, paused, admin, "admin switched claims");
    Ok(())
}

/// Mints a key for someone without Google or GitHub, into a normal attendance row (same pool,
/// window and one-key-per-email rules as every claim).
pub async fn mint_for_someone(
    state: &AppState,
    workshop: &Workshop,
    email: &str,
    name: &str,
    admin: &str,
) -> Result<HandedKey, AdminError> {
    let (email, name) = (email.trim(), name.trim());
    if !looks_like_email(email) {
        return Err(AdminError::Invalid("Enter the attendee's email address, like ada@example.org.".into()));
    }
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!("Enter the attendee's name (1 to {MAX_NAME_CHARS} characters).")));
    }
    // A workshop not taking claims refuses before anything is written (no attendee row either).
    if let Some(error) = ClaimError::for_window(&workshop.window_state(Utc::now())) {
        return Err(claim_refused(error));
    }
    let normalized = normalize_email(email);
    let profile = AttendeeProfile {
        user_id: format!("{ORGANISER_PROVIDER}|{normalized}"),
        email: email.to_string(),
        email_normalized: normalized,
        display_name: name.to_string(),
        auth_provider: ORGANISER_PROVIDER.into(),
    };
    let now = Utc::now();
    state.store.upsert_attendee(&profile, now).await?;
    let user = SessionUser {
        user_id: profile.user_id.clone(),
        email: profile.email.clone(),
        name: profile.display_name.clone(),
        provider: ORGANISER_PROVIDER.into(),
    };
    let row = mint::claim(state, &user, workshop, false, now).await.map_err(|e| match e {
        ClaimError::ClaimedWithOtherSignIn { provider } => AdminError::Conflict(format!(
            "{email} already has a key for this workshop (signed in with {}); they see it on the workshop page.",
            provider_label(&provider)
        )),
        other => claim_refused(other),
    })?;
    let key =
        mint::my_key(row).ok_or_else(|| AdminError::Conflict("The key is still being created; try again.".into()))?;
    info!(workshop = %workshop.slug, key_label = %key.key_label, admin, "admin minted a key for someone");
    Ok(HandedKey {
        name: profile.display_name,
        email: profile.email,
        qr_svg: crate::qr::svg(&key.key).map_err(|e| {
            warn!(error = %e, "drawing the hand-over QR code failed");
            AdminError::Internal(with_reference(
                "The key was minted but its QR code could not be drawn; reload the table.",
            ))
        })?,
        key: key.key,
        expires_at: key.expires_at,
    })
}

pub async fn sync_now(state: &AppState, workshop: &Workshop) -> Result<SyncSummary, AdminError> {
    let report = crate::background::run_once(state, &[workshop], Utc::now()).await.map_err(|e| {
        warn!(workshop = %workshop.slug, error = %e, "sync now failed");
        AdminError::Busy("The sync failed (OpenRouter did not answer); the background tries again soon.".into())
    })?;
    Ok(SyncSummary {
        list_calls: report.list_calls,
        keys_seen: report.keys_seen,
        rows_updated: report.rows_updated,
        rebound: report.rebound,
        orphans_disabled: report.orphans_disabled,
    })
}
