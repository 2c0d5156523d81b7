use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::claim::{load_workshop_page, ClaimKey, MyKey, WorkshopPageData as PageData};
use crate::ui::{format_local, format_utc_in, CopyButton, WindowBadge};
use crate::workshops::WindowState;

#[component]
pub fn WorkshopPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let claim = ServerAction::<ClaimKey>::new();
    let page = Resource::new_blocking(move || (slug(), claim.version().get()), |(slug, _)| load_workshop_page(slug));
    // A transition, not a suspense: after a claim the old page stays until the new one is ready.
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => view! { <Workshop data claim/> }.into_any(),
                    Err(_) => view! { <crate::pages::NotFound/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Workshop(data: PageData, claim: ServerAction<ClaimKey>) -> impl IntoView {
    let w = &data.workshop;
    let zone = *w.starts_at.offset();
    let keys_left = data.keys_left();
    let models = w.openrouter.models.clone();
    view! {
        <article class="workshop">
            <header>
                <p class="muted">{w.event.clone()}</p>
                <h1>{w.name.clone()}</h1>
                <p class="muted">{w.location.clone()} " · " {format_local(&w.starts_at)}</p>
                <p class="window">
                    <WindowBadge window=data.window/>
                    {window_text(data.window, keys_left, data.pool_size, &zone)}
                </p>
            </header>
            <section class="welcome" inner_html=data.welcome_html.clone()></section>
            <KeyOrClaim data=data.clone() claim/>
            <section>
                <h2>"Models"</h2>
                <div class="table-scroll">
                    <table class="models">
                        <thead>
                            <tr><th scope="col">"Model"</th><th scope="col">"Id"</th><th scope="col">"Note"</th>
                                <th scope="col" class="num">"$ / M tokens in"</th><th scope="col" class="num">"$ / M tokens out"</th></tr>
                        </thead>
                        <tbody>
                            {models.into_iter().map(|m| view! {
                                <tr>
                                    <td>{m.label}</td><td><code>{m.id}</code></td><td>{m.note}</td>
                                    <td class="num">{m.price_in_per_mtok.to_string()}</td>
                                    <td class="num">{m.price_out_per_mtok.to_string()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </section>
        </article>
    }
}

fn window_text(window: WindowState, keys_left: u32, pool_size: u32, zone: &chrono::FixedOffset) -> String {
    match window {
        WindowState::Open { .. } if keys_left == 0 => "Sold out: every key has been handed out.".into(),
        WindowState::Open { .. } => format!("{keys_left} of {pool_size} keys left"),
        WindowState::NotYetOpen { opens_at } => {
            format!("Claims open {}", format_utc_in(&opens_at, zone))
        }
        WindowState::Closed => "Claims are closed.".into(),
        WindowState::Inactive => "This workshop is not active.".into(),
    }
}

#[component]
fn KeyOrClaim(data: PageData, claim: ServerAction<ClaimKey>) -> impl IntoView {
    let zone = *data.workshop.starts_at.offset();
    if let Some(key) = data.my_key {
        return view! { <YourKey key zone/> }.into_any();
    }
    let slug = data.workshop.slug.clone();
    let open = matches!(data.window, WindowState::Open { .. }) && data.keys_left() > 0;
    let Some(user) = data.user else {
        let sign_in = if data.sign_in.is_empty() {
            view! { <p class="muted">"Sign-in is not available on this server yet."</p> }.into_any()
        } else {
            view! {
                <div class="sign-in-options">
                    {data.sign_in.into_iter().map(|option| view! {
                        <a class="button" rel="external" href=option.href>{option.label}</a>
                    }).collect_view()}
                </div>
            }
            .into_any()
        };
        return view! {
            <section class="card sign-in">
                <h2>"Get your key"</h2>
                <p>"Sign in so that the key is yours: reload or another device shows the same one."</p>
                {sign_in}
            </section>
        }
        .into_any();
    };
    let query = use_query_map();
    let error = move || {
        let from_action = claim.value().get().and_then(|r| r.err()).map(|e| e.to_string());
        from_action.or_else(|| query.read().get("error").map(|code| crate::claim::ClaimError::message_for_code(&code)))
    };
    let budget = data.workshop.openrouter.budget_usd;
    let expires = format_utc_in(&data.workshop.key_expires_at(), &zone);
    view! {
        <section class="card claim">
            <h2>"Your key"</h2>
            <p>"Signed in as " <strong>{user.email.clone()}</strong> " (" {user.provider.clone()} ")."</p>
            <p>{format!("You get a personal OpenRouter key with a ${budget:.2} budget, for the models below, valid until {expires}.")}</p>
            <ActionForm action=claim>
                <input type="hidden" name="slug" value=slug/>
                <label class="consent">
                    <input type="checkbox" name="marketing_consent" value="yes"/>
                    " I'd like to hear about future workshops by email (optional)."
                </label>
                <button type="submit" class="button" data-testid="claim" disabled=move || !open || claim.pending().get()>
                    {move || if claim.pending().get() { "Creating your key…" } else { "Claim my key" }}
                </button>
            </ActionForm>
            {move || error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
    .into_any()
}

#[component]
fn YourKey(key: MyKey, zone: chrono::FixedOffset) -> impl IntoView {
    view! {
        <section class="card your-key">
            <h2>"Your key"</h2>
            <div class="key-row">
                <code data-testid="api-key" class="key">{key.key.clone()}</code>
                <CopyButton text=key.key.clone()/>
            </div>
            <p class="muted">
                {format!("Budget ${:.2} (used ${:.2}) · expires {}", key.limit_usd, key.usage_usd, format_utc_in(&key.expires_at, &zone))}
            </p>
            {(!key.bound).then(|| view! {
                <p class="muted">"Model restrictions are still being applied to this key."</p>
            })}
        </section>
    }
}
