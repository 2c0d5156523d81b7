//! Who is signed in. The session itself (ssr) is a signed cookie; components only see `SessionUser`.

mod email;
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

#[cfg(feature = "ssr")]
pub use server::current_user;

#[cfg(feature = "ssr")]
mod server {
    use axum_extra::extract::CookieJar;

    use super::{session::COOKIE_NAME, SessionUser};
    use crate::state::AppState;

    /// The session user of the request a server function is serving, if any.
    pub async fn current_user(state: &AppState) -> Option<SessionUser> {
        let jar: CookieJar = leptos_axum::extract().await.ok()?;
        state.session.verify(jar.get(COOKIE_NAME)?.value())
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
