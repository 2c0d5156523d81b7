//! `/w/{slug}/projector`: for the screen at the front of the room. A QR code of the workshop page,
//! the claim window and a live "N keys claimed" counter, large enough to read from the back.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::ui::{every, WindowStatus};
use crate::workshops::WindowState;

/// How often the projector asks for the counter.
const REFRESH: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectorData {
    pub name: String,
    pub event: String,
    pub starts_at: DateTime<FixedOffset>,
    /// The workshop page's public address, as the QR code encodes it.
    pub url: String,
    /// The QR code as an SVG element (generated on the server, black on white).
    pub qr_svg: String,
    pub window: WindowState,
    pub now: DateTime<Utc>,
    pub claimed: u32,
    pub pool_size: u32,
    pub paused: Option<crate::workshops::Pause>,
}

#[server]
pub async fn load_projector(slug: String) -> Result<ProjectorData, ServerFnError> {
    let state = crate::state::app_state()?;
    let workshop = state.workshop(&slug).ok_or_else(|| ServerFnError::new("no such workshop"))?;
    let url = format!("{}/w/{slug}", state.sign_in.public_url().trim_end_matches('/'));
    // The detail of a storage failure is for the log, not for the wall.
    let hidden = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "the projector could not read the claims");
        ServerFnError::new("Could not read the claims.")
    };
    let claimed = state.store.claimed_count(&slug).await.map_err(hidden)?;
    let paused = state.store.claims_pause(&slug).await.map_err(hidden)?.map(|pause| pause.scope());
    let now = Utc::now();
    Ok(ProjectorData {
        name: workshop.name.clone(),
        event: workshop.event.clone(),
        starts_at: workshop.starts_at,
        qr_svg: crate::qr::svg(&url).map_err(|_| ServerFnError::new("Could not draw the QR code."))?,
        url,
        window: workshop.window_state(now),
        now,
        claimed,
        pool_size: workshop.pool_size(),
        paused,
    })
}

#[component]
pub fn ProjectorPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let data = Resource::new_blocking(slug, load_projector);
    every(REFRESH, move || data.refetch());
    let reload = Callback::new(move |()| data.refetch());
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <Projector data reload/> }.into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Projector(data: ProjectorData, reload: Callback<()>) -> impl IntoView {
    let zone = *data.starts_at.offset();
    view! {
        <Title text=format!("{} — projector", data.name)/>
        <article class="projector">
            <div class="qr" role="img" aria-label=format!("QR code for {}", data.url) inner_html=data.qr_svg></div>
            <div class="projector-text">
                <p class="muted">{data.event}</p>
                <h1>{data.name}</h1>
                <p class="projector-url">"Scan, or open " <strong>{data.url}</strong></p>
                <p class="projector-state">
                    <WindowStatus
                        window=data.window
                        paused=data.paused
                        keys_left=data.pool_size.saturating_sub(data.claimed)
                        pool_size=data.pool_size
                        server_now=data.now
                        zone
                        reload
                    />
                </p>
                <p class="projector-count" aria-live="polite">
                    <strong data-testid="claimed-count">{data.claimed}</strong>
                    {if data.claimed == 1 { " key claimed" } else { " keys claimed" }}
                </p>
            </div>
        </article>
    }
}
