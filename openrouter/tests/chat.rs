//! The simulator's `POST /chat/completions`: authentication by minted keys, refusals like
//! OpenRouter's, and deterministic usage charged to the key.

mod support;

use chrono::{Duration as ChronoDuration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use openrouter::simulator::{simulated_tokens, CANNED_COMPLETION, DEFAULT_PRICE_PER_MTOK};
use openrouter::{CreateGuardrail, CreateKey, CreatedKey, UpdateKey};
use support::{raw, raw_with_auth, spawn, MGMT_KEY};

async fn chat(base_url: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    raw_with_auth(base_url, Method::POST, "/chat/completions", Some(body), bearer).await
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello, simulator!"},
    ]})
}

/// Characters of `hello`'s message contents.
const HELLO_CHARS: usize = "Be brief.".len() + "Hello, simulator!".len();

async fn new_key(client: &openrouter::OpenRouterClient, limit: Option<f64>) -> CreatedKey {
    client.create_key(&CreateKey { name: "attendee".into(), limit, ..Default::default() }).await.unwrap()
}

fn assert_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], want, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn completion_has_openai_shape_and_charges_usage_exactly() {
    let (sim, client) = spawn().await;
    sim.simulator.set_model_price("test/model", 3.0, 15.0);
    let k = new_key(&client, Some(10.0)).await;

    let (status, body) = chat(&sim.base_url, Some(&k.key), hello("test/model")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_str().is_some_and(|id| id.starts_with("gen-")), "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_i64().is_some_and(|t| t > 1_700_000_000));
    assert_eq!(body["model"], "test/model");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], CANNED_COMPLETION);
    assert_eq!(choice["finish_reason"], "stop");

    // 26 characters → 7 prompt tokens; the canned answer's length / 4 (rounded up).
    let prompt = simulated_tokens(HELLO_CHARS);
    let completion = simulated_tokens(CANNED_COMPLETION.len());
    assert_eq!(prompt, 7);
    assert_eq!(body["usage"]["prompt_tokens"], prompt);
    assert_eq!(body["usage"]["completion_tokens"], completion);
    assert_eq!(body["usage"]["total_tokens"], prompt + completion);
    let cost = (prompt as f64 * 3.0 + completion as f64 * 15.0) / 1e6;
    assert_eq!(body["usage"]["cost"].as_f64(), Some(cost));

    // Usage is visible through the management API.
    let info = client.get_key(&k.data.hash).await.unwrap();
    assert_eq!(info.usage, cost);
    assert_eq!((info.usage_daily, info.usage_weekly, info.usage_monthly), (cost, cost, cost));
    assert_eq!(info.limit_remaining, Some(10.0 - cost));

    // A second identical request costs the same again.
    let (status, _) = chat(&sim.base_url, Some(&k.key), hello("test/model")).await;
    assert_eq!(status, 200);
    let info = client.get_key(&k.data.hash).await.unwrap();
    assert_eq!(info.usage, cost + cost);
    assert_eq!(info.limit_remaining, Some(10.0 - (cost + cost)));
}

#[tokio::test]
async fn unknown_models_cost_the_default_price() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    let body = json!({"model": "some/model", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "abcd"}, {"type": "text", "text": "efgh"}
    ]}]});
    let (status, resp) = chat(&sim.base_url, Some(&k.key), body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["usage"]["prompt_tokens"], 2, "content parts are counted");
    let (inp, out) = DEFAULT_PRICE_PER_MTOK;
    let cost = (2.0 * inp + simulated_tokens(CANNED_COMPLETION.len()) as f64 * out) / 1e6;
    let info = client.get_key(&k.data.hash).await.unwrap();
    assert_eq!(info.usage, cost);
    assert_eq!(info.limit_remaining, None, "no limit, no remaining");
}

#[tokio::test]
async fn unknown_missing_or_management_keys_are_401() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    let stranger = format!("sk-or-v1-{}", "ab".repeat(32));
    for bearer in [Some(stranger.as_str()), None, Some(MGMT_KEY), Some("")] {
        let (status, body) = chat(&sim.base_url, bearer, hello("a/b")).await;
        assert_error(status, &body, 401);
    }
    // Auth comes before body validation.
    let (status, body) = chat(&sim.base_url, Some(&stranger), json!({})).await;
    assert_error(status, &body, 401);
    // And a minted key is no management key.
    let (status, body) = raw_with_auth(&sim.base_url, Method::GET, "/keys", None, Some(&k.key)).await;
    assert_error(status, &body, 401);
    assert_eq!(client.get_key(&k.data.hash).await.unwrap().usage, 0.0);
}

#[tokio::test]
async fn disabled_key_is_401() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    client.update_key(&k.data.hash, &UpdateKey { disabled: Some(true), ..Default::default() }).await.unwrap();
    let (status, body) = chat(&sim.base_url, Some(&k.key), hello("a/b")).await;
    assert_error(status, &body, 401);
    assert!(body["error"]["message"].as_str().unwrap().contains("disabled"));

    client.update_key(&k.data.hash, &UpdateKey { disabled: Some(false), ..Default::default() }).await.unwrap();
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 200);
}

#[tokio::test]
async fn expired_key_is_401() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    assert!(sim.simulator.set_key_expires_at(&k.data.hash, Some(Utc::now() - ChronoDuration::seconds(1))));
    let (status, body) = chat(&sim.base_url, Some(&k.key), hello("a/b")).await;
    assert_error(status, &body, 401);
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"));
    // Expiry in the future: accepted.
    sim.simulator.set_key_expires_at(&k.data.hash, Some(Utc::now() + ChronoDuration::hours(1)));
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 200);
    assert!(!sim.simulator.set_key_expires_at("nope", None));
}

#[tokio::test]
async fn key_over_its_limit_is_402() {
    let (sim, client) = spawn().await;
    // A tiny limit: the first request is allowed (usage 0 < limit) and overshoots it.
    let k = new_key(&client, Some(0.000_001)).await;
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 200);
    let (status, body) = chat(&sim.base_url, Some(&k.key), hello("a/b")).await;
    assert_error(status, &body, 402);
    assert!(body["error"]["message"].as_str().unwrap().contains("Insufficient credits"));
    assert_eq!(body["error"]["metadata"]["limit_source"], "openrouter_key_limit");
    // A refused request costs nothing.
    let used = client.get_key(&k.data.hash).await.unwrap().usage;
    chat(&sim.base_url, Some(&k.key), hello("a/b")).await;
    assert_eq!(client.get_key(&k.data.hash).await.unwrap().usage, used);

    // Raising the limit lets the key through again.
    client.update_key(&k.data.hash, &UpdateKey { limit: Some(Some(1.0)), ..Default::default() }).await.unwrap();
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 200);
    // Usage set from outside counts too.
    sim.simulator.set_key_usage(&k.data.hash, 1.0);
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 402);
}

#[tokio::test]
async fn model_outside_the_guardrail_is_403() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    let g = client
        .create_guardrail(&CreateGuardrail {
            name: "ws".into(),
            allowed_models: Some(vec!["openai/gpt-4o-mini".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    // Not bound yet: any model.
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("anthropic/claude-3.5-sonnet")).await.0, 200);
    client.assign_keys_to_guardrail(&g.id, std::slice::from_ref(&k.data.hash)).await.unwrap();
    let (status, body) = chat(&sim.base_url, Some(&k.key), hello("anthropic/claude-3.5-sonnet")).await;
    assert_error(status, &body, 403);
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("openai/gpt-4o-mini")).await.0, 200);

    // A guardrail without a model list allows everything.
    let open = client.create_guardrail(&CreateGuardrail { name: "open".into(), ..Default::default() }).await.unwrap();
    client.assign_keys_to_guardrail(&open.id, std::slice::from_ref(&k.data.hash)).await.unwrap();
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("anthropic/claude-3.5-sonnet")).await.0, 200);
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    let msgs = json!([{"role": "user", "content": "hi"}]);
    for body in [
        json!({"messages": msgs}),
        json!({"model": "", "messages": msgs}),
        json!({"model": "a/b"}),
        json!({"model": "a/b", "messages": []}),
        json!({"model": "a/b", "messages": "hi"}),
        json!({"model": "a/b", "messages": [{"content": "no role"}]}),
        json!(["not", "an", "object"]),
    ] {
        let (status, resp) = chat(&sim.base_url, Some(&k.key), body.clone()).await;
        assert_error(status, &resp, 400);
    }
    assert_eq!(client.get_key(&k.data.hash).await.unwrap().usage, 0.0);
}

#[tokio::test]
async fn chat_path_shares_faults_and_stays_off_the_management_auth() {
    let (sim, client) = spawn().await;
    let k = new_key(&client, None).await;
    sim.simulator.fail_next("/chat/completions", 503, 1);
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 503);
    assert_eq!(chat(&sim.base_url, Some(&k.key), hello("a/b")).await.0, 200);
    // Other methods on the path are 405 with the envelope.
    let (status, body) = raw(&sim.base_url, Method::GET, "/chat/completions", None).await;
    assert_error(status, &body, 405);
}
