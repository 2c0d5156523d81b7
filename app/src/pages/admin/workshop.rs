//! `/admin/w/{slug}`: the live claims table and the workshop's controls (pause, sync, exports,
//! mint for someone). Rendered on the server with the rows as plain HTML; the island polls the
//! stored numbers every 3 s (only changes travel), and filters and sorts in the browser.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::live::{Notice, Page};
use super::table::{state_word, AttendanceTable};
use crate::admin::{load_admin_workshop, mint_for_someone, pause_claims, sync_now, AdminRow, AdminSummary, HandedKey};
use crate::ui::{every_visible, format_usd, lazy_island_ready, CopyButton, LocalTime, WindowBadge};

/// How often the table asks for the stored usage.
const POLL: Duration = Duration::from_secs(3);

#[component]
pub fn AdminWorkshopPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let initial = Resource::new_blocking(slug, load_admin_workshop);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Ok(data) => view! {
                        <Title text=format!("Admin: {} — workshop keys", data.summary.name)/>
                        <AdminWorkshopView summary=data.summary>
                            <StaticClaims rows=data.rows/>
                        </AdminWorkshopView>
                    }
                    .into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The live page: an island, as it polls, filters and sorts in the browser. The server's rows
/// come as `children` (plain HTML, what a browser without JavaScript keeps); the first poll
/// replaces them with the live table. Lazy: its code (most of the WASM) comes in a chunk of its
/// own, fetched only by the admin page.
#[island(lazy)]
fn AdminWorkshopView(summary: AdminSummary, children: Children) -> impl IntoView {
    let page = Page::new(summary);
    // The first poll at once, then every few seconds while the tab is visible.
    Effect::new(move |_| page.reload());
    every_visible(POLL, move || page.reload());
    let summary = Memo::new(move |_| page.data.with(|d| d.summary.clone()));
    let ready = lazy_island_ready();
    view! {
        <p class="muted"><a href="/admin">"Admin"</a> " › " {move || summary.with(|s| s.event.clone())}</p>
        <h1>{move || summary.with(|s| s.name.clone())}</h1>
        <SummaryLine summary/>
        <Controls page summary/>
        <p class="notice-line" role="status" data-testid="admin-notice" data-lazy-island="" data-ready=ready>
            {move || match page.notice.get() {
                Some(Notice::Done(text)) => view! { <span class="ok">{text}</span> }.into_any(),
                Some(Notice::Failed(text)) => view! { <span class="error">{text}</span> }.into_any(),
                None => ().into_any(),
            }}
        </p>
        <MintForSomeone page/>
        <div hidden=move || page.live.get()>{children()}</div>
        {move || page.live.get().then(|| view! { <AttendanceTable page/> })}
    }
    .into_any()
}

/// The claims as the server has them, in plain HTML: for the moment before the live table
/// arrives, and for a browser without JavaScript. Built as one string: 300 rows take well under
/// a millisecond.
#[component]
fn StaticClaims(rows: Vec<AdminRow>) -> impl IntoView {
    use std::fmt::Write as _;

    let escape =
        |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let minute = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut body = String::with_capacity(rows.len() * 200);
    for row in &rows {
        let state = state_word(row);
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=num>{} of {}</td><td>{}</td><td>{state}</td><td>{}</td></tr>",
            escape(&row.name),
            escape(&row.email),
            escape(&crate::claim::provider_label(&row.provider)),
            minute(row.claimed_at),
            format_usd(row.usage_usd),
            format_usd(row.limit_usd),
            minute(row.expires_at),
            row.synced_at.map(minute).unwrap_or_else(|| "never".into()),
        );
    }
    view! {
        <section class="attendance">
            <h2>"Claims"</h2>
            <div class="table-scroll" role="region" aria-label="Claims (as loaded)" tabindex="0">
                <table class="admin-table" data-testid="admin-table-static">
                    <thead>
                        <tr>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Sign-in"</th>
                            <th scope="col">"Claimed"</th>
                            <th scope="col" class="num">"Usage"</th>
                            <th scope="col">"Expires"</th>
                            <th scope="col">"Key"</th>
                            <th scope="col">"Last sync"</th>
                        </tr>
                    </thead>
                    <tbody inner_html=body></tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn SummaryLine(summary: Memo<AdminSummary>) -> impl IntoView {
    view! {
        <p class="window" data-testid="admin-summary">
            {move || {
                let s = summary.get();
                view! {
                    <WindowBadge window=s.window paused=s.paused_by.is_some() || s.paused_everywhere_by.is_some()/>
                    <span>
                        {format!(
                            "{} of {} keys claimed · {} of {} spent · {} unbound · {} disabled · {} orphans fixed · last sync ",
                            s.claimed,
                            s.pool_size,
                            format_usd(s.spent_usd),
                            format_usd(s.cap_usd),
                            s.unbound,
                            s.disabled,
                            s.orphans_fixed,
                        )}
                        {match s.last_synced_at {
                            Some(at) => view! { <LocalTime at zone=0/> }.into_any(),
                            None => "never".into_any(),
                        }}
                    </span>
                }
            }}
        </p>
    }
    .into_any()
}

#[component]
fn Controls(page: Page, summary: Memo<AdminSummary>) -> impl IntoView {
    let slug = page.slug.get_value();
    let paused = move || summary.with(|s| s.paused_by.is_some());
    let toggle_pause = move |_| {
        let pause = !paused();
        let done = move |()| if pause { "Claims paused.".to_string() } else { "Claims resumed.".to_string() };
        page.run(done, pause_claims(page.slug.get_value(), pause));
    };
    let sync = move |_| {
        let done = |s: crate::admin::SyncSummary| {
            format!(
                "Synced: {} keys read in {} list calls, {} rows updated, {} re-bound, {} orphans disabled.",
                s.keys_seen, s.list_calls, s.rows_updated, s.rebound, s.orphans_disabled
            )
        };
        page.run(done, sync_now(page.slug.get_value()));
    };
    view! {
        <div class="admin-controls">
            <button type="button" class=move || if paused() { "primary" } else { "danger" }
                on:click=toggle_pause disabled=move || page.busy.get() data-testid="pause-claims">
                {move || if paused() { "Resume claims" } else { "Pause claims" }}
            </button>
            {move || summary.with(|s| s.paused_by.clone()).map(|by| view! { <span class="muted">"Paused by " {by}</span> })}
            {move || {
                summary
                    .with(|s| s.paused_everywhere_by.clone())
                    .map(|by| view! { <span class="muted" data-testid="paused-everywhere">"Claims in every workshop paused by " {by}</span> })
            }}
            <button type="button" class="secondary" on:click=sync disabled=move || page.busy.get()>"Sync now"</button>
            <a class="button secondary" rel="external" download href=format!("/admin/w/{slug}/attendance.csv")>
                "Export attendance (CSV)"
            </a>
            <a class="button secondary" rel="external" download href=format!("/admin/w/{slug}/leads.csv")>
                "Export opted-in leads (CSV)"
            </a>
        </div>
    }
    .into_any()
}

/// For an attendee without Google or GitHub: the admin types email and name, and the key is
/// shown once, with a QR code to scan from this screen.
#[component]
fn MintForSomeone(page: Page) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let handed = RwSignal::new(None::<HandedKey>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (slug, e, n) = (page.slug.get_value(), email.get_untracked(), name.get_untracked());
        page.busy.set(true);
        spawn_local(async move {
            match mint_for_someone(slug, e, n).await {
                Ok(key) => {
                    page.notice.set(Some(Notice::Done(format!("Key minted for {}.", key.email))));
                    email.set(String::new());
                    name.set(String::new());
                    handed.set(Some(key));
                }
                Err(e) => page.notice.set(Some(Notice::Failed(e.to_string()))),
            }
            page.busy.set(false);
            page.reload();
        });
    };
    view! {
        <details class="card mint-for-someone">
            <summary>"Mint a key for someone without Google or GitHub"</summary>
            <form on:submit=submit>
                <label>"Email" <input type="email" required autocomplete="off" bind:value=email/></label>
                <label>"Name" <input type="text" required maxlength="100" autocomplete="off" bind:value=name/></label>
                <button type="submit" class="primary" disabled=move || page.busy.get()>"Mint key"</button>
            </form>
            {move || handed.get().map(|key| view! {
                <div class="handed-key" data-testid="handed-key">
                    <p>
                        <strong>"Shown once: "</strong> "hand it to " {key.name.clone()} " (" {key.email.clone()}
                        ") now. They can scan it or copy it."
                    </p>
                    <div class="key-row">
                        <code class="key" data-testid="handed-key-value">{key.key.clone()}</code>
                        <CopyButton text=key.key.clone() label="Copy the handed-over key".to_string()/>
                    </div>
                    <div class="qr" inner_html=key.qr_svg.clone() role="img" aria-label="QR code of the key"></div>
                    <button type="button" class="secondary" on:click=move |_| handed.set(None)>"Done, hide it"</button>
                </div>
            })}
        </details>
    }
    .into_any()
}
