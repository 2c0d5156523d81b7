//! `/admin` (the workshops an admin may run) and `/admin/w/{slug}` (one workshop's claims).
//! Both answer 404 to everyone else, exactly like an address that does not exist.

mod table;
mod workshop;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::admin::{load_admin_overview, AdminSummary};
use crate::ui::{format_usd, LocalTime, WindowBadge};

pub use workshop::AdminWorkshopPage;

#[component]
pub fn AdminOverviewPage() -> impl IntoView {
    let overview = Resource::new_blocking(|| (), |_| load_admin_overview());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(list) => view! { <Overview list/> }.into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(list: Vec<AdminSummary>) -> impl IntoView {
    view! {
        <Title text="Admin — workshop keys"/>
        <h1>"Admin"</h1>
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
                    {list
                        .into_iter()
                        .map(|w| {
                            view! {
                                <tr data-testid=format!("overview-{}", w.slug)>
                                    <td>
                                        <a href=format!("/admin/w/{}", w.slug)>{w.name}</a>
                                        <div class="muted">{w.event}</div>
                                    </td>
                                    <td><WindowBadge window=w.window paused=w.paused_by.is_some()/></td>
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

fn last_sync(at: Option<chrono::DateTime<chrono::Utc>>) -> AnyView {
    match at {
        Some(at) => view! { <LocalTime at fallback_zone=chrono::FixedOffset::east_opt(0).expect("UTC")/> }.into_any(),
        None => "never".into_any(),
    }
}
