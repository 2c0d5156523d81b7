//! Who is signed in on a request: the one place a session cookie becomes a user. Plain routes
//! take the [`SignedIn`] extractor (or `Option<SignedIn>`); server functions call
//! [`current_user`], which runs the same extractor once per request. Server-only.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;

use crate::auth::session::Session;
use crate::auth::SessionUser;
use crate::state::AppState;

/// The request's session: ours, for this deployment, unexpired, and not signed out. If the
/// database cannot say whether the session was signed out, it counts as signed out.
pub struct SignedIn(pub Session);

impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Infallible> {
        Ok(session_of(state, &CookieJar::from_headers(&parts.headers)).await.map(SignedIn))
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, StatusCode> {
        <Self as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {})
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}

async fn session_of(state: &AppState, jar: &CookieJar) -> Option<Session> {
    let session = state.session.verify(jar.get(&state.session.session_cookie_name())?.value())?;
    match state.store.session_revoked(&session.id).await {
        Ok(false) => Some(session),
        Ok(true) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not check whether a session was signed out; treated as signed out");
            None
        }
    }
}

/// The signed-in user of one request, looked up at most once however many server functions
/// the page calls; the server provides a fresh one to every request.
#[derive(Clone, Default)]
pub struct RequestSession(Arc<tokio::sync::OnceCell<Option<SessionUser>>>);

/// The user of the request a server function is serving, if signed in.
pub async fn current_user(state: &AppState) -> Option<SessionUser> {
    let lookup = || async {
        let signed_in: Option<SignedIn> = leptos_axum::extract_with_state(state).await.ok()?;
        signed_in.map(|SignedIn(session)| session.user)
    };
    match leptos::prelude::use_context::<RequestSession>() {
        Some(memo) => memo.0.get_or_init(lookup).await.clone(),
        None => lookup().await,
    }
}
