//! The admin side: who may see it, what it shows, and the server functions behind its buttons.
//!
//! Every server function here checks, on the server, that the signed-in user is an admin
//! (`ADMIN_EMAILS`) or an organiser of the workshop (its YAML `organisers`); anyone else gets
//! [`AdminError::NotFound`] and no data, exactly as for a workshop that does not exist.

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
pub mod actions;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod report;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::workshops::WindowState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AdminError {
    /// Not signed in, not allowed, or no such workshop or row: indistinguishable on purpose.
    #[error("Not found.")]
    NotFound,
    /// Each refusal below says why and what to do. This one: not in the row's present state
    /// (still being created, disabled, rotated by someone else, budget used up).
    #[error("{0}")]
    Conflict(String),
    /// What the admin typed is not usable.
    #[error("{0}")]
    Invalid(String),
    /// The workshop takes no claims now (window, pause), in the claim's own words.
    #[error("{0}")]
    NotTakingClaims(String),
    /// OpenRouter is busy or did not answer; trying again later may work.
    #[error("{0}")]
    Busy(String),
    /// OpenRouter refused; the detail is in the log under the reference.
    #[error("{0}")]
    OpenRouterRefused(String),
    /// Our side failed; the detail is in the log under the reference.
    #[error("{0}")]
    Internal(String),
    #[error("Could not reach the server. Check your connection and try again.")]
    Request(String),
}

impl FromServerFnError for AdminError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        crate::http::framework_error(&value);
        AdminError::Request(value.to_string())
    }
}

/// The status each refusal is answered with (the body says which error it is).
#[cfg(feature = "ssr")]
impl crate::http::ErrorStatus for AdminError {
    fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;

        match self {
            // Also for "not signed in" and "not allowed": indistinguishable on purpose.
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AdminError::NotTakingClaims(_) => StatusCode::FORBIDDEN,
            AdminError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::OpenRouterRefused(_) => StatusCode::BAD_GATEWAY,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Request(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// One workshop as the admin overview shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminSummary {
    pub slug: String,
    pub name: String,
    pub event: String,
    pub window: WindowState,
    /// Claims of this workshop paused by an admin or organiser (the kill switch), and by whom.
    pub paused_by: Option<String>,
    /// Claims paused in every workshop at once, and by whom.
    pub paused_everywhere_by: Option<String>,
    pub claimed: u32,
    pub pool_size: u32,
    /// What the workshop's keys have spent, by the last sync.
    pub spent_usd: Decimal,
    pub cap_usd: Decimal,
    pub unbound: u32,
    pub disabled: u32,
    pub orphans_fixed: u32,
    /// The latest usage sync of any of its keys.
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// One attendance row of the admin table. Short field names and times in whole seconds: 300 of
/// them travel with every poll that sees a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdminRow {
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "e")]
    pub email: String,
    #[serde(rename = "p")]
    pub provider: String,
    #[serde(rename = "c", with = "chrono::serde::ts_seconds")]
    pub claimed_at: DateTime<Utc>,
    /// False while the key is still being created.
    #[serde(rename = "m")]
    pub minted: bool,
    /// Spent and budget across the attendee's keys (rotated-away ones included).
    #[serde(rename = "s")]
    pub usage_usd: Decimal,
    #[serde(rename = "l")]
    pub limit_usd: Decimal,
    #[serde(rename = "x", with = "chrono::serde::ts_seconds")]
    pub expires_at: DateTime<Utc>,
    #[serde(rename = "b")]
    pub bound: bool,
    #[serde(rename = "d")]
    pub disabled: bool,
    #[serde(rename = "y", with = "chrono::serde::ts_seconds_option")]
    pub synced_at: Option<DateTime<Utc>>,
    #[serde(rename = "k")]
    pub key_label: String,
}

/// `/admin`: the workshops the user may run, and the site-wide switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub workshops: Vec<AdminSummary>,
    /// Who paused claims in every workshop, if anyone.
    pub paused_everywhere_by: Option<String>,
    /// The user is one of `ADMIN_EMAILS` (organisers run only their own workshops).
    pub may_pause_everywhere: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminWorkshop {
    pub summary: AdminSummary,
    pub rows: Vec<AdminRow>,
}

impl AdminWorkshop {
    /// A fingerprint of everything the page shows: equal fingerprints, nothing to send.
    pub fn version(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.rows.hash(&mut hasher);
        serde_json::to_string(&self.summary).unwrap_or_default().hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }
}

/// What the admin page's poll gets: the data, or word that nothing changed since `since`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant, reason = "one per poll answer, serialised at once: a box would save nothing")]
pub enum AdminPoll {
    Unchanged,
    Changed { version: String, data: AdminWorkshop },
}

/// A key an admin minted for someone at the desk, shown once to hand over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandedKey {
    pub name: String,
    pub email: String,
    pub key: String,
    pub expires_at: DateTime<Utc>,
    /// The key as a QR code (inline SVG) for the attendee's phone.
    pub qr_svg: String,
}

/// What "Sync now" did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    pub list_calls: u32,
    pub keys_seen: usize,
    pub rows_updated: u64,
    pub rebound: u32,
    pub orphans_disabled: u32,
}

#[server]
pub async fn load_admin_overview() -> Result<AdminOverview, AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (user, workshops) = access::require_any(&state).await?;
            let now = Utc::now();
            let mut summaries = Vec::with_capacity(workshops.len());
            for workshop in workshops {
                summaries.push(
                    report::workshop(state.store.as_ref(), &state.admin_reports, workshop, now)
                        .await?
                        .data
                        .summary
                        .clone(),
                );
            }
            Ok(AdminOverview {
                paused_everywhere_by: report::paused_everywhere_by(state.store.as_ref()).await?,
                may_pause_everywhere: access::is_admin(&state, &user),
                workshops: summaries,
            })
        }
        .await,
    )
}

#[server]
pub async fn load_admin_workshop(slug: String) -> Result<AdminWorkshop, AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (_, workshop) = access::require_workshop(&state, &slug).await?;
            Ok(report::workshop(state.store.as_ref(), &state.admin_reports, workshop, Utc::now()).await?.data.clone())
        }
        .await,
    )
}

/// The admin table's poll: the stored rows, only when they differ from the version the page
/// already shows (most polls answer `Unchanged`).
#[server]
pub async fn poll_admin_workshop(slug: String, since: Option<String>) -> Result<AdminPoll, AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (_, workshop) = access::require_workshop(&state, &slug).await?;
            let report = report::workshop(state.store.as_ref(), &state.admin_reports, workshop, Utc::now()).await?;
            Ok(if since.as_deref() == Some(report.version.as_str()) {
                AdminPoll::Unchanged
            } else {
                AdminPoll::Changed { version: report.version.clone(), data: report.data.clone() }
            })
        }
        .await,
    )
}

#[server]
pub async fn retry_binding(slug: String, user_id: String) -> Result<(), AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (_, workshop) = access::require_workshop(&state, &slug).await?;
            actions::retry_binding(&state, workshop, &user_id).await
        }
        .await,
    )
}

#[server]
pub async fn disable_key(slug: String, user_id: String) -> Result<(), AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (admin, workshop) = access::require_workshop(&state, &slug).await?;
            actions::disable_key(&state, workshop, &user_id, &admin.email).await
        }
        .await,
    )
}

#[server]
pub async fn rotate_key(slug: String, user_id: String) -> Result<(), AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (admin, workshop) = access::require_workshop(&state, &slug).await?;
            actions::rotate_key(&state, workshop, &user_id, &admin.email).await
        }
        .await,
    )
}

/// The kill switch: `paused = true` refuses every claim of the workshop until resumed.
#[server]
pub async fn pause_claims(slug: String, paused: bool) -> Result<(), AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (admin, workshop) = access::require_workshop(&state, &slug).await?;
            actions::pause_claims(&state, workshop, paused, &admin.email).await
        }
        .await,
    )
}

/// The site-wide switch (`ADMIN_EMAILS` only): `paused = true` refuses every claim in every
/// workshop until resumed; each workshop's own pause stays as it was.
#[server]
pub async fn pause_all_claims(paused: bool) -> Result<(), AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let admin = access::require_admin(&state).await?;
            actions::pause_all_claims(&state, paused, &admin.email).await
        }
        .await,
    )
}

#[server]
pub async fn mint_for_someone(slug: String, email: String, name: String) -> Result<HandedKey, AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (admin, workshop) = access::require_workshop(&state, &slug).await?;
            actions::mint_for_someone(&state, workshop, &email, &name, &admin.email).await
        }
        .await,
    )
}

#[server]
pub async fn sync_now(slug: String) -> Result<SyncSummary, AdminError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(AdminError::from_server_fn_error)?;
            let (_, workshop) = access::require_workshop(&state, &slug).await?;
            actions::sync_now(&state, workshop).await
        }
        .await,
    )
}
