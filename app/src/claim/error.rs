//! What can go wrong with a claim, in words an attendee can act on.

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
    #[error("Claims open at {opens_at}.")]
    NotOpenYet { opens_at: DateTime<Utc> },
    #[error("Claims for this workshop are closed.")]
    Closed,
    #[error("The workshop is full: every key has been handed out.")]
    PoolFull,
    #[error("Your key is still being created. Reload the page in a few seconds.")]
    InProgress,
    #[error("OpenRouter is busy, try again in a few seconds.")]
    Busy,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// Transport or encoding trouble between browser and server.
    #[error("Could not reach the server: {0}")]
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
            ClaimError::PoolFull => "full",
            ClaimError::InProgress => "in-progress",
            ClaimError::Busy => "busy",
            ClaimError::Internal | ClaimError::Request(_) => "error",
        }
    }
}

impl FromServerFnError for ClaimError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ClaimError::Request(value.to_string())
    }
}

impl ClaimError {
    /// The message for a code from [`ClaimError::code`], for pages reached after a plain form post.
    pub fn message_for_code(code: &str) -> String {
        match code {
            "signed-out" => ClaimError::NotSignedIn.to_string(),
            "unknown" => ClaimError::UnknownWorkshop.to_string(),
            "inactive" => ClaimError::Inactive.to_string(),
            "not-open" => "Claims are not open yet.".to_string(),
            "closed" => ClaimError::Closed.to_string(),
            "full" => ClaimError::PoolFull.to_string(),
            "in-progress" => ClaimError::InProgress.to_string(),
            "busy" => ClaimError::Busy.to_string(),
            _ => ClaimError::Internal.to_string(),
        }
    }
}
