//! What the server counts, through the `metrics` facade: nothing is recorded unless the server
//! installed a recorder (`METRICS_ADDR`), which then serves them in Prometheus' text format.

use std::time::Duration;

use crate::openrouter::OpenRouterError;

/// A claim ended: `outcome` is `ok` or the error's code (`full`, `busy`, …).
pub fn claim_finished(outcome: &'static str, took: Duration) {
    metrics::counter!("minter_claims_total", "outcome" => outcome).increment(1);
    metrics::histogram!("minter_claim_seconds", "outcome" => outcome).record(took.as_secs_f64());
}

/// A key was created and saved: the time from reservation to saved row.
pub fn key_minted(took: Duration) {
    metrics::histogram!("minter_mint_seconds").record(took.as_secs_f64());
}

/// One failed attempt of a call to OpenRouter (a retried call can count several).
pub fn openrouter_error(what: &str, error: &OpenRouterError) {
    let kind = match error {
        OpenRouterError::Api { status, .. } => status.to_string(),
        OpenRouterError::Transport(_) => "transport".into(),
        OpenRouterError::Connect(_) => "connect".into(),
        OpenRouterError::Decode(_) => "decode".into(),
        OpenRouterError::Config(_) => "config".into(),
    };
    metrics::counter!("minter_openrouter_errors_total", "endpoint" => endpoint(what), "kind" => kind).increment(1);
}

/// One round of background work.
pub fn sync_finished(took: Duration, ok: bool, orphans_disabled: u32) {
    metrics::histogram!("minter_sync_seconds").record(took.as_secs_f64());
    if !ok {
        metrics::counter!("minter_sync_failures_total").increment(1);
    }
    metrics::counter!("minter_orphans_disabled_total").increment(u64::from(orphans_disabled));
}

/// `POST /api/v1/keys/3f2a…` → `POST /keys/{id}`: the route, without the API prefix and without
/// ids (key hashes, guardrail UUIDs), so the label has a handful of values.
pub fn endpoint(what: &str) -> String {
    let (method, path) = what.split_once(' ').unwrap_or(("", what));
    let is_id = |s: &str| s.len() >= 16 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let route: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .skip_while(|s| *s == "api" || s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit()))
        .map(|s| if is_id(s) { "{id}" } else { s })
        .collect();
    format!("{method} /{}", route.join("/"))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_have_no_ids() {
        let hash = "3f2a".repeat(16);
        assert_eq!(endpoint(&format!("PATCH /api/v1/keys/{hash}")), "PATCH /keys/{id}");
        assert_eq!(
            endpoint("POST /api/v1/guardrails/0df9e665-d932-5740-b2c7-b52af166bc11/assignments/keys"),
            "POST /guardrails/{id}/assignments/keys"
        );
        assert_eq!(endpoint("GET /keys"), "GET /keys", "a base URL without /api/v1 (the simulator)");
        assert_eq!(endpoint("POST /api/v1/chat/completions"), "POST /chat/completions");
    }
}
