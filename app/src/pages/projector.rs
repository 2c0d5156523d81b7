//! `/w/{slug}/projector`: for the screen at the front of the room. A QR code of the workshop page,
//! the claim window and a live "N keys claimed" counter, large enough to read from the back. The
//! page is rendered on the server; the window and counter are an island that asks for them again
//! every few seconds.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::claim::ClaimError;
use crate::ui::{every_visible, lazy_island_ready, zone_secs, WindowStatus};
use crate::workshops::{Pause, WindowState};

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
    pub live: Live,
}

/// What changes while the projector is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    pub window: WindowState,
    pub now: DateTime<Utc>,
    pub claimed: u32,
    pub pool_size: u32,
    pub paused: Option<Pause>,
}

#[server]
pub async fn load_projector(slug: String) -> Result<ProjectorData, ClaimError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(|_| ClaimError::internal())?;
            let workshop = state.workshop(&slug).ok_or(ClaimError::UnknownWorkshop)?;
            let url = format!("{}/w/{slug}", state.sign_in.public_url().trim_end_matches('/'));
            let qr_svg = crate::qr::svg(&url).map_err(|e| {
                tracing::warn!(error = %e, "drawing the projector's QR code failed");
                ClaimError::internal()
            })?;
            Ok(ProjectorData {
                name: workshop.name.clone(),
                event: workshop.event.clone(),
                starts_at: workshop.starts_at,
                qr_svg,
                url,
                live: live(&state, workshop).await?,
            })
        }
        .await,
    )
}

/// The window and the counter, as the projector asks for them every few seconds.
#[server]
pub async fn load_projector_live(slug: String) -> Result<Live, ClaimError> {
    crate::http::answer(
        async {
            let state = crate::state::app_state().map_err(|_| ClaimError::internal())?;
            let workshop = state.workshop(&slug).ok_or(ClaimError::UnknownWorkshop)?;
            live(&state, workshop).await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
async fn live(state: &crate::state::AppState, workshop: &crate::workshops::Workshop) -> Result<Live, ClaimError> {
    // A storage failure is logged (ClaimError's `From`), not shown on the wall.
    let now = Utc::now();
    Ok(Live {
        window: workshop.window_state(now),
        now,
        claimed: state.store.claimed_count(&workshop.slug).await?,
        pool_size: workshop.pool_size(),
        paused: state.store.claims_pause(&workshop.slug).await?.map(|pause| pause.scope()),
    })
}

#[component]
pub fn ProjectorPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let data = Resource::new_blocking(slug, load_projector);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <Projector data slug=slug()/> }.into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Projector(data: ProjectorData, slug: String) -> impl IntoView {
    let zone = zone_secs(*data.starts_at.offset());
    view! {
        <Title text=format!("{} — projector", data.name)/>
        <article class="projector">
            <div class="qr" role="img" aria-label=format!("QR code for {}", data.url) inner_html=data.qr_svg></div>
            <div class="projector-text">
                <p class="muted">{data.event}</p>
                <h1>{data.name}</h1>
                <p class="projector-url">"Scan, or open " <strong>{data.url}</strong></p>
                <ProjectorLive slug live=data.live zone/>
            </div>
        </article>
    }
}

/// The claims counter and window state, refreshed. Lazy: only the projector fetches its code.
#[island(lazy)]
fn ProjectorLive(slug: String, live: Live, zone: i32) -> impl IntoView {
    let live = RwSignal::new(live);
    let slug = StoredValue::new(slug);
    every_visible(REFRESH, move || {
        leptos::task::spawn_local(async move {
            if let Ok(fresh) = load_projector_live(slug.get_value()).await {
                live.set(fresh);
            }
        });
    });
    let zone_offset = FixedOffset::east_opt(zone).unwrap_or(FixedOffset::east_opt(0).expect("UTC"));
    let ready = lazy_island_ready();
    view! {
        <p class="projector-state" data-lazy-island="" data-ready=ready>
            {move || {
                let l = live.get();
                view! {
                    <WindowStatus
                        window=l.window
                        paused=l.paused
                        keys_left=l.pool_size.saturating_sub(l.claimed)
                        pool_size=l.pool_size
                        server_now=l.now
                        zone=zone_offset
                    />
                }
            }}
        </p>
        <p class="projector-count" aria-live="polite">
            <strong data-testid="claimed-count">{move || live.with(|l| l.claimed)}</strong>
            {move || if live.with(|l| l.claimed) == 1 { " key claimed" } else { " keys claimed" }}
        </p>
    }
}
