//! Security headers on every response, and `Cache-Control: no-store, private` on every one that
//! did not choose its own caching (only static files do). Pages rendered by Leptos carry their own
//! Content-Security-Policy with the response's script nonce (`app::shell`); everything else (plain
//! sign-in pages, CSV, static files, server function answers) gets a policy without scripts.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

const NO_SCRIPTS: &str = "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; \
                          form-action 'self'; frame-ancestors 'none'";

/// Whether the site is served over https (`PUBLIC_URL`): only then is HSTS sent.
#[derive(Clone, Copy)]
pub struct Https(pub bool);

pub async fn add(State(Https(https)): State<Https>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(NO_SCRIPTS));
    // Pages and server function answers can carry a key or personal data: no cache keeps them,
    // not the browser's (back button on a shared computer) nor a proxy's. Only the static files
    // say otherwise, for themselves.
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store, private"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Nothing about a workshop page (or a key on it) leaks to another site through Referer.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // For browsers that predate CSP frame-ancestors.
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}
