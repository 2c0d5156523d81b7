//! Facts every page needs: demo mode and who is signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::SessionUser;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub demo: bool,
    pub user: Option<SessionUser>,
    /// The user may run at least one workshop's admin page (the header links to it).
    pub admin: bool,
}

#[server]
pub async fn load_site_info() -> Result<SiteInfo, ServerFnError> {
    let state = crate::state::app_state()?;
    let user = crate::auth::current_user(&state).await;
    let admin = user
        .as_ref()
        .is_some_and(|user| state.workshops().iter().any(|w| crate::admin::access::may_run(&state, user, w)));
    Ok(SiteInfo { demo: state.demo, user, admin })
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

/// Active workshops that have not ended, earliest first.
#[server]
pub async fn list_workshops() -> Result<Vec<WorkshopSummary>, ServerFnError> {
    let state = crate::state::app_state()?;
    let now = chrono::Utc::now();
    Ok(state
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
        .collect())
}
