//! Shared setup: a simulator on a loopback port and a client talking to it over real HTTP.
#![allow(dead_code)] // each test binary uses a different subset

use app::openrouter::{OpenRouterClient, Simulator, SpawnedSimulator};

/// Shaped like a real management key so redaction is tested against the real format.
pub const MGMT_KEY: &str = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub async fn spawn() -> (SpawnedSimulator, OpenRouterClient) {
    let spawned = Simulator::new(MGMT_KEY).spawn().await.expect("bind loopback");
    let client = OpenRouterClient::new(spawned.base_url.clone(), MGMT_KEY);
    (spawned, client)
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
