//! `Simulator::apply_fault_spec`: the grammar (valid and invalid strings) and what the parsed
//! rules do to real requests.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use openrouter::{CreateGuardrail, CreateKey, OpenRouterClient, OpenRouterError, RetryPolicy, Simulator};
use support::{raw, spawn, MGMT_KEY};

fn key(name: &str) -> CreateKey {
    CreateKey { name: name.into(), ..Default::default() }
}

#[test]
fn valid_specs_parse() {
    let sim = Simulator::new("m");
    for spec in [
        "",
        "  ;  ; ",
        "POST /keys=500x2; /assignments=hang x1; *=latency 300ms",
        "POST /keys$ = 500 x 2",
        "post ^/keys$=502 after",
        "/keys/=429 retry-after=0",
        "GET /keys=429x3 retry-after=2 after",
        "DELETE=500",
        "GET *=503",
        "*=hangx2 after",
        "*=HANG",
        "/guardrails=latency 2s;",
        "^/keys=latency 0ms",
    ] {
        sim.apply_fault_spec(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    }
}

#[test]
fn invalid_specs_are_rejected_with_a_reason() {
    let sim = Simulator::new("m");
    for (spec, why) in [
        ("POST /keys", "target=action"),
        ("/keys=", "missing action"),
        ("=500", "missing target"),
        ("/keys=200", "not an error status"),
        ("/keys=600", "not an error status"),
        ("/keys=teapot", "unknown action"),
        ("/keys=500x0", "at least 1"),
        ("/keys=500 x", "bad count"),
        ("/keys=500 xx", "bad count"),
        ("/keys=500x2 x3", "count given twice"),
        ("/keys=500 sideways", "unknown modifier"),
        ("/keys=500 retry-after=soon", "bad retry-after"),
        ("/keys=hang retry-after=1", "only applies to a status"),
        ("/keys=latency", "latency"),
        ("/keys=latency 5 minutes", "latency"),
        ("/keys=latency 10", "bad duration"),
        ("/keys=latency 10ms x2", "latency"),
        ("FETCH /keys=500", "unknown method"),
        ("GET /a /b=500", "target is"),
        ("^=500", "empty path pattern"),
    ] {
        match sim.apply_fault_spec(spec) {
            Ok(()) => panic!("{spec:?} should be rejected ({why})"),
            Err(e) => assert!(e.contains(why) && e.contains("rule 1"), "{spec:?}: {e}"),
        }
    }
}

#[tokio::test]
async fn spec_is_all_or_nothing() {
    let (sim, client) = spawn().await;
    let err = sim.simulator.apply_fault_spec("POST /keys=500; bogus").unwrap_err();
    assert!(err.contains("rule 2"), "{err}");
    client.create_key(&key("k")).await.unwrap();
}

#[tokio::test]
async fn spec_rules_act_on_requests() {
    let (sim, client) = spawn().await;
    sim.simulator
        .apply_fault_spec(
            "POST ^/keys$=500x2; /assignments=hang x1; GET /keys=429 retry-after=0; \
             *=latency 30ms",
        )
        .unwrap();

    // `^…$` keeps the assignment POST (/guardrails/{id}/assignments/keys) out of the key rule,
    // so the hang rule gets it.
    let start = Instant::now();
    let g = client.create_guardrail(&CreateGuardrail { name: "g".into(), ..Default::default() }).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30), "global latency");
    let short = OpenRouterClient::new(sim.base_url.clone(), MGMT_KEY)
        .with_timeout(Duration::from_millis(200))
        .with_retry_policy(RetryPolicy::none());
    let err = short.assign_keys_to_guardrail(&g.id, &["0".repeat(64)]).await.unwrap_err();
    assert!(matches!(err, OpenRouterError::Transport(_)), "{err:?}");

    // POST /keys fails twice without effect, then works.
    for _ in 0..2 {
        assert_eq!(client.create_key(&key("k")).await.unwrap_err().status(), Some(500));
    }
    assert_eq!(sim.simulator.key_count(), 0);
    let k = client.create_key(&key("k")).await.unwrap();

    // The hang was used up: assignment works now.
    let n = short.assign_keys_to_guardrail(&g.id, std::slice::from_ref(&k.data.hash)).await.unwrap();
    assert_eq!(n, 1);

    // GET /keys/{hash} contains "/keys": 429 with the configured Retry-After.
    match client.get_key(&k.data.hash).await.unwrap_err() {
        OpenRouterError::Api { status: 429, retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::ZERO));
        }
        other => panic!("{other:?}"),
    }
    client.get_key(&k.data.hash).await.unwrap();
}

#[tokio::test]
async fn after_and_per_path_latency() {
    let (sim, client) = spawn().await;
    sim.simulator.apply_fault_spec("POST /guardrails=503 after; GET /guardrails=latency 150ms").unwrap();
    let err = client.create_guardrail(&CreateGuardrail { name: "g".into(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(sim.simulator.guardrails().len(), 1, "applied, then failed");

    let start = Instant::now();
    client.list_guardrails(0, 10).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(150));
    let start = Instant::now();
    client.list_keys(0, false).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(150), "other paths are not slowed");

    sim.simulator.clear_faults();
    let start = Instant::now();
    client.list_guardrails(0, 10).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn method_only_and_anchored_targets() {
    let (sim, _client) = spawn().await;
    sim.simulator.apply_fault_spec("DELETE=500x5; GET ^/guardrails$=502").unwrap();
    let (status, _) = raw(&sim.base_url, Method::GET, "/guardrails/assignments/keys", None).await;
    assert_eq!(status, 200, "anchored at both ends: only the exact path");
    let (status, _) = raw(&sim.base_url, Method::GET, "/guardrails", None).await;
    assert_eq!(status, 502);
    let (status, _) = raw(&sim.base_url, Method::DELETE, "/keys/abc", None).await;
    assert_eq!(status, 500);
    let (status, body) = raw(&sim.base_url, Method::POST, "/keys", Some(json!({"name": "k"}))).await;
    assert_eq!(status, 201, "{body}");
}
