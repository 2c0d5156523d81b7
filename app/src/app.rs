//! The HTML shell, the router, and the header every page shares.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::pages::{AdminOverviewPage, AdminWorkshopPage, HomePage, NotFound, ProjectorPage, WorkshopPage};
use crate::site::load_site_info;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    let (options, stylesheet) = hashed_names(options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // In the shell, not in `App`: only the server knows the hashed name.
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <AutoReload options=options.clone()/>
                // Islands: only the interactive parts of a page are hydrated (see pages/).
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's address, and the options `HydrationScripts` names the JS and WASM from. A site
/// built with `hash-files` (hashes in `hash.txt` beside the server binary, where leptos reads them)
/// gets the hashed names even where LEPTOS_HASH_FILES is not set; the server caches those for a year.
#[cfg(feature = "ssr")]
fn hashed_names(mut options: LeptosOptions) -> (LeptosOptions, String) {
    let names = crate::hashed_names::HashedNames::current(&options);
    let name = match names.css_hash() {
        Some(hash) => {
            options.hash_files = true;
            format!("{}.{hash}", options.output_name)
        }
        None => options.output_name.to_string(),
    };
    let href = format!("/{}/{name}.css", options.site_pkg_dir);
    (options, href)
}

#[cfg(not(feature = "ssr"))]
fn hashed_names(options: LeptosOptions) -> (LeptosOptions, String) {
    let href = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    (options, href)
}

/// The page's Content-Security-Policy: scripts only from this site or with this response's nonce
/// (leptos_axum puts it on the hydration and resource scripts it inlines), WebAssembly allowed
/// to compile, and no framing. Other responses get a stricter default from the server.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use axum::http::{header::CONTENT_SECURITY_POLICY, HeaderValue};

    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Workshop keys"/>
        <Router>
            <SiteHeader/>
            <main>
                // Async: the whole page is rendered before the first byte, so it is complete
                // without JavaScript (streamed chunks would need JS to be put in place).
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/w/:slug") view=WorkshopPage ssr=SsrMode::Async/>
                    <Route path=path!("/w/:slug/projector") view=ProjectorPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=AdminOverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/w/:slug") view=AdminWorkshopPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn SiteHeader() -> impl IntoView {
    let info = Resource::new_blocking(|| (), |_| load_site_info());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let info = info.await.ok();
                let banner = info.as_ref().and_then(|i| i.banner());
                let admin = info.as_ref().is_some_and(|i| i.admin);
                let user = info.and_then(|i| i.user);
                view! {
                    {banner.map(|text| view! {
                        <div class="demo-banner" role="status" data-testid="demo-banner">{text}</div>
                    })}
                    <header class="site-header">
                        <nav class="site-nav" aria-label="Site">
                            <a class="brand" href="/">"Workshop keys"</a>
                            <Show when=move || admin>
                                <a href="/admin">"Admin"</a>
                            </Show>
                        </nav>
                        {user.map(|user| view! {
                            <form class="signed-in" method="post" action="/auth/logout">
                                <span data-testid="signed-in-as">{user.email}</span>
                                <button type="submit" class="link">"Sign out"</button>
                            </form>
                        })}
                    </header>
                }
            })}
        </Suspense>
    }
}
