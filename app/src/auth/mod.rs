//! Who is signed in. The session itself (ssr) is a signed cookie; components only see `SessionUser`.

mod email;
#[cfg(feature = "ssr")]
pub mod login_state;
#[cfg(feature = "ssr")]
pub mod providers;
#[cfg(feature = "ssr")]
pub mod session;

pub use email::{looks_like_email, normalize_email};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Stable id: `google|sub`, `github|id`, or `dev|email` in demo mode.
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// `google`, `github` or `dev`.
    pub provider: String,
}

/// A way to sign in, as a button on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOption {
    pub label: String,
    pub href: String,
}

#[cfg(feature = "ssr")]
pub use server::{current_user, encode_query_value, require_user, session_of, sign_in_options, RequestSession};

#[cfg(feature = "ssr")]
mod server {
    use std::sync::Arc;

    use axum_extra::extract::CookieJar;

    use super::session::Session;
    use super::{SessionUser, SignInOption};
    use crate::state::AppState;

    /// The session of a request's cookie: ours, for this deployment, unexpired, and not signed
    /// out. The one place a cookie becomes a user, for server functions and plain routes alike.
    /// If the database cannot say whether the session was signed out, it counts as signed out.
    pub async fn session_of(state: &AppState, jar: &CookieJar) -> Option<Session> {
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

    /// The session user of the request a server function is serving, if any.
    pub async fn current_user(state: &AppState) -> Option<SessionUser> {
        let lookup = || async {
            let jar: CookieJar = leptos_axum::extract().await.ok()?;
            session_of(state, &jar).await.map(|session| session.user)
        };
        match leptos::prelude::use_context::<RequestSession>() {
            Some(memo) => memo.0.get_or_init(lookup).await.clone(),
            None => lookup().await,
        }
    }

    /// The session user, or `None` with the response status set to 401 Unauthorized.
    pub async fn require_user(state: &AppState) -> Option<SessionUser> {
        let user = current_user(state).await;
        if user.is_none() {
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(axum::http::StatusCode::UNAUTHORIZED);
            }
        }
        user
    }

    /// Every configured way to sign in, each returning to `next`; the unverified demo form
    /// comes first in demo mode.
    pub fn sign_in_options(state: &AppState, next: &str) -> Vec<SignInOption> {
        let demo = state.demo.then(|| SignInOption {
            label: "Demo sign-in".into(),
            href: format!("/auth/dev?next={}", encode_query_value(next)),
        });
        demo.into_iter().chain(state.sign_in.options(next)).collect()
    }

    pub fn encode_query_value(value: &str) -> String {
        form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }
}

/// Reduces a `next` parameter to a path on this site; anything else (another host, a scheme,
/// `//host`, backslashes, control characters) becomes `/`.
pub fn safe_next_path(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next_path;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next_path("/w/demo"), "/w/demo");
        assert_eq!(safe_next_path("/w/demo?x=1#k"), "/w/demo?x=1#k");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil",
            "evil",
            "",
            "/\t/evil",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next_path(hostile), "/", "{hostile:?}");
        }
    }
}
