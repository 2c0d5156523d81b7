//! Errors of the OpenRouter management client.
//!
//! Every message that ends up in an error has gone through [`redact`], so neither the management
//! key nor any `sk-or-…` key plaintext can leak into logs through `Display` or `Debug`.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OpenRouterError {
    /// The API answered with a non-2xx status. `message` comes from the `{"error":{...}}`
    /// envelope when there is one.
    #[error("OpenRouter API error {status}: {message}")]
    Api { status: u16, message: String, retry_after: Option<Duration> },
    /// Timeout, connection reset, or an unreadable response stream: the request may have
    /// reached the server and been processed. Never contains the URL's query string nor any
    /// header.
    #[error("OpenRouter transport error: {0}")]
    Transport(String),
    /// The connection could not be established (refused, unreachable, TLS handshake): the
    /// request was definitely not processed.
    #[error("OpenRouter connection failed: {0}")]
    Connect(String),
    /// A 2xx response whose body did not match the expected shape.
    #[error("OpenRouter response could not be decoded: {0}")]
    Decode(String),
    /// The client itself is misconfigured (e.g. an unparsable base URL); retrying cannot help.
    #[error("OpenRouter client misconfigured: {0}")]
    Config(String),
}

impl OpenRouterError {
    /// Whether the same request may succeed if simply sent again later: rate limiting, server
    /// errors and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Transport(_) | Self::Connect(_) => true,
            Self::Decode(_) | Self::Config(_) => false,
        }
    }

    /// Whether the server may have carried out the request even though it failed: any 5xx,
    /// a transport failure after the connection was made (timeout, reset), or a 2xx whose body
    /// could not be decoded. Not ambiguous: 4xx (incl. 429: rejected before processing),
    /// [`OpenRouterError::Connect`] and [`OpenRouterError::Config`].
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status >= 500,
            Self::Transport(_) | Self::Decode(_) => true,
            Self::Connect(_) | Self::Config(_) => false,
        }
    }

    /// The HTTP status for [`OpenRouterError::Api`], `None` otherwise.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's `Retry-After` hint, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

const REDACTED: &str = "[REDACTED]";

/// Removes `secret` (when non-empty) and anything that looks like an OpenRouter key
/// (`sk-or-` followed by key characters) from `text`.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    let text = if secret.is_empty() { text.to_owned() } else { text.replace(secret, REDACTED) };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("sk-or-") {
        out.push_str(&rest[..pos]);
        out.push_str(REDACTED);
        let tail = &rest[pos..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (RFC 7231 §7.1.3).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys_and_secret() {
        let key = format!("sk-or-v1-{}", "ab".repeat(32));
        let msg = format!("bad key {key}, mgmt=topsecret!");
        let out = redact(&msg, "topsecret");
        assert_eq!(out, "bad key [REDACTED], mgmt=[REDACTED]!");
        assert_eq!(redact("nothing here", ""), "nothing here");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn retryable_classes() {
        let api = |status| OpenRouterError::Api { status, message: String::new(), retry_after: None };
        assert!(api(429).is_retryable());
        assert!(api(503).is_retryable());
        assert!(!api(400).is_retryable());
        assert!(!api(404).is_retryable());
        assert!(OpenRouterError::Transport("x".into()).is_retryable());
        assert!(OpenRouterError::Connect("x".into()).is_retryable());
        assert!(!OpenRouterError::Decode("x".into()).is_retryable());
    }

    #[test]
    fn ambiguous_classes() {
        let api = |status| OpenRouterError::Api { status, message: String::new(), retry_after: None };
        assert!(api(500).is_ambiguous());
        assert!(api(503).is_ambiguous());
        assert!(!api(429).is_ambiguous());
        assert!(!api(400).is_ambiguous());
        assert!(OpenRouterError::Transport("x".into()).is_ambiguous());
        assert!(OpenRouterError::Decode("x".into()).is_ambiguous());
        assert!(!OpenRouterError::Connect("x".into()).is_ambiguous());
        assert!(!OpenRouterError::Config("x".into()).is_ambiguous());
    }
}
