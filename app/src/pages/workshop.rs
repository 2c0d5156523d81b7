//! `/w/{slug}`: what the workshop is, whether keys can be claimed, and the attendee's key.
//!
//! Rendered on the server; only the parts that move are islands shipped to the browser: the
//! claim form's progress and errors, the snippet tabs, the copy buttons, the key test, the usage
//! bar, the countdowns and local times. The islands get text the server already wrote (money,
//! dates, every snippet tab, a key test's outcome), so the browser carries no money, calendar,
//! snippet or explanation code. The requests the key test and the usage bar send are `#[lazy]`
//! functions, fetched on first use: the page's load carries no server-function client.
//! Everything works without JavaScript: the claim, the key test and the consent withdrawal are
//! plain forms, the tabs are links.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::claim::key_check::cheapest_model;
use crate::claim::snippets::{snippet, Snippet, SnippetKind};
use crate::claim::{
    check_my_key, load_my_usage, load_workshop_page, provider_label, CheckMyKey, ClaimError, ClaimKey, ConsentState,
    KeyCheck, KeyCheckText, MyKey, Usage, WithdrawConsent, WorkshopPageData as PageData,
};
use crate::ui::{
    every_visible, format_usd, lazy_island_ready, zone_secs, CopyButton, Countdown, LocalTime, TimeText, ViewerTime,
    WindowStatus,
};
use crate::workshops::{Model, WindowState};

#[component]
pub fn WorkshopPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let page = Resource::new_blocking(slug, load_workshop_page);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => view! { <Workshop data/> }.into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Workshop(data: PageData) -> impl IntoView {
    let w = &data.workshop;
    let zone = *w.starts_at.offset();
    view! {
        <Title text=format!("{} — workshop keys", w.name)/>
        <article class="workshop">
            <header>
                <p class="muted">{w.event.clone()}</p>
                <h1>{w.name.clone()}</h1>
                <p class="muted">
                    {w.location.clone()} " · " <LocalTime at=w.starts_at.to_utc() zone=zone_secs(zone)/>
                </p>
                <p class="window" data-testid="window-state">
                    <WindowStatus
                        window=data.window
                        paused=data.paused
                        keys_left=data.keys_left()
                        pool_size=data.pool_size
                        server_now=data.now
                        zone
                    />
                </p>
            </header>
            <section class="welcome" inner_html=data.welcome_html.clone()></section>
            <KeyOrClaim data=data.clone()/>
            {data.consent.clone().map(|consent| view! { <Consent consent slug=w.slug.clone() zone/> })}
            <ModelTable models=w.openrouter.models.clone()/>
        </article>
    }
}

#[component]
fn ModelTable(models: Vec<Model>) -> impl IntoView {
    view! {
        <section>
            <h2>"Models"</h2>
            // Focusable, so keyboard users can scroll it sideways on a phone.
            <div class="table-scroll" role="region" aria-label="Models table" tabindex="0">
                <table class="models">
                    <thead>
                        <tr>
                            <th scope="col">"Model"</th>
                            <th scope="col">"Id"</th>
                            <th scope="col">"Note"</th>
                            <th scope="col" class="num">"$ / M tokens in"</th>
                            <th scope="col" class="num">"$ / M tokens out"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {models
                            .into_iter()
                            .map(|m| {
                                view! {
                                    <tr>
                                        <td>{m.label}</td>
                                        <td><code>{m.id}</code></td>
                                        <td>{m.note}</td>
                                        <td class="num">{m.price_in_per_mtok.to_string()}</td>
                                        <td class="num">{m.price_out_per_mtok.to_string()}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn KeyOrClaim(data: PageData) -> impl IntoView {
    let zone = *data.workshop.starts_at.offset();
    if let Some(key) = data.my_key {
        return view! {
            <YourKey
                key
                zone
                now=data.now
                slug=data.workshop.slug.clone()
                models=data.workshop.openrouter.models.clone()
                sync_every_secs=data.sync_every_secs
            />
        }
        .into_any();
    }
    match data.user.clone() {
        Some(user) => view! { <ConfirmClaim data user/> }.into_any(),
        None => view! { <SignInCard options=data.sign_in/> }.into_any(),
    }
}

#[component]
fn SignInCard(options: Vec<crate::auth::SignInOption>) -> impl IntoView {
    let buttons = if options.is_empty() {
        view! { <p class="muted">"Sign-in is not available on this server yet."</p> }.into_any()
    } else {
        view! {
            <div class="sign-in-options">
                {options
                    .into_iter()
                    .map(|option| view! { <a class="button" rel="external" href=option.href>{option.label}</a> })
                    .collect_view()}
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card sign-in">
            <h2>"Get your key"</h2>
            <p>"Sign in so that the key is yours: reloading, or another device, shows the same one."</p>
            {buttons}
        </section>
    }
}

/// The confirmation step: who you are, what you get, then the claim form.
#[component]
fn ConfirmClaim(data: PageData, user: crate::auth::SessionUser) -> impl IntoView {
    let open = matches!(data.window, WindowState::Open { .. }) && data.keys_left() > 0;
    let w = data.workshop;
    let zone = *w.starts_at.offset();
    let opens_at = match data.window {
        WindowState::NotYetOpen { opens_at } => Some(opens_at),
        _ => None,
    };
    // The outcome of a claim posted without JavaScript comes back in the address.
    let query = use_query_map();
    let error = query.with_untracked(|q| {
        q.get("error").map(|code| ClaimError::from_code(&code, q.get("via"), q.get("ref"), opens_at))
    });
    let model_names = w.openrouter.models.iter().map(|m| m.label.clone()).collect::<Vec<_>>().join(", ");
    view! {
        <section class="card claim" aria-labelledby="claim-heading">
            <h2 id="claim-heading">"Claim your key"</h2>
            <dl class="facts">
                <dt>"You are"</dt>
                <dd>
                    <strong>{user.email.clone()}</strong>
                    " (signed in with " {provider_label(&user.provider)} ")"
                </dd>
                <dt>"You get"</dt>
                <dd>
                    "A personal OpenRouter key with a " <strong>{format_usd(w.openrouter.budget_usd)}</strong>
                    " budget, for " {model_names}
                </dd>
                <dt>"Valid until"</dt>
                <dd><LocalTime at=w.key_expires_at() zone=zone_secs(zone)/></dd>
            </dl>
            <ClaimForm slug=w.slug.clone() open error zone=zone_secs(zone)/>
        </section>
    }
}

/// The claim form, enhanced: while the key is being minted it says so, a refusal is shown in
/// place, and once the key exists the page is loaded again to show it. Without JavaScript the
/// form posts and the server redirects back to the page. Lazy: the page with the key, which most
/// loads are, does not carry the form, nor its code.
#[island(lazy)]
fn ClaimForm(slug: String, open: bool, error: Option<ClaimError>, zone: i32) -> impl IntoView {
    let claim = ServerAction::<ClaimKey>::new();
    let pending = claim.pending();
    // The outcome is the server's to render: the key, or the refusal with the state behind it
    // ("Sold out"). Only a request that never reached the server is told in place.
    let page_slug = slug.clone();
    Effect::new(move |_| match claim.value().get() {
        Some(Ok(_)) => navigate_to(&format!("/w/{page_slug}")),
        Some(Err(ClaimError::Request(_))) | None => {}
        Some(Err(error)) => navigate_to(&error.page_url(&page_slug)),
    });
    let shown_error = move || claim.value().get().and_then(|r| r.err()).or_else(|| error.clone());
    let ready = lazy_island_ready();
    // A plain form, as the key test's: the arguments are built here, not parsed from the form.
    // The box is read when the form is sent: it may have been ticked before this hydrated.
    let consent_box = NodeRef::<leptos::html::Input>::new();
    let submit = {
        let slug = slug.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let ticked = consent_box.get_untracked().is_some_and(|input| input.checked());
            let marketing_consent = ticked.then(|| "yes".to_string());
            claim.dispatch(ClaimKey { slug: slug.clone(), marketing_consent });
        }
    };
    view! {
        <form method="post" action=ClaimKey::url() on:submit=submit>
            <input type="hidden" name="slug" value=slug/>
            <label class="consent">
                <input type="checkbox" name="marketing_consent" value="yes" node_ref=consent_box/>
                <span>
                    "Email me about future workshops. Optional: your key does not depend on it, "
                    "and you can ask us to stop at any time."
                </span>
            </label>
            <button
                type="submit"
                class="button"
                data-testid="claim"
                data-lazy-island=""
                data-ready=ready
                disabled=move || !open || pending.get()
                aria-describedby="claim-progress"
            >
                {move || if pending.get() { "Creating your key…" } else { "Claim my key" }}
            </button>
        </form>
        <p id="claim-progress" class="progress" role="status">
            {move || {
                pending
                    .get()
                    .then(|| {
                        view! {
                            <span class="spinner" aria-hidden="true"></span>
                            "Creating your key at OpenRouter. With many people claiming at once this takes a few seconds."
                        }
                    })
            }}
        </p>
        {move || shown_error().map(|error| view! { <ClaimErrorText error zone/> })}
    }
}

/// Loads `path` in the browser (a new server render); nothing on the server.
fn navigate_to(path: &str) {
    #[cfg(feature = "hydrate")]
    let _ = window().location().assign(path);
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

#[component]
fn ClaimErrorText(error: ClaimError, zone: i32) -> impl IntoView {
    let text = match error {
        ClaimError::NotOpenYet { opens_at } => view! { "Claims open at " <LocalTime at=opens_at zone/> "." }.into_any(),
        other => other.to_string().into_any(),
    };
    view! { <p class="error" role="alert" data-testid="claim-error">{text}</p> }
}

/// The marketing consent given here, and the promised way to take it back (a plain form: the
/// server records the withdrawal and sends the browser back here).
#[component]
fn Consent(consent: ConsentState, slug: String, zone: FixedOffset) -> impl IntoView {
    let zone = zone_secs(zone);
    let status = match consent.withdrawn_at {
        Some(at) => view! {
            <p data-testid="consent-state">
                "You withdrew your consent to emails about future workshops on " <LocalTime at zone/> "."
            </p>
        }
        .into_any(),
        None => view! {
            <p data-testid="consent-state">
                "You agreed to emails about future workshops on " <LocalTime at=consent.given_at zone/>
                ". You can take that back at any time."
            </p>
            <form method="post" action=withdraw_path()>
                <input type="hidden" name="slug" value=slug/>
                <button type="submit" class="button secondary" data-testid="withdraw-consent">
                    "Withdraw my consent"
                </button>
            </form>
        }
        .into_any(),
    };
    view! {
        <section id="consent" class="card consent-note" aria-label="Marketing consent">
            {status}
        </section>
    }
}

fn withdraw_path() -> &'static str {
    <WithdrawConsent as leptos::server_fn::ServerFn>::PATH
}

#[component]
fn YourKey(
    key: MyKey,
    zone: FixedOffset,
    now: DateTime<Utc>,
    slug: String,
    models: Vec<Model>,
    sync_every_secs: u64,
) -> impl IntoView {
    let query = use_query_map();
    let (tab, key_test) = query.with_untracked(|q| (q.get("snippet"), q.get("key_test")));
    let model = cheapest_model(&models).map(|m| m.id.clone()).unwrap_or_default();
    let checked = key_test.and_then(|code| KeyCheck::from_code(&code, &model)).map(|check| KeyCheckText::from(&check));
    let model_ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
    view! {
        <section class="card your-key" aria-labelledby="your-key-heading">
            <h2 id="your-key-heading">"Your key"</h2>
            <div class="key-row">
                <code data-testid="api-key" class="key">{key.key.clone()}</code>
                <CopyButton text=key.key.clone() label="Copy key".to_string()/>
            </div>
            <p>
                "Expires in " <Countdown until=key.expires_at server_now=now reload=false/> " ("
                <LocalTime at=key.expires_at zone=zone_secs(zone)/> ")"
            </p>
            {key.disabled.then(|| view! {
                <p class="notice error" role="alert" data-testid="key-disabled">
                    "The organisers disabled this key. Ask them if you need a new one."
                </p>
            })}
            <UsageBar
                usage=Usage::new(key.usage_usd, key.limit_usd, key.usage_synced_at, sync_every_secs, zone)
                slug=slug.clone()
            />
            {(!key.bound && !key.disabled).then(|| view! { <p class="muted">"Model restrictions are still being applied to this key."</p> })}
            <Snippets key=key.key.clone() models=model_ids tab=SnippetKind::from_id(tab.as_deref())/>
            <KeyTest slug model checked/>
        </section>
    }
}

/// How often the usage bar asks for the stored usage: half the server's own period of reading
/// OpenRouter (`USAGE_SYNC_SECONDS`), between 5 s and a minute: every 30 s by default, gentle on a
/// room of 300.
fn usage_poll(sync_every_secs: u64) -> std::time::Duration {
    std::time::Duration::from_secs((sync_every_secs / 2).clamp(5, 60))
}

/// Used / budget from the stored usage (synced from OpenRouter in the background). It refreshes
/// itself while the tab is visible, and says when OpenRouter was last read.
#[island]
fn UsageBar(usage: Usage, slug: String) -> impl IntoView {
    let sync_every_secs = usage.sync_every_secs;
    let usage = RwSignal::new(usage);
    let slug = StoredValue::new(slug);
    every_visible(usage_poll(sync_every_secs), move || {
        leptos::task::spawn_local(async move {
            if let Some(fresh) = fresh_usage(slug.get_value()).await {
                usage.set(fresh);
            }
        });
    });
    let every_text = |secs: u64| match secs {
        60 => "every minute".to_string(),
        s if s % 60 == 0 => format!("every {} minutes", s / 60),
        s => format!("every {s} s"),
    };
    view! {
        <div class="usage">
            <progress
                max=move || usage.with(|u| u.bar_max.clone())
                value=move || usage.with(|u| u.bar_value.clone())
                aria-label="Budget used"
            ></progress>
            <p data-testid="usage">
                {move || usage.with(|u| u.summary.clone())}
                {move || match usage.with(|u| u.synced_at.clone()) {
                    Some(TimeText { at_ms, text }) => view! {
                        " · as of " <span data-testid="usage-as-of"><ViewerTime at_ms text/></span>
                        {format!(" (read from OpenRouter {})", every_text(sync_every_secs))}
                    }
                    .into_any(),
                    None => format!(" · first read from OpenRouter within a minute or two, then {}", every_text(sync_every_secs))
                        .into_any(),
                }}
            </p>
        </div>
    }
}

/// The usage bar's request, in a WASM chunk the browser fetches for the first refresh (by default
/// half a minute after the page loaded), not with the page: see [`test_key`]. A failed refresh
/// leaves the bar as it was.
#[lazy]
async fn fresh_usage(slug: String) -> Option<Usage> {
    load_my_usage(slug).await.ok()
}

/// Tabs of ready-to-paste code, each with the file to save, the install line and the command that
/// runs it. Every tab is rendered here, the unselected ones `hidden`; the tabs are links
/// (`?snippet=python`), so they work without JavaScript, and in the browser [`SnippetTabs`]
/// switches them in place (and the address follows, so a reload keeps the tab).
#[component]
fn Snippets(key: String, models: Vec<String>, tab: SnippetKind) -> impl IntoView {
    view! {
        <section id="snippets" class="snippets" aria-labelledby="snippets-heading">
            <h3 id="snippets-heading">"Use it"</h3>
            <SnippetTabs selected=tab.id().to_string()/>
            {SnippetKind::ALL
                .into_iter()
                .map(|kind| view! { <SnippetTab snippet=snippet(kind, &key, &models) hidden=kind != tab/> })
                .collect_view()}
        </section>
    }
}

/// The tab links. The panels are the server's HTML: a click only moves `hidden` and the address.
#[island]
fn SnippetTabs(selected: String) -> impl IntoView {
    let selected = RwSignal::new(SnippetKind::from_id(Some(&selected)));
    view! {
        <nav class="tabs" aria-label="Snippet language">
            {SnippetKind::ALL
                .into_iter()
                .map(|kind| {
                    let href = format!("?snippet={}#snippets", kind.id());
                    let switch = {
                        let href = href.clone();
                        move |ev: leptos::ev::MouseEvent| {
                            ev.prevent_default();
                            selected.set(kind);
                            show_snippet(kind);
                            replace_address(&href);
                        }
                    };
                    view! {
                        <a
                            class="tab"
                            href=href
                            on:click=switch
                            aria-current=move || (selected.get() == kind).then_some("true")
                        >
                            {kind.label()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// Shows the panel of `kind` and hides the others.
fn show_snippet(kind: SnippetKind) {
    #[cfg(feature = "hydrate")]
    if let Ok(panels) = document().query_selector_all("#snippets [data-testid=snippet-tab]") {
        for panel in (0..panels.length()).filter_map(|i| panels.item(i)) {
            if let Ok(panel) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(panel) {
                panel.set_hidden(panel.get_attribute("data-kind").as_deref() != Some(kind.id()));
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = kind;
}

/// Changes the address without a request (the browser's history, not the router's).
fn replace_address(href: &str) {
    #[cfg(feature = "hydrate")]
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(href));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

#[component]
fn SnippetTab(snippet: Snippet, hidden: bool) -> impl IntoView {
    let kind = snippet.kind;
    let command = |label: &'static str, line: &'static str, testid: &'static str| {
        view! {
            <div class="command">
                <span class="muted">{label}</span>
                <code data-testid=testid>{line}</code>
                <CopyButton
                    text=line.to_string()
                    label=format!("Copy the {} command", label.trim_end_matches(':').to_lowercase())
                />
            </div>
        }
    };
    view! {
        <div class="snippet" data-testid="snippet-tab" data-kind=kind.id() hidden=hidden>
            <p>{snippet.intro}</p>
            {snippet
                .blocks
                .into_iter()
                .map(|block| {
                    let label = format!("Copy {}", block.title);
                    view! {
                        <div class="block">
                            <p class="block-title">{block.title.clone()}</p>
                            <pre
                                data-testid="snippet"
                                data-kind=kind.id()
                                data-file=block.file
                                role="region"
                                aria-label=format!("{} {}", kind.label(), block.title)
                                tabindex="0"
                            >
                                <code>{block.code.clone()}</code>
                            </pre>
                            <CopyButton text=block.code label/>
                        </div>
                    }
                })
                .collect_view()}
            {snippet.install.map(|line| command("Install:", line, "snippet-install"))}
            {snippet.run.map(|line| command("Run:", line, "snippet-run"))}
        </div>
    }
}

/// "Test my key". Posted without JavaScript, it lands back on the page with `?key_test=<code>`,
/// which the server turns into `checked`.
#[island]
fn KeyTest(slug: String, model: String, checked: Option<KeyCheckText>) -> impl IntoView {
    let result = RwSignal::new(checked.map(Ok));
    let pending = RwSignal::new(false);
    // A plain form: without JavaScript it posts; here the request is sent by [`test_key`].
    let submit = {
        let slug = slug.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if pending.get_untracked() {
                return;
            }
            pending.set(true);
            let slug = slug.clone();
            leptos::task::spawn_local(async move {
                result.set(Some(test_key(slug).await));
                pending.set(false);
            });
        }
    };
    view! {
        <section id="key-test" class="key-test" aria-labelledby="key-test-heading">
            <h3 id="key-test-heading">"Test it"</h3>
            <form method="post" action=CheckMyKey::url() on:submit=submit>
                <input type="hidden" name="slug" value=slug/>
                <button type="submit" class="button secondary" data-testid="test-key" disabled=move || pending.get()>
                    {move || if pending.get() { "Testing…" } else { "Test my key" }}
                </button>
                <span class="muted">" One short request to " <code>{model}</code> ", costs a fraction of a cent."</span>
            </form>
            <div role="status">
                {move || {
                    result
                        .get()
                        .map(|outcome| match outcome {
                            Ok(check) => {
                                let class = if check.works() { "key-check ok" } else { "key-check failed" };
                                let quote = if !check.answer.is_empty() {
                                    Some(view! { <blockquote>{check.answer}</blockquote> }.into_any())
                                } else if !check.refusal.is_empty() {
                                    Some(
                                        view! {
                                            <p class="muted">"OpenRouter answered: "</p>
                                            <blockquote data-testid="key-check-refusal">{check.refusal}</blockquote>
                                        }
                                        .into_any(),
                                    )
                                } else {
                                    None
                                };
                                view! {
                                    <div class=class data-testid="key-check" data-outcome=check.code>
                                        <p>{check.explanation}</p>
                                        {quote}
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(message) => view! { <p class="error">{message}</p> }.into_any(),
                        })
                }}
            </div>
        </section>
    }
}

/// The key test's request, in a WASM chunk of its own that the browser fetches on the first click:
/// the page's load then carries no server-function client (the request's encoding, the answer's
/// and the errors' decoding), only what hydrates the islands. A refusal comes back as the text
/// the page shows, so the errors' texts (and the date formatting one of them needs) stay in the
/// chunk too.
#[lazy]
async fn test_key(slug: String) -> Result<KeyCheckText, String> {
    check_my_key(slug).await.map(|check| KeyCheckText::from(&check)).map_err(|e| e.to_string())
}
