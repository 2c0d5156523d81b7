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
    /// Connection failure, timeout, or an unreadable response stream. Never contains the URL's
    /// query string nor any header.
    #[error("OpenRouter transport error: {0}")]
    Transport(String),
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
            Self::Transport(_) => true,
            Self::Decode(_) | Self::Config(_) => false,
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
        assert!(!OpenRouterError::Decode("x".into()).is_retryable());
    }
}
