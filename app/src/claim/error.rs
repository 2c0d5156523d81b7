//! What can go wrong on the attendee's pages and with a claim, in words an attendee can act on.

use chrono::{DateTime, Utc};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ClaimError {
    #[error("Please sign in first.")]
    NotSignedIn,
    #[error("There is no such workshop.")]
    UnknownWorkshop,
    #[error("This workshop is not taking claims.")]
    Inactive,
    /// The page shows `opens_at` in the viewer's time zone; this text is the fallback. Sent to
    /// the browser as milliseconds, so the page's WASM needs no date parser.
    #[error("Claims open at {}.", opens_at.format("%H:%M UTC on %a %-d %b %Y"))]
    NotOpenYet {
        #[serde(with = "chrono::serde::ts_milliseconds")]
        opens_at: DateTime<Utc>,
    },
    #[error("Claims for this workshop are closed.")]
    Closed,
    #[error("The organisers have paused claims for a moment. Please try again shortly.")]
    Paused,
    #[error("The organisers have paused claims in every workshop for a moment. Please try again shortly.")]
    PausedEverywhere,
    #[error("The workshop is full: every key has been handed out.")]
    PoolFull,
    /// Someone with the same (normalised) email address already holds this workshop's key.
    #[error(
        "You already claimed a key for this workshop with another sign-in{} using the same email address. \
         Sign out and sign in that way to see it.",
        if provider.is_empty() { String::new() } else { format!(" ({})", provider_label(provider)) }
    )]
    ClaimedWithOtherSignIn { provider: String },
    #[error("Your key is still being created. Reload the page in a few seconds.")]
    InProgress,
    #[error("You have no key for this workshop yet.")]
    NoKeyYet,
    #[error("OpenRouter is busy, try again in a few seconds.")]
    Busy,
    #[error("Too many attempts. Wait a minute, then try again.")]
    TooManyAttempts,
    /// The detail is in the server's log, under the request id `reference`.
    #[error("Something went wrong on our side. Please try again.{}", reference_text(reference))]
    Internal { reference: String },
    /// Transport or encoding trouble between browser and server (the detail is for debugging).
    #[error("Could not reach the server. Check your connection and try again.")]
    Request(String),
}

impl ClaimError {
    /// A short, stable code, used in the URL after a claim without JavaScript.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimError::NotSignedIn => "signed-out",
            ClaimError::UnknownWorkshop => "unknown",
            ClaimError::Inactive => "inactive",
            ClaimError::NotOpenYet { .. } => "not-open",
            ClaimError::Closed => "closed",
            ClaimError::Paused => "paused",
            ClaimError::PausedEverywhere => "paused-everywhere",
            ClaimError::PoolFull => "full",
            ClaimError::ClaimedWithOtherSignIn { .. } => "other-sign-in",
            ClaimError::InProgress => "in-progress",
            ClaimError::NoKeyYet => "no-key",
            ClaimError::Busy => "busy",
            ClaimError::TooManyAttempts => "slow-down",
            ClaimError::Internal { .. } | ClaimError::Request(_) => "error",
        }
    }
}

/// A provider id as a query value (ids are lower-case letters, digits and dashes; anything else
/// is dropped, as the page would not repeat it anyway).
fn form_urlencoded_value(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect()
}

/// " Reference: <id>." when there is one.
pub fn reference_text(reference: &str) -> String {
    if reference.is_empty() {
        String::new()
    } else {
        format!(" Reference: {reference}.")
    }
}

impl ClaimError {
    /// The workshop page that tells of this error: where a claim posted without JavaScript is
    /// sent back to, and where the enhanced form goes after a refusal (the page is rendered
    /// again with the error and the state that caused it, e.g. "Sold out").
    pub fn page_url(&self, slug: &str) -> String {
        match self {
            ClaimError::ClaimedWithOtherSignIn { provider } => {
                let via: String = form_urlencoded_value(provider);
                format!("/w/{slug}?error=other-sign-in&via={via}")
            }
            ClaimError::Internal { reference } if !reference.is_empty() => {
                format!("/w/{slug}?error=error&ref={reference}")
            }
            other => format!("/w/{slug}?error={}", other.code()),
        }
    }

    /// An internal failure of the request being served; its id becomes the page's reference.
    pub fn internal() -> ClaimError {
        #[cfg(feature = "ssr")]
        let reference = crate::request_id::current();
        #[cfg(not(feature = "ssr"))]
        let reference = String::new();
        ClaimError::Internal { reference }
    }

    /// Why a workshop in this window state takes no claims; `None` while it is open.
    pub fn for_window(window: &crate::workshops::WindowState) -> Option<ClaimError> {
        use crate::workshops::WindowState;
        match *window {
            WindowState::Open { .. } => None,
            WindowState::NotYetOpen { opens_at } => Some(ClaimError::NotOpenYet { opens_at }),
            WindowState::Closed => Some(ClaimError::Closed),
            WindowState::Inactive => Some(ClaimError::Inactive),
        }
    }
}

impl FromServerFnError for ClaimError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        crate::http::framework_error(&value);
        ClaimError::Request(value.to_string())
    }
}

impl ClaimError {
    /// The error behind a code from [`ClaimError::code`], for the page reached after a plain
    /// form post; `via` is the other sign-in's provider (kept only if it is a provider id we
    /// know), `reference` a request id (kept only if it is one), `opens_at` the workshop's opening.
    pub fn from_code(
        code: &str,
        via: Option<String>,
        reference: Option<String>,
        opens_at: Option<DateTime<Utc>>,
    ) -> ClaimError {
        let via = via.filter(|id| is_known_provider(id)).unwrap_or_default();
        let reference = reference.filter(|r| crate::request_id::is_valid(r)).unwrap_or_default();
        match code {
            "signed-out" => ClaimError::NotSignedIn,
            "unknown" => ClaimError::UnknownWorkshop,
            "inactive" => ClaimError::Inactive,
            "not-open" => opens_at.map_or(ClaimError::Closed, |opens_at| ClaimError::NotOpenYet { opens_at }),
            "closed" => ClaimError::Closed,
            "paused" => ClaimError::Paused,
            "paused-everywhere" => ClaimError::PausedEverywhere,
            "full" => ClaimError::PoolFull,
            "other-sign-in" => ClaimError::ClaimedWithOtherSignIn { provider: via },
            "in-progress" => ClaimError::InProgress,
            "no-key" => ClaimError::NoKeyYet,
            "busy" => ClaimError::Busy,
            "slow-down" => ClaimError::TooManyAttempts,
            _ => ClaimError::Internal { reference },
        }
    }
}

/// The sign-in methods a page may name from its URL: the built-in ones and the generic OIDC
/// provider's default id (a custom `OIDC_ID` is then "another sign-in").
fn is_known_provider(id: &str) -> bool {
    matches!(id, "google" | "github" | "dev" | "organiser" | "oidc")
}

/// How the attendee knows the sign-in method behind a provider id.
pub fn provider_label(provider: &str) -> String {
    match provider {
        "google" => "Google".into(),
        "github" => "GitHub".into(),
        "dev" => "demo sign-in".into(),
        "organiser" => "handed out by an organiser".into(),
        other => other.into(),
    }
}

/// The status each refusal is answered with (the body says which error it is).
#[cfg(feature = "ssr")]
impl crate::http::ErrorStatus for ClaimError {
    fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;

        match self {
            ClaimError::NotSignedIn => StatusCode::UNAUTHORIZED,
            ClaimError::UnknownWorkshop | ClaimError::NoKeyYet => StatusCode::NOT_FOUND,
            ClaimError::Inactive
            | ClaimError::NotOpenYet { .. }
            | ClaimError::Closed
            | ClaimError::Paused
            | ClaimError::PausedEverywhere => StatusCode::FORBIDDEN,
            ClaimError::PoolFull | ClaimError::ClaimedWithOtherSignIn { .. } | ClaimError::InProgress => {
                StatusCode::CONFLICT
            }
            ClaimError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ClaimError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ClaimError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ClaimError::Request(_) => StatusCode::BAD_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClaimError;

    #[test]
    fn every_code_survives_the_plain_form_redirect() {
        let opens_at = "2031-03-02T08:30:00Z".parse().unwrap();
        for error in [
            ClaimError::NotSignedIn,
            ClaimError::UnknownWorkshop,
            ClaimError::Inactive,
            ClaimError::NotOpenYet { opens_at },
            ClaimError::Closed,
            ClaimError::Paused,
            ClaimError::PausedEverywhere,
            ClaimError::PoolFull,
            ClaimError::ClaimedWithOtherSignIn { provider: "github".into() },
            ClaimError::InProgress,
            ClaimError::NoKeyYet,
            ClaimError::Busy,
            ClaimError::TooManyAttempts,
            ClaimError::Internal { reference: "0123456789ab".into() },
        ] {
            let back =
                ClaimError::from_code(error.code(), Some("github".into()), Some("0123456789ab".into()), Some(opens_at));
            assert_eq!(back, error);
        }
        // Transport trouble is only ever seen by the hydrated page; a stray code means "error".
        assert_eq!(
            ClaimError::from_code("<script>", None, None, None),
            ClaimError::Internal { reference: String::new() }
        );
        // Only known provider ids and our own request ids are repeated from the URL.
        let other = |via: &str| ClaimError::from_code("other-sign-in", Some(via.into()), None, None);
        assert_eq!(other("<img src=x>"), ClaimError::ClaimedWithOtherSignIn { provider: String::new() });
        assert_eq!(other("Call 555-0100 for help"), ClaimError::ClaimedWithOtherSignIn { provider: String::new() });
        let forged = ClaimError::from_code("error", None, Some("Call 555-0100".into()), None);
        assert_eq!(forged, ClaimError::Internal { reference: String::new() });
        assert_eq!(
            ClaimError::Internal { reference: "0123456789ab".into() }.to_string(),
            "Something went wrong on our side. Please try again. Reference: 0123456789ab."
        );
    }

    #[test]
    fn messages_are_sentences_without_internals() {
        let other = ClaimError::ClaimedWithOtherSignIn { provider: "google".into() };
        assert!(other
            .to_string()
            .starts_with("You already claimed a key for this workshop with another sign-in (Google)"));
        let unknown_provider = ClaimError::ClaimedWithOtherSignIn { provider: String::new() };
        assert!(unknown_provider.to_string().contains("another sign-in using the same email"), "{unknown_provider}");
        let opens_at = "2031-03-02T08:30:00Z".parse().unwrap();
        assert_eq!(ClaimError::NotOpenYet { opens_at }.to_string(), "Claims open at 08:30 UTC on Sun 2 Mar 2031.");
        assert!(!ClaimError::Request("hyper::Error(Connect)".into()).to_string().contains("hyper"));
    }
}
