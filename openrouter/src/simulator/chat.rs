//! The inference endpoint, `POST /chat/completions`: authenticated by minted keys, it enforces
//! the key and its guardrail, estimates tokens, prices them and charges the key's usage.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::gate::bearer;
use super::routes::remaining;
use super::{Simulator, CANNED_COMPLETION, DEFAULT_PRICE_PER_MTOK};
use crate::types::{KeyInfo, ResetInterval};

// ---- inference: POST /chat/completions ----------------------------------------------------------

/// `ceil(chars / 4)`, at least 1: the simulator's deterministic token count.
pub fn simulated_tokens(chars: usize) -> u64 {
    (chars.div_ceil(4) as u64).max(1)
}

/// Total characters of the messages' text content (string content, or the `text` of content
/// parts).
fn content_chars(messages: &[serde_json::Value]) -> usize {
    messages
        .iter()
        .map(|m| match m.get("content") {
            Some(serde_json::Value::String(s)) => s.chars().count(),
            Some(serde_json::Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
                .map(|t| t.chars().count())
                .sum(),
            _ => 0,
        })
        .sum()
}

/// `(model, prompt characters)` of a chat request, or the 400 message.
fn parse_chat_request(body: &[u8]) -> Result<(String, usize), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("Invalid JSON body: {e}"))?;
    let model = match v.get("model") {
        Some(serde_json::Value::String(m)) if !m.trim().is_empty() => m.clone(),
        _ => return Err("model is required".into()),
    };
    let messages = match v.get("messages") {
        Some(serde_json::Value::Array(m)) if !m.is_empty() => m,
        _ => return Err("messages is required and must be a non-empty array".into()),
    };
    if messages.iter().any(|m| !m.is_object() || !m.get("role").is_some_and(serde_json::Value::is_string)) {
        return Err("every message needs a role".into());
    }
    Ok((model, content_chars(messages)))
}

/// Usage that counts against the key's limit: that of its `limit_reset` period.
fn period_usage(k: &KeyInfo) -> f64 {
    match k.limit_reset {
        None => k.usage,
        Some(ResetInterval::Daily) => k.usage_daily,
        Some(ResetInterval::Weekly) => k.usage_weekly,
        Some(ResetInterval::Monthly) => k.usage_monthly,
    }
}

fn chat_error(status: StatusCode, message: &str, metadata: Option<serde_json::Value>) -> Response {
    let mut error = serde_json::json!({"code": status.as_u16(), "message": message});
    if let Some(m) = metadata {
        error["metadata"] = m;
    }
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

/// Checks, in order: key (401), body (400), guardrail models (403), key limit (402); then
/// charges the key and answers a canned completion.
pub(super) async fn chat_completions(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = bearer(&headers).filter(|t| !t.is_empty()) else {
        return chat_error(StatusCode::UNAUTHORIZED, "No auth credentials found", None);
    };
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let request = parse_chat_request(&body);
    let mut st = sim.lock();
    let Some(idx) = st.keys.iter().position(|k| k.hash == hash) else {
        return chat_error(StatusCode::UNAUTHORIZED, "User not found.", None);
    };
    let key = &st.keys[idx];
    if key.disabled {
        return chat_error(StatusCode::UNAUTHORIZED, "This API key is disabled", None);
    }
    if key.expires_at.is_some_and(|t| t <= Utc::now()) {
        return chat_error(StatusCode::UNAUTHORIZED, "This API key has expired", None);
    }
    let (model, prompt_chars) = match request {
        Ok(r) => r,
        Err(msg) => return chat_error(StatusCode::BAD_REQUEST, &msg, None),
    };
    let guardrail = st
        .assignments
        .iter()
        .find(|a| a.key_hash == hash)
        .and_then(|a| st.guardrails.iter().find(|g| g.id == a.guardrail_id));
    if let Some(g) = guardrail {
        if g.allowed_models.as_ref().is_some_and(|m| !m.contains(&model)) {
            return chat_error(
                StatusCode::FORBIDDEN,
                &format!("Model {model} is not allowed by the guardrail of this API key"),
                Some(serde_json::json!({"guardrail_id": g.id})),
            );
        }
    }
    if key.limit.is_some_and(|limit| period_usage(key) >= limit) {
        return chat_error(
            StatusCode::PAYMENT_REQUIRED,
            "Insufficient credits: this API key has reached its spending limit. Raise the key's \
             limit or wait for it to reset.",
            Some(serde_json::json!({"limit_source": "openrouter_key_limit"})),
        );
    }

    let prompt_tokens = simulated_tokens(prompt_chars);
    let completion_tokens = simulated_tokens(CANNED_COMPLETION.chars().count());
    let (in_price, out_price) = st.prices.get(&model).copied().unwrap_or(DEFAULT_PRICE_PER_MTOK);
    let cost = (prompt_tokens as f64 * in_price + completion_tokens as f64 * out_price) / 1e6;
    let key = &mut st.keys[idx];
    key.usage += cost;
    key.usage_daily += cost;
    key.usage_weekly += cost;
    key.usage_monthly += cost;
    key.limit_remaining = remaining(key.limit, period_usage(key));
    drop(st);

    let created = Utc::now().timestamp();
    Json(serde_json::json!({
        "id": format!("gen-{created}-{}", hex::encode(rand::random::<[u8; 10]>())),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "provider": "Simulator",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": CANNED_COMPLETION},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": cost,
        },
    }))
    .into_response()
}
