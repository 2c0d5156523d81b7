//! Shared setup: a simulator on a loopback port and a client talking to it over real HTTP.
#![allow(dead_code)]

use std::time::Duration;

use openrouter::{OpenRouterClient, RetryPolicy, Simulator, SpawnedSimulator};

/// Shaped like a real management key so redaction is tested against the real format.
pub const MGMT_KEY: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A simulator and a single-shot client (no retries), so tests see every failure as is.
pub async fn spawn() -> (SpawnedSimulator, OpenRouterClient) {
    spawn_with(RetryPolicy::none()).await
}

/// A simulator and a client with `policy`.
pub async fn spawn_with(policy: RetryPolicy) -> (SpawnedSimulator, OpenRouterClient) {
    let spawned = Simulator::new(MGMT_KEY).spawn().await.expect("bind loopback");
    let client = OpenRouterClient::new(spawned.base_url.clone(), MGMT_KEY).with_retry_policy(policy);
    (spawned, client)
}

/// Fast retries for tests: `attempts` attempts, 5 ms base, 20 ms cap, `Retry-After` ≤ 3 s.
pub fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts, Duration::from_millis(5), Duration::from_millis(20))
        .with_max_retry_after(Duration::from_secs(3))
}

/// Raw request with the right bearer, for checks the typed client cannot express.
pub async fn raw(
    base_url: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    raw_with_auth(base_url, method, path, body, Some(MGMT_KEY)).await
}

pub async fn raw_with_auth(
    base_url: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    bearer: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base_url}{path}"));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("simulator reachable");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}
