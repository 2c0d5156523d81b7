//! What the client counts, through the `metrics` facade: nothing is recorded unless the program
//! installed a recorder (the minter's server does, with `METRICS_ADDR`).

use crate::error::OpenRouterError;

/// One failed attempt of a call to OpenRouter (a retried call can count several).
pub(crate) fn openrouter_error(what: &str, error: &OpenRouterError) {
    let kind = match error {
        OpenRouterError::Api { status, .. } => status.to_string(),
        OpenRouterError::Transport(_) => "transport".into(),
        OpenRouterError::Connect(_) => "connect".into(),
        OpenRouterError::Decode(_) => "decode".into(),
        OpenRouterError::Config(_) => "config".into(),
    };
    metrics::counter!("minter_openrouter_errors_total", "endpoint" => endpoint(what), "kind" => kind).increment(1);
}

/// `POST /api/v1/keys/3f2a…` → `POST /keys/{id}`: the route, without the API prefix and without
/// ids (key hashes, guardrail UUIDs), so the label has a handful of values.
fn endpoint(what: &str) -> String {
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
