use leptos::prelude::*;

use crate::site::list_workshops;
use crate::ui::{zone_secs, LocalTime, WindowBadge};

#[component]
pub fn HomePage() -> impl IntoView {
    let workshops = Resource::new_blocking(|| (), |_| list_workshops());
    view! {
        <h1>"Workshops"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match workshops.await {
                    Ok(list) if !list.any_configured => view! {
                        <p data-testid="no-workshops">
                            "This server has no workshops yet. Organisers add one as a YAML file in the "
                            <code>"workshops/"</code> " folder of the repository and deploy."
                        </p>
                    }.into_any(),
                    Ok(list) if list.upcoming.is_empty() => view! {
                        <p data-testid="no-workshops">"No workshops right now."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="workshop-list">
                            {list.upcoming.into_iter().map(|w| view! {
                                <li class="card">
                                    <a href=format!("/w/{}", w.slug)><h2>{w.name}</h2></a>
                                    <p class="muted">
                                        {w.event} " · " {w.location} " · "
                                        <LocalTime at=w.starts_at.to_utc() zone=zone_secs(*w.starts_at.offset())/>
                                    </p>
                                    <WindowBadge window=w.window/>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(_) => view! { <p class="error">"Could not load the workshops."</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
