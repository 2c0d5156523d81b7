//! OpenRouterClient against the simulator over loopback HTTP.

mod support;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use openrouter::{
    CreateGuardrail, CreateKey, OpenRouterClient, OpenRouterError, ResetInterval, RetryPolicy, UpdateGuardrail,
    UpdateKey,
};
use support::{raw, raw_with_auth, spawn, MGMT_KEY};

fn guardrail(name: &str) -> CreateGuardrail {
    CreateGuardrail {
        name: name.into(),
        description: Some("workshop budget".into()),
        limit_usd: Some(10.0),
        reset_interval: Some(ResetInterval::Daily),
        allowed_models: Some(vec!["openai/gpt-4o-mini".into()]),
        ..Default::default()
    }
}

fn key(name: &str) -> CreateKey {
    CreateKey { name: name.into(), limit: Some(1.0), ..Default::default() }
}

fn status_of<T: std::fmt::Debug>(r: Result<T, OpenRouterError>) -> u16 {
    match r {
        Err(OpenRouterError::Api { status, .. }) => status,
        other => panic!("expected Api error, got {other:?}"),
    }
}

#[tokio::test]
async fn guardrail_create_find_and_page() {
    let (sim, client) = spawn().await;

    // Raw once, to see the 201 itself.
    let (status, body) = raw(&sim.base_url, Method::POST, "/guardrails", Some(json!({"name": "g-a"}))).await;
    assert_eq!(status, 201, "{body}");

    let b = client.create_guardrail(&guardrail("g-b")).await.unwrap();
    assert_eq!(b.name, "g-b");
    assert_eq!(b.limit_usd, Some(10.0));
    assert_eq!(b.reset_interval, Some(ResetInterval::Daily));
    assert_eq!(b.allowed_models.as_deref(), Some(&["openai/gpt-4o-mini".to_string()][..]));
    assert_eq!(b.id.len(), 36);
    client.create_guardrail(&guardrail("g-c")).await.unwrap();

    let found = client.find_guardrail_by_name("g-b").await.unwrap().expect("found");
    assert_eq!(found, b);
    assert_eq!(client.get_guardrail(&b.id).await.unwrap(), b);
    assert!(client.find_guardrail_by_name("missing").await.unwrap().is_none());

    let page = client.list_guardrails(1, 1).await.unwrap();
    assert_eq!(page.total_count, 3);
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].id, b.id);
    let page = client.list_guardrails(2, 100).await.unwrap();
    assert_eq!((page.total_count, page.data.len()), (3, 1));
    let page = client.list_guardrails(5, 100).await.unwrap();
    assert_eq!((page.total_count, page.data.len()), (3, 0));
    // limit is 1..=100 per spec.
    assert_eq!(status_of(client.list_guardrails(0, 0).await), 400);
    assert_eq!(status_of(client.list_guardrails(0, 101).await), 400);
    assert_eq!(sim.simulator.guardrails().len(), 3);
}

#[tokio::test]
async fn find_guardrail_by_name_pages_past_the_first_page() {
    let (_sim, client) = spawn().await;
    for i in 0..105 {
        client.create_guardrail(&CreateGuardrail { name: format!("g{i}"), ..Default::default() }).await.unwrap();
    }
    let g = client.find_guardrail_by_name("g103").await.unwrap().expect("on page 2");
    assert_eq!(g.name, "g103");
    assert!(client.find_guardrail_by_name("g105").await.unwrap().is_none());
}

#[tokio::test]
async fn create_key_round_trips_limit_and_utc_expiry() {
    let (sim, client) = spawn().await;
    let expires = Utc.with_ymd_and_hms(2027, 12, 31, 23, 59, 59).unwrap();
    let created = client
        .create_key(&CreateKey {
            name: "alice@example.org".into(),
            limit: Some(2.5),
            expires_at: Some(expires),
            limit_reset: Some(ResetInterval::Monthly),
            ..Default::default()
        })
        .await
        .unwrap();

    let secret = created.key.strip_prefix("sk-or-v1-").expect("prefix");
    assert_eq!(secret.len(), 64);
    assert!(secret.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(created.data.hash, hex::encode(Sha256::digest(created.key.as_bytes())));
    assert_eq!(created.data.limit, Some(2.5));
    assert_eq!(created.data.limit_remaining, Some(2.5));
    assert_eq!(created.data.usage, 0.0);
    assert_eq!(created.data.expires_at, Some(expires));
    assert_eq!(created.data.limit_reset, Some(ResetInterval::Monthly));
    assert!(created.data.label.starts_with("sk-or-v1-") && created.data.label.contains("..."));
    assert!(!created.data.label.contains(secret), "label must not reveal the key");
    assert!(!format!("{created:?}").contains(secret), "Debug must redact the key");

    let fetched = client.get_key(&created.data.hash).await.unwrap();
    assert_eq!(fetched, created.data);
    // On the wire the expiry is UTC with a Z suffix.
    let (_, body) = raw(&sim.base_url, Method::GET, &format!("/keys/{}", created.data.hash), None).await;
    assert_eq!(body["data"]["expires_at"], "2027-12-31T23:59:59Z");

    let listed = client.list_keys(0, false).await.unwrap();
    assert_eq!(listed, vec![created.data.clone()]);
    assert_eq!(sim.simulator.key_count(), 1);
    assert_eq!(sim.simulator.keys()[0].guardrail_id, None);
}

#[tokio::test]
async fn create_key_ignores_guardrail_ids_in_body() {
    let (sim, client) = spawn().await;
    let g = client.create_guardrail(&guardrail("ws")).await.unwrap();
    let (status, body) =
        raw(&sim.base_url, Method::POST, "/keys", Some(json!({"name": "k", "limit": 1, "guardrail_ids": [g.id]})))
            .await;
    assert_eq!(status, 201, "{body}");
    let keys = sim.simulator.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].guardrail_id, None, "POST /keys must not bind guardrails");
    let assignments = client.list_guardrail_key_assignments(&g.id, 0, 100).await.unwrap();
    assert_eq!(assignments.total_count, 0);
}

#[tokio::test]
async fn assign_and_unassign_keys() {
    let (sim, client) = spawn().await;
    let g1 = client.create_guardrail(&guardrail("g1")).await.unwrap();
    let g2 = client.create_guardrail(&guardrail("g2")).await.unwrap();
    let k = client.create_key(&key("k")).await.unwrap();
    let hashes = vec![k.data.hash.clone()];

    assert_eq!(client.assign_keys_to_guardrail(&g1.id, &hashes).await.unwrap(), 1);
    assert_eq!(sim.simulator.keys()[0].guardrail_id.as_deref(), Some(g1.id.as_str()));
    let page = client.list_guardrail_key_assignments(&g1.id, 0, 50).await.unwrap();
    assert_eq!(page.total_count, 1);
    assert_eq!(page.data[0].key_hash, k.data.hash);
    assert_eq!(page.data[0].guardrail_id, g1.id);
    assert_eq!(page.data[0].key_name, "k");
    // Idempotent: assigning again still reports the key as assigned.
    assert_eq!(client.assign_keys_to_guardrail(&g1.id, &hashes).await.unwrap(), 1);

    // At most one guardrail per key: assigning elsewhere moves it.
    assert_eq!(client.assign_keys_to_guardrail(&g2.id, &hashes).await.unwrap(), 1);
    assert_eq!(sim.simulator.keys()[0].guardrail_id.as_deref(), Some(g2.id.as_str()));
    assert_eq!(client.list_guardrail_key_assignments(&g1.id, 0, 50).await.unwrap().total_count, 0);
    assert_eq!(client.list_key_assignments(0, 50).await.unwrap().total_count, 1);

    // Unknown guardrail: 404 (spec lists 404 for this operation).
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(status_of(client.assign_keys_to_guardrail(unknown, &hashes).await), 404);
    // Unknown key hash: the simulator's documented choice is 200 with the hash skipped and not
    // counted, so callers detect it by comparing assigned_count with the number requested.
    let n = client.assign_keys_to_guardrail(&g1.id, &["0".repeat(64)]).await.unwrap();
    assert_eq!(n, 0);
    // Empty list violates minItems: 1.
    assert_eq!(status_of(client.assign_keys_to_guardrail(&g1.id, &[]).await), 400);

    assert_eq!(client.unassign_keys(&g1.id, &hashes).await.unwrap(), 0);
    assert_eq!(client.unassign_keys(&g2.id, &hashes).await.unwrap(), 1);
    assert_eq!(sim.simulator.keys()[0].guardrail_id, None);
}

#[tokio::test]
async fn wrong_management_key_is_401_and_never_echoed() {
    let (sim, _) = spawn().await;
    let wrong = "sk-or-v1-ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let client = OpenRouterClient::new(sim.base_url.clone(), wrong);
    let err = client.create_key(&key("k")).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains(wrong), "leaked: {text}");
        assert!(!text.contains(MGMT_KEY), "leaked: {text}");
        assert!(!text.contains("ffffffff"), "leaked: {text}");
    }
    assert_eq!(sim.simulator.key_count(), 0);

    let (status, body) = raw_with_auth(&sim.base_url, Method::GET, "/guardrails", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], 401);
}

#[tokio::test]
async fn injected_500_creates_nothing_and_429_has_retry_after() {
    let (sim, client) = spawn().await;
    sim.simulator.fail_next("/keys", 500, 1);
    let err = client.create_key(&key("k")).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.is_retryable());
    assert_eq!(sim.simulator.key_count(), 0, "a failed create must not create a key");
    // The rule is used up: the next call goes through.
    client.create_key(&key("k")).await.unwrap();
    assert_eq!(sim.simulator.key_count(), 1);

    sim.simulator.fail_next("/guardrails", 429, 2);
    for _ in 0..2 {
        match client.list_guardrails(0, 10).await.unwrap_err() {
            OpenRouterError::Api { status: 429, retry_after, message } => {
                assert_eq!(retry_after, Some(Duration::from_secs(1)));
                assert_eq!(message, "Rate limit exceeded");
            }
            other => panic!("expected 429, got {other:?}"),
        }
    }
    client.list_guardrails(0, 10).await.unwrap();
    // 1 failed + 1 created + 2 rate-limited + 1 list.
    assert_eq!(sim.simulator.request_count(), 5);

    // Patterns match the path relative to the API base, so the /api/v1 prefix never matches.
    sim.simulator.fail_next("/api/v1/keys", 503, 1);
    client.create_key(&key("k2")).await.unwrap();
    // "/keys" also matches the assignment paths; a plain 503 has no Retry-After.
    let g = client.create_guardrail(&guardrail("g")).await.unwrap();
    sim.simulator.fail_next("/keys", 503, 1);
    let err = client.assign_keys_to_guardrail(&g.id, &["h".into()]).await.unwrap_err();
    assert_eq!((err.status(), err.retry_after()), (Some(503), None));
}

#[tokio::test]
async fn invalid_bodies_are_400_with_envelope() {
    let (sim, _) = spawn().await;
    let cases = [
        ("/keys", json!({"limit": 1})),
        ("/keys", json!({"name": ""})),
        ("/keys", json!({"name": "k", "limit": -1})),
        ("/keys", json!({"name": "k", "expires_at": "2027-12-31T23:59:59+02:00"})),
        ("/keys", json!({"name": "k", "expires_at": "tomorrow"})),
        ("/keys", json!({"name": "k", "limit_reset": "yearly"})),
        ("/guardrails", json!({"limit_usd": 1})),
        ("/guardrails", json!({"name": "g", "reset_interval": "hourly"})),
        ("/guardrails", json!({"name": "g", "limit_usd": -5})),
        ("/guardrails", json!({"name": "g", "allowed_models": []})),
    ];
    for (path, body) in cases {
        let (status, resp) = raw(&sim.base_url, Method::POST, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body} -> {resp}");
        assert_eq!(resp["error"]["code"], 400);
        assert!(resp["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // `+00:00` is UTC and accepted.
    let (status, resp) = raw(
        &sim.base_url,
        Method::POST,
        "/keys",
        Some(json!({"name": "k", "expires_at": "2027-12-31T23:59:59+00:00"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(resp["data"]["expires_at"], "2027-12-31T23:59:59Z");
    assert_eq!(sim.simulator.key_count(), 1);
}

#[tokio::test]
async fn update_and_delete_keys_and_guardrails() {
    let (sim, client) = spawn().await;
    let k = client.create_key(&key("k")).await.unwrap();
    let hash = k.data.hash.clone();
    sim.simulator.set_key_usage(&hash, 0.25);

    let u = client.update_key(&hash, &UpdateKey { limit: Some(Some(3.0)), ..Default::default() }).await.unwrap();
    assert_eq!((u.limit, u.limit_remaining), (Some(3.0), Some(2.75)));
    assert!(u.updated_at.is_some());
    let u = client
        .update_key(&hash, &UpdateKey { limit: Some(None), disabled: Some(true), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((u.limit, u.limit_remaining, u.disabled), (None, None, true));
    assert!(client.list_keys(0, false).await.unwrap().is_empty());
    assert_eq!(client.list_keys(0, true).await.unwrap().len(), 1);

    let g = client.create_guardrail(&guardrail("g")).await.unwrap();
    client.assign_keys_to_guardrail(&g.id, std::slice::from_ref(&hash)).await.unwrap();
    let g2 = client
        .update_guardrail(
            &g.id,
            &UpdateGuardrail { limit_usd: Some(Some(20.0)), allowed_models: Some(None), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((g2.limit_usd, g2.allowed_models.clone()), (Some(20.0), None));
    assert_eq!(g2.description, g.description, "absent fields stay unchanged");

    client.delete_guardrail(&g.id).await.unwrap();
    assert_eq!(status_of(client.get_guardrail(&g.id).await), 404);
    assert_eq!(sim.simulator.keys()[0].guardrail_id, None, "assignments go with the guardrail");
    assert_eq!(status_of(client.delete_guardrail(&g.id).await), 404);

    client.delete_key(&hash).await.unwrap();
    assert_eq!(status_of(client.get_key(&hash).await), 404);
    assert_eq!(status_of(client.delete_key(&hash).await), 404);
    assert_eq!(sim.simulator.key_count(), 0);
}

#[tokio::test]
async fn list_keys_pages_by_offset() {
    let (_sim, client) = spawn().await;
    for i in 0..3 {
        client.create_key(&key(&format!("k{i}"))).await.unwrap();
    }
    let page = client.list_keys(1, false).await.unwrap();
    assert_eq!(page.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["k1", "k2"]);
    assert!(client.list_keys(3, false).await.unwrap().is_empty());
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transport_errors() {
    let (sim, _) = spawn().await;
    sim.simulator.set_latency(Duration::from_millis(500));
    let client = OpenRouterClient::new(sim.base_url.clone(), MGMT_KEY)
        .with_timeout(Duration::from_millis(100))
        .with_retry_policy(RetryPolicy::none());
    let err = client.list_guardrails(7, 9).await.unwrap_err();
    let OpenRouterError::Transport(msg) = &err else { panic!("expected transport, got {err:?}") };
    assert!(err.is_retryable() && err.is_ambiguous());
    assert!(msg.contains("timed out"), "{msg}");
    assert!(!msg.contains("offset") && !msg.contains("127.0.0.1"), "{msg}");
    assert!(!format!("{err:?}").contains(MGMT_KEY));
    sim.simulator.set_latency(Duration::ZERO);

    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = OpenRouterClient::new(format!("http://127.0.0.1:{port}/api/v1"), MGMT_KEY)
        .with_retry_policy(RetryPolicy::none());
    let err = client.get_key("abc").await.unwrap_err();
    // Refused: the request never left, so it is not ambiguous (a timeout is).
    assert!(matches!(err, OpenRouterError::Connect(_)), "{err:?}");
    assert!(err.is_retryable() && !err.is_ambiguous());
    assert!(!err.to_string().contains(MGMT_KEY));
}

#[tokio::test]
async fn path_segments_are_escaped() {
    let (sim, client) = spawn().await;
    // Would hit /keys (list) if the slash were not encoded.
    assert_eq!(status_of(client.get_key("../keys").await), 404);
    assert_eq!(status_of(client.get_guardrail("x/assignments/keys").await), 404);
    assert!(sim.simulator.request_count() >= 2);
}
