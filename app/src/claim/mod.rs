//! Claiming a key: the server functions the workshop page calls, and (ssr) the mint flow.

mod error;
pub mod key_check;
#[cfg(feature = "ssr")]
pub mod key_faults;
#[cfg(feature = "ssr")]
pub mod mint;
pub mod snippets;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use error::{provider_label, reference_text, ClaimError};
pub use key_check::{KeyCheck, KeyCheckText};

use crate::auth::{SessionUser, SignInOption};
use crate::ui::TimeText;
use crate::workshops::{Pause, WindowState, Workshop};

/// The attendee's key as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyKey {
    pub key: String,
    pub key_label: String,
    pub limit_usd: Decimal,
    pub usage_usd: Decimal,
    /// When `usage_usd` was last read from OpenRouter; `None` before the first sync.
    pub usage_synced_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// Assigned to the workshop's guardrail (model restrictions apply).
    pub bound: bool,
    /// An organiser disabled it.
    pub disabled: bool,
}

/// The attendee's spend as last read from OpenRouter, for the usage bar that refreshes itself:
/// already in words and numbers, so the browser only swaps text (no money or calendar code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// The bar's `max` and `value` (dollars; the value stops at the budget).
    pub bar_max: String,
    pub bar_value: String,
    /// "$0.42 of $2.00 used · $1.58 left".
    pub summary: String,
    /// When OpenRouter was last read for this key; `None` before the first sync.
    pub synced_at: Option<TimeText>,
    /// How often the server reads it (`USAGE_SYNC_SECONDS`).
    pub sync_every_secs: u64,
}

impl Usage {
    /// `zone`: the venue's, for the time's text before the browser rewrites it.
    pub fn new(
        usage_usd: Decimal,
        limit_usd: Decimal,
        synced_at: Option<DateTime<Utc>>,
        sync_every_secs: u64,
        zone: chrono::FixedOffset,
    ) -> Usage {
        use crate::ui::format_usd;
        let left = (limit_usd - usage_usd).max(Decimal::ZERO);
        Usage {
            bar_max: limit_usd.to_string(),
            bar_value: usage_usd.min(limit_usd).to_string(),
            summary: format!("{} of {} used · {} left", format_usd(usage_usd), format_usd(limit_usd), format_usd(left)),
            synced_at: synced_at.map(|at| TimeText::new(at, &zone)),
            sync_every_secs,
        }
    }
}

/// The attendee's marketing consent in this workshop, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentState {
    pub given_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// Everything `/w/{slug}` renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkshopPageData {
    pub workshop: Workshop,
    pub welcome_html: String,
    pub window: WindowState,
    /// The server's clock when the page was loaded: countdowns run from it, not from the
    /// viewer's (possibly wrong) clock.
    pub now: DateTime<Utc>,
    pub pool_size: u32,
    pub claimed: u32,
    /// Claims are paused (the kill switch), in this workshop or everywhere.
    pub paused: Option<Pause>,
    pub user: Option<SessionUser>,
    pub my_key: Option<MyKey>,
    /// Consent to marketing email given here, if the attendee gave it.
    pub consent: Option<ConsentState>,
    /// How often the server reads usage from OpenRouter, in seconds.
    pub sync_every_secs: u64,
    /// The sign-in buttons; empty when no sign-in method is configured.
    pub sign_in: Vec<SignInOption>,
}

impl WorkshopPageData {
    pub fn keys_left(&self) -> u32 {
        self.pool_size.saturating_sub(self.claimed)
    }
}

#[server]
pub async fn load_workshop_page(slug: String) -> Result<WorkshopPageData, ClaimError> {
    crate::http::answer(workshop_page(&slug).await)
}

#[cfg(feature = "ssr")]
async fn workshop_page(slug: &str) -> Result<WorkshopPageData, ClaimError> {
    let state = crate::state::app_state().map_err(|_| ClaimError::internal())?;
    let workshop = state.workshop(slug).ok_or(ClaimError::UnknownWorkshop)?;
    let user = crate::signed_in::current_user(&state).await;
    let (my_key, consent) = match &user {
        Some(user) => (
            state.store.attendance(&user.user_id, slug).await?.and_then(mint::my_key),
            state
                .store
                .marketing_consent(&user.user_id, slug)
                .await?
                .map(|c| ConsentState { given_at: c.given_at, withdrawn_at: c.withdrawn_at }),
        ),
        None => (None, None),
    };
    let claimed = state.store.claimed_count(slug).await?;
    let paused = state.store.claims_pause(slug).await?.map(|pause| pause.scope());
    let now = Utc::now();
    Ok(WorkshopPageData {
        workshop: workshop.clone(),
        welcome_html: crate::markdown::to_safe_html(&workshop.welcome_message),
        window: workshop.window_state(now),
        now,
        pool_size: workshop.pool_size(),
        claimed,
        paused,
        user,
        my_key,
        consent,
        sync_every_secs: state.usage_sync_every.as_secs(),
        sign_in: state.sign_in_options(&format!("/w/{slug}")),
    })
}

/// Claims the signed-in attendee's key. Posted by a plain `<form>` when JavaScript is off, in
/// which case errors come back as `?error=<code>` on the workshop page.
#[server]
pub async fn claim_key(slug: String, marketing_consent: Option<String>) -> Result<MyKey, ClaimError> {
    use crate::state::app_state;

    let state = app_state().map_err(ClaimError::from_server_fn_error)?;
    // Authentication first: nothing about workshops is told to a request without a session.
    let user = crate::signed_in::current_user(&state).await;
    let workshop = state.workshop(&slug);
    let result = async {
        let user = user.ok_or(ClaimError::NotSignedIn)?;
        let workshop = workshop.ok_or(ClaimError::UnknownWorkshop)?;
        if !state.limits.allow_claim(&user.user_id) {
            return Err(ClaimError::TooManyAttempts);
        }
        let consent = marketing_consent.is_some_and(|v| !v.is_empty());
        // On a task of its own: if the browser goes away or the request times out mid-mint, the
        // claim still finishes (no key left half-made), and a reload shows the key.
        let reference = crate::request_id::current();
        let claim = {
            let (state, user) = (state.clone(), user.clone());
            let span = tracing::Span::current();
            tokio::spawn(tracing::Instrument::instrument(
                async move { mint::claim(&state, &user, workshop, consent, Utc::now()).await },
                span,
            ))
        };
        let row = match claim.await {
            Ok(Ok(row)) => row,
            // Errors made on the task cannot read the request's id: give them this one's.
            Ok(Err(ClaimError::Internal { .. })) => return Err(ClaimError::Internal { reference }),
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, "the claim task failed");
                return Err(ClaimError::Internal { reference });
            }
        };
        mint::my_key(row).ok_or(ClaimError::InProgress)
    }
    .await;
    // Without JavaScript the form lands back on the workshop page, which tells of the outcome.
    let back = match &result {
        Ok(_) => format!("/w/{slug}"),
        Err(error) => error.page_url(&slug),
    };
    if workshop.is_some() {
        crate::http::redirect_plain_form(&back);
    }
    crate::http::answer(result)
}

/// The signed-in attendee's stored usage: what the page's usage bar polls (never OpenRouter
/// itself; the server syncs in the background).
#[server]
pub async fn load_my_usage(slug: String) -> Result<Usage, ClaimError> {
    use crate::state::app_state;

    let state = app_state().map_err(ClaimError::from_server_fn_error)?;
    let result = async {
        let user = crate::signed_in::current_user(&state).await.ok_or(ClaimError::NotSignedIn)?;
        let workshop = state.workshop(&slug).ok_or(ClaimError::UnknownWorkshop)?;
        let row = state.store.attendance(&user.user_id, &workshop.slug).await?;
        let key = row.and_then(mint::my_key).ok_or(ClaimError::NoKeyYet)?;
        Ok(Usage::new(
            key.usage_usd,
            key.limit_usd,
            key.usage_synced_at,
            state.usage_sync_every.as_secs(),
            *workshop.starts_at.offset(),
        ))
    }
    .await;
    crate::http::answer(result)
}

/// Withdraws the signed-in attendee's consent to marketing email given in this workshop (the
/// consent text promises it). Recorded, not deleted; withdrawing twice changes nothing. Posted
/// without JavaScript, it lands back on the page.
#[server]
pub async fn withdraw_consent(slug: String) -> Result<(), ClaimError> {
    use crate::state::app_state;

    let state = app_state().map_err(ClaimError::from_server_fn_error)?;
    let result = async {
        let user = crate::signed_in::current_user(&state).await.ok_or(ClaimError::NotSignedIn)?;
        let workshop = state.workshop(&slug).ok_or(ClaimError::UnknownWorkshop)?;
        if state.store.withdraw_marketing_consent(&user.user_id, &workshop.slug, Utc::now()).await? {
            tracing::info!(workshop = %workshop.slug, "marketing consent withdrawn");
        }
        crate::http::redirect_plain_form(&format!("/w/{slug}#consent"));
        Ok(())
    }
    .await;
    crate::http::answer(result)
}

/// "Test my key": a minimal request with the attendee's own key to the workshop's cheapest
/// model. Posted without JavaScript, it lands back on the page with `?key_test=<code>`.
#[server]
pub async fn check_my_key(slug: String) -> Result<KeyCheck, ClaimError> {
    use crate::state::app_state;

    let state = app_state().map_err(ClaimError::from_server_fn_error)?;
    let result = async {
        let user = crate::signed_in::current_user(&state).await.ok_or(ClaimError::NotSignedIn)?;
        let workshop = state.workshop(&slug).ok_or(ClaimError::UnknownWorkshop)?;
        let key = state.store.attendance(&user.user_id, &slug).await?.and_then(|row| row.or_key_plaintext);
        let key = key.ok_or(ClaimError::NoKeyYet)?;
        let model = key_check::cheapest_model(&workshop.openrouter.models).ok_or_else(ClaimError::internal)?;
        // Each test spends the attendee's budget and an OpenRouter request: a few a minute per
        // person, and a handful at once for everyone, apart from the minting capacity.
        if !state.limits.allow_key_test(&user.user_id) {
            return Err(ClaimError::TooManyAttempts);
        }
        let _slot = state.limits.key_test_slot().ok_or(ClaimError::Busy)?;
        let check = key_check::check_key(&state.openrouter, &key, &model.id).await;
        crate::http::redirect_plain_form(&format!("/w/{slug}?key_test={}#key-test", check.code()));
        Ok(check)
    }
    .await;
    crate::http::answer(result)
}
