//! `/admin` (the workshops an admin may run) and `/admin/w/{slug}` (one workshop's claims).
//! Both answer 404 to everyone else, exactly like an address that does not exist.

mod live;
mod table;
mod workshop;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::admin::{load_admin_overview, AdminOverview, PauseAllClaims};
use crate::ui::{format_usd, LocalTime, WindowBadge};

pub use workshop::AdminWorkshopPage;

#[component]
pub fn AdminOverviewPage() -> impl IntoView {
    let overview = Resource::new_blocking(|| (), |_| load_admin_overview());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <Overview overview/> }.into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(overview: AdminOverview) -> impl IntoView {
    let paused_by = overview.paused_everywhere_by.clone();
    view! {
        <Title text="Admin — workshop keys"/>
        <h1>"Admin"</h1>
        {overview.may_pause_everywhere.then(|| view! { <PauseEverywhere paused_by/> })}
        <div class="table-scroll" role="region" aria-label="Workshops" tabindex="0">
            <table class="admin-overview">
                <thead>
                    <tr>
                        <th scope="col">"Workshop"</th>
                        <th scope="col">"Claims"</th>
                        <th scope="col" class="num">"Claimed / max"</th>
                        <th scope="col" class="num">"Spent / cap"</th>
                        <th scope="col" class="num">"Unbound"</th>
                        <th scope="col" class="num">"Orphans fixed"</th>
                        <th scope="col">"Last sync"</th>
                    </tr>
                </thead>
                <tbody>
                    {overview
                        .workshops
                        .into_iter()
                        .map(|w| {
                            let paused = w.paused_by.is_some() || w.paused_everywhere_by.is_some();
                            view! {
                                <tr data-testid=format!("overview-{}", w.slug)>
                                    <td>
                                        <a href=format!("/admin/w/{}", w.slug)>{w.name}</a>
                                        <div class="muted">{w.event}</div>
                                    </td>
                                    <td><WindowBadge window=w.window paused/></td>
                                    <td class="num">{format!("{} / {}", w.claimed, w.pool_size)}</td>
                                    <td class="num">{format!("{} / {}", format_usd(w.spent_usd), format_usd(w.cap_usd))}</td>
                                    <td class="num">{w.unbound}</td>
                                    <td class="num">{w.orphans_fixed}</td>
                                    <td>{last_sync(w.last_synced_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The one switch that stops claims in every workshop (`ADMIN_EMAILS` only): a plain form, so
/// it works before (and without) any JavaScript; the server sends the browser back here.
#[component]
fn PauseEverywhere(paused_by: Option<String>) -> impl IntoView {
    let paused = paused_by.is_some();
    view! {
        <section class="card pause-everywhere" aria-label="Claims in every workshop">
            <p data-testid="pause-everywhere-state">
                {match paused_by {
                    Some(by) => format!("Claims are paused in every workshop (by {by}). Attendees are told so."),
                    None => "Claims run in every workshop that is open.".to_string(),
                }}
            </p>
            <form method="post" action=pause_all_path()>
                <input type="hidden" name="paused" value=if paused { "false" } else { "true" }/>
                <button type="submit" class=if paused { "primary" } else { "danger" } data-testid="pause-everywhere">
                    {if paused { "Resume claims everywhere" } else { "Pause claims in every workshop" }}
                </button>
            </form>
        </section>
    }
}

fn pause_all_path() -> &'static str {
    <PauseAllClaims as leptos::server_fn::ServerFn>::PATH
}

fn last_sync(at: Option<chrono::DateTime<chrono::Utc>>) -> AnyView {
    match at {
        Some(at) => view! { <LocalTime at zone=0/> }.into_any(),
        None => "never".into_any(),
    }
}
