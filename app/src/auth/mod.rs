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

/// `value` as one query parameter's value.
#[cfg(feature = "ssr")]
pub fn encode_query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
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
