//! Facts every page needs: demo mode and who is signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::SessionUser;
use crate::claim::ClaimError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub demo: bool,
    /// Demo mode with a real OpenRouter management key: the keys it mints are real and cost money.
    pub demo_real_keys: bool,
    pub user: Option<SessionUser>,
    /// The user may run at least one workshop's admin page (the header links to it).
    pub admin: bool,
}

impl SiteInfo {
    /// The banner every page shows in demo mode, if any.
    pub fn banner(&self) -> Option<&'static str> {
        demo_banner(self.demo, self.demo_real_keys)
    }
}

/// What the demo banner says: sign-in is unverified, and whether the keys are real.
pub fn demo_banner(demo: bool, real_keys: bool) -> Option<&'static str> {
    match (demo, real_keys) {
        (false, _) => None,
        (true, false) => Some("Demo mode: sign-in is not verified and keys come from a simulated OpenRouter."),
        (true, true) => Some(
            "Demo mode with a real OpenRouter account: sign-in is not verified, and the keys minted here are \
             real and cost money.",
        ),
    }
}

#[server]
pub async fn load_site_info() -> Result<SiteInfo, ClaimError> {
    let state = crate::state::app_state().map_err(|_| ClaimError::internal())?;
    let user = crate::signed_in::current_user(&state).await;
    let admin = user
        .as_ref()
        .is_some_and(|user| state.workshops().iter().any(|w| crate::admin::access::may_run(&state, user, w)));
    Ok(SiteInfo { demo: state.demo, demo_real_keys: state.demo && state.simulator.is_none(), user, admin })
}

/// A workshop as the home page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkshopSummary {
    pub slug: String,
    pub name: String,
    pub event: String,
    pub location: String,
    pub starts_at: chrono::DateTime<chrono::FixedOffset>,
    pub window: crate::workshops::WindowState,
}

/// What the home page lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkshopList {
    /// Active workshops that have not ended, earliest first.
    pub upcoming: Vec<WorkshopSummary>,
    /// Whether this server has any workshop file at all (a fresh deployment has none).
    pub any_configured: bool,
}

#[server]
pub async fn list_workshops() -> Result<WorkshopList, ClaimError> {
    let state = crate::state::app_state().map_err(|_| ClaimError::internal())?;
    let now = chrono::Utc::now();
    let upcoming = state
        .workshops()
        .iter()
        .filter(|w| w.is_active && w.ends_at > now)
        .map(|w| WorkshopSummary {
            slug: w.slug.clone(),
            name: w.name.clone(),
            event: w.event.clone(),
            location: w.location.clone(),
            starts_at: w.starts_at,
            window: w.window_state(now),
        })
        .collect();
    Ok(WorkshopList { upcoming, any_configured: !state.workshops().is_empty() })
}
