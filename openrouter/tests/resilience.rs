//! Retries, exactly-once key creation, safe guardrail creation and the concurrency bound, against
//! the simulator over loopback HTTP with injected faults.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use openrouter::{
    guardrail_drift, CreateGuardrail, CreateKey, Guardrail, OpenRouterClient, OpenRouterError, ResetInterval,
    RetryPolicy, UpdateGuardrail, UpdateKey,
};
use support::{fast_retries, raw_with_auth, spawn_with, MGMT_KEY};

fn key(name: &str) -> CreateKey {
    CreateKey { name: name.into(), limit: Some(1.0), ..Default::default() }
}

fn guardrail(name: &str) -> CreateGuardrail {
    CreateGuardrail {
        name: name.into(),
        limit_usd: Some(10.0),
        reset_interval: Some(ResetInterval::Daily),
        allowed_models: Some(vec!["openai/gpt-4o-mini".into(), "test/model".into()]),
        ..Default::default()
    }
}

/// The key authenticates on `/chat/completions`.
async fn assert_key_works(base_url: &str, plaintext: &str) {
    let (status, body) = raw_with_auth(
        base_url,
        Method::POST,
        "/chat/completions",
        Some(json!({"model": "test/model", "messages": [{"role": "user", "content": "hi"}]})),
        Some(plaintext),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

fn keys_named(sim: &openrouter::Simulator, name: &str) -> Vec<String> {
    sim.keys().into_iter().filter(|k| k.info.name == name).map(|k| k.info.hash).collect()
}

/// Exactly one key is named `name`, and it is `hash`.
fn assert_only_key(sim: &openrouter::Simulator, name: &str, hash: &str) {
    assert_eq!(keys_named(sim, name), [hash], "keys named {name}");
}

// ---- retries ------------------------------------------------------------------------------------

#[tokio::test]
async fn get_is_retried_after_5xx() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let k = client.create_key(&key("k")).await.unwrap();
    sim.simulator.fail_next("/keys/", 500, 2);
    let before = sim.simulator.request_count();
    let got = client.get_key(&k.data.hash).await.unwrap();
    assert_eq!(got.hash, k.data.hash);
    assert_eq!(sim.simulator.request_count() - before, 3);
}

#[tokio::test]
async fn retry_after_of_429_is_honoured() {
    let (sim, client) = spawn_with(fast_retries(3)).await;
    // Default Retry-After of injected 429s is 1 s; the client's own backoff cap is 20 ms.
    sim.simulator.fail_next("GET /guardrails", 429, 1);
    let before = sim.simulator.request_count();
    let start = Instant::now();
    client.list_guardrails(0, 10).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());
    assert_eq!(sim.simulator.request_count() - before, 2);

    // A Retry-After beyond max_retry_after is capped.
    let capped = OpenRouterClient::new(sim.base_url.clone(), MGMT_KEY)
        .with_retry_policy(fast_retries(2).with_max_retry_after(Duration::from_millis(50)));
    sim.simulator.apply_fault_spec("GET /guardrails=429 retry-after=30").unwrap();
    let start = Instant::now();
    capped.list_guardrails(0, 10).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let before = sim.simulator.request_count();
    let err = client.list_guardrails(0, 0).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(sim.simulator.request_count() - before, 1);

    let before = sim.simulator.request_count();
    assert_eq!(client.get_key(&"0".repeat(64)).await.unwrap_err().status(), Some(404));
    assert_eq!(sim.simulator.request_count() - before, 1);

    // An injected 403 is a 4xx too.
    sim.simulator.fail_next("/guardrails", 403, 5);
    let before = sim.simulator.request_count();
    assert_eq!(client.list_guardrails(0, 1).await.unwrap_err().status(), Some(403));
    assert_eq!(sim.simulator.request_count() - before, 1);
}

#[tokio::test]
async fn retries_give_up_after_max_attempts() {
    let (sim, client) = spawn_with(fast_retries(3)).await;
    sim.simulator.fail_next("/guardrails", 503, 10);
    let before = sim.simulator.request_count();
    let err = client.list_guardrails(0, 1).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(sim.simulator.request_count() - before, 3);
}

#[tokio::test]
async fn patch_delete_assign_and_unassign_are_retried() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let k = client.create_key(&key("k")).await.unwrap();
    let g = client.create_guardrail(&guardrail("g")).await.unwrap();
    let hashes = vec![k.data.hash.clone()];

    sim.simulator.fail_next("PATCH /keys/", 502, 1);
    let u = client.update_key(&k.data.hash, &UpdateKey { limit: Some(Some(2.0)), ..Default::default() }).await.unwrap();
    assert_eq!(u.limit, Some(2.0));

    sim.simulator.fail_next("POST /guardrails/", 500, 2);
    assert_eq!(client.assign_keys_to_guardrail(&g.id, &hashes).await.unwrap(), 1);
    sim.simulator.fail_next("/remove", 503, 1);
    assert_eq!(client.unassign_keys(&g.id, &hashes).await.unwrap(), 1);

    sim.simulator.fail_next("PATCH /guardrails/", 500, 1);
    let g2 = client
        .update_guardrail(&g.id, &UpdateGuardrail { limit_usd: Some(Some(3.0)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(g2.limit_usd, Some(3.0));

    sim.simulator.fail_next("DELETE /guardrails/", 500, 1);
    client.delete_guardrail(&g.id).await.unwrap();
    assert!(sim.simulator.guardrails().is_empty());
    assert_eq!(sim.simulator.requests_matching("DELETE", "/guardrails/"), 2);
}

#[tokio::test]
async fn delete_reads_404_after_an_ambiguous_attempt_as_done() {
    let (sim, client) = spawn_with(fast_retries(3)).await;
    let k = client.create_key(&key("k")).await.unwrap();
    sim.simulator.fail_next_after_apply("DELETE /keys/", 500, 1);
    client.delete_key(&k.data.hash).await.unwrap();
    assert_eq!(sim.simulator.key_count(), 0);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/keys/"), 2);
    // Without an ambiguous attempt, 404 stays an error.
    assert_eq!(client.delete_key(&k.data.hash).await.unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn timed_out_get_is_retried() {
    let (sim, client) = spawn_with(fast_retries(3)).await;
    let client = client.with_timeout(Duration::from_millis(200));
    let k = client.create_key(&key("k")).await.unwrap();
    sim.simulator.hang_next("GET /keys/", 1);
    let start = Instant::now();
    client.get_key(&k.data.hash).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(sim.simulator.requests_matching("GET", "/keys/"), 2);
}

#[tokio::test]
async fn create_calls_are_single_shots() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    sim.simulator.fail_next("POST /keys", 500, 1);
    assert_eq!(client.create_key(&key("k")).await.unwrap_err().status(), Some(500));
    sim.simulator.fail_next("POST /guardrails", 503, 1);
    assert_eq!(client.create_guardrail(&guardrail("g")).await.unwrap_err().status(), Some(503));
    assert_eq!(sim.simulator.request_count(), 2);
    assert_eq!(sim.simulator.key_count(), 0);
    assert!(sim.simulator.guardrails().is_empty());
}

// ---- create_key_exactly_once --------------------------------------------------------------------

#[tokio::test]
async fn exactly_once_after_applied_500_deletes_the_orphan() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    sim.simulator.fail_next_after_apply("/keys", 500, 1);
    let created = client.create_key_exactly_once(&key("claim-a")).await.unwrap();

    assert_only_key(&sim.simulator, "claim-a", &created.data.hash);
    assert_eq!(sim.simulator.key_count(), 1);
    assert_eq!(sim.simulator.requests_matching("POST", "/keys"), 2);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/keys/"), 1, "the orphan was deleted");
    assert_key_works(&sim.base_url, &created.key).await;
}

#[tokio::test]
async fn exactly_once_after_timeout() {
    // Applied, then the answer never comes: an orphan to delete.
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let client = client.with_timeout(Duration::from_millis(300));
    sim.simulator.hang_next_after_apply("POST /keys", 1);
    let created = client.create_key_exactly_once(&key("claim-b")).await.unwrap();
    assert_only_key(&sim.simulator, "claim-b", &created.data.hash);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/keys/"), 1);
    assert_key_works(&sim.base_url, &created.key).await;

    // Not applied (hang before the handler): nothing to delete, still exactly one key.
    sim.simulator.hang_next("POST /keys", 1);
    let created = client.create_key_exactly_once(&key("claim-c")).await.unwrap();
    assert_only_key(&sim.simulator, "claim-c", &created.data.hash);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/keys/"), 1);
    assert_key_works(&sim.base_url, &created.key).await;
}

#[tokio::test]
async fn exactly_once_after_429_just_retries() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    sim.simulator.set_retry_after_secs(0);
    sim.simulator.fail_next("/keys", 429, 1);
    let created = client.create_key_exactly_once(&key("claim-d")).await.unwrap();
    assert_only_key(&sim.simulator, "claim-d", &created.data.hash);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/"), 0, "no delete");
    assert_eq!(sim.simulator.requests_matching("GET", "/keys"), 0, "no orphan search");
    assert_eq!(sim.simulator.requests_matching("POST", "/keys"), 2);
}

#[tokio::test]
async fn exactly_once_after_refused_connection_is_a_plain_retry_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client =
        OpenRouterClient::new(format!("http://127.0.0.1:{port}/api/v1"), MGMT_KEY).with_retry_policy(fast_retries(2));
    let err = client.create_key_exactly_once(&key("x")).await.unwrap_err();
    assert!(matches!(err, OpenRouterError::Connect(_)), "{err:?}");
}

#[tokio::test]
async fn exactly_once_giving_up_leaves_no_orphan() {
    let (sim, client) = spawn_with(fast_retries(3)).await;
    sim.simulator.fail_next_after_apply("POST /keys", 500, 10);
    let err = client.create_key_exactly_once(&key("claim-e")).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(sim.simulator.requests_matching("POST", "/keys"), 3);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/keys/"), 3);
    assert_eq!(sim.simulator.key_count(), 0, "every orphan was deleted");
}

#[tokio::test]
async fn exactly_once_does_not_retry_a_rejected_request() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let err = client.create_key_exactly_once(&key("")).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(sim.simulator.request_count(), 1);
}

#[tokio::test]
async fn exactly_once_orphan_search_pages_and_sees_disabled_keys() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    for i in 0..101 {
        client.create_key(&key(&format!("filler-{i}"))).await.unwrap();
    }
    // A disabled leftover with the same name on page 2, then an ambiguous create.
    let stale = client.create_key(&key("claim-f")).await.unwrap();
    client.update_key(&stale.data.hash, &UpdateKey { disabled: Some(true), ..Default::default() }).await.unwrap();
    sim.simulator.fail_next_after_apply("POST /keys", 502, 1);
    let created = client.create_key_exactly_once(&key("claim-f")).await.unwrap();
    assert_only_key(&sim.simulator, "claim-f", &created.data.hash);
    assert_eq!(sim.simulator.requests_matching("DELETE", "/keys/"), 2);
    assert_eq!(sim.simulator.key_count(), 102);
    assert_key_works(&sim.base_url, &created.key).await;
}

#[tokio::test]
async fn recovery_looks_in_the_requested_workspace() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let ws = "11111111-2222-4333-8444-555555555555";
    sim.simulator.fail_next_after_apply("POST /keys", 500, 1);
    let created = client
        .create_key_exactly_once(&CreateKey {
            name: "claim-ws".into(),
            workspace_id: Some(ws.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_only_key(&sim.simulator, "claim-ws", &created.data.hash);
    assert_eq!(created.data.workspace_id, ws);
    assert!(client.list_keys(0, true).await.unwrap().is_empty(), "not in the default workspace");
    assert_eq!(client.find_keys_by_name("claim-ws", Some(ws)).await.unwrap().len(), 1);

    sim.simulator.fail_next_after_apply("POST /guardrails", 500, 1);
    let want = CreateGuardrail { workspace_id: Some(ws.into()), ..guardrail("ws-g") };
    let (g, _) = client.ensure_guardrail(&want).await.unwrap();
    assert_eq!(g.workspace_id.as_deref(), Some(ws));
    assert_eq!(sim.simulator.guardrails().len(), 1);
    assert!(client.find_guardrail_by_name("ws-g").await.unwrap().is_none(), "default workspace");
    let (again, created) = client.ensure_guardrail(&want).await.unwrap();
    assert_eq!((again.id, created), (g.id, false));
}

// ---- ensure_guardrail ---------------------------------------------------------------------------

#[tokio::test]
async fn ensure_guardrail_creates_then_finds() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    let (g, created) = client.ensure_guardrail(&guardrail("ws-1")).await.unwrap();
    assert!(created);
    let (again, created) = client.ensure_guardrail(&guardrail("ws-1")).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, g.id);
    assert_eq!(sim.simulator.guardrails().len(), 1);
}

#[tokio::test]
async fn ensure_guardrail_after_ambiguous_create_leaves_one() {
    for policy in [fast_retries(4), RetryPolicy::none()] {
        let (sim, client) = spawn_with(policy).await;
        // "POST": a bare "/guardrails" would hit the lookup (a GET) that comes first.
        sim.simulator.fail_next_after_apply("POST /guardrails", 500, 1);
        let (g, created) = client.ensure_guardrail(&guardrail("ws-2")).await.unwrap();
        assert!(created, "found after our own ambiguous create");
        let all = sim.simulator.guardrails();
        assert_eq!(all.len(), 1, "{policy:?}");
        assert_eq!(all[0].id, g.id);
        assert_eq!(sim.simulator.requests_matching("POST", "/guardrails"), 1);
    }
}

#[tokio::test]
async fn ensure_guardrail_retries_a_refused_create() {
    let (sim, client) = spawn_with(fast_retries(4)).await;
    sim.simulator.set_retry_after_secs(0);
    sim.simulator.fail_next("POST /guardrails", 429, 1);
    let (_, created) = client.ensure_guardrail(&guardrail("ws-3")).await.unwrap();
    assert!(created);
    assert_eq!(sim.simulator.guardrails().len(), 1);
    assert_eq!(sim.simulator.requests_matching("POST", "/guardrails"), 2);
    // A permanent error is returned at once.
    let err =
        client.ensure_guardrail(&CreateGuardrail { name: "x".repeat(201), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
}

/// Documents a limit: ensure_guardrail is not exclusive across clients (or processes). Two calls
/// that both look before either creates both create; callers serialise through their database.
#[tokio::test]
async fn ensure_guardrail_from_two_clients_can_race() {
    let (sim, a) = spawn_with(fast_retries(4)).await;
    let b = OpenRouterClient::new(sim.base_url.clone(), MGMT_KEY);
    sim.simulator.set_latency(Duration::from_millis(200));
    let want = guardrail("ws-race");
    let (ra, rb) = tokio::join!(a.ensure_guardrail(&want), b.ensure_guardrail(&want));
    assert!(ra.unwrap().1 && rb.unwrap().1, "both looked, found nothing, and created");
    assert_eq!(sim.simulator.guardrails().len(), 2);
}

// ---- guardrail_drift ----------------------------------------------------------------------------

fn current(models: Option<&[&str]>, limit: Option<f64>, reset: Option<ResetInterval>) -> Guardrail {
    Guardrail {
        id: "g".into(),
        name: "n".into(),
        description: Some("d".into()),
        limit_usd: limit,
        reset_interval: reset,
        allowed_models: models.map(|m| m.iter().map(|s| s.to_string()).collect()),
        allowed_providers: None,
        ignored_models: None,
        ignored_providers: None,
        include_byok_in_budgets: false,
        created_at: String::new(),
        updated_at: None,
        workspace_id: None,
    }
}

#[test]
fn guardrail_drift_patches_only_what_differs() {
    let want = guardrail("n"); // models [gpt-4o-mini, test/model], $10, daily
    let same =
        current(Some(&["test/model", "openai/gpt-4o-mini", "test/model"]), Some(10.0), Some(ResetInterval::Daily));
    assert_eq!(guardrail_drift(&same, &want), None, "order and duplicates do not matter");

    let models = current(Some(&["openai/gpt-4o-mini"]), Some(10.0), Some(ResetInterval::Daily));
    assert_eq!(
        guardrail_drift(&models, &want),
        Some(UpdateGuardrail { allowed_models: Some(want.allowed_models.clone()), ..Default::default() })
    );

    let cap = current(Some(&["openai/gpt-4o-mini", "test/model"]), Some(5.0), Some(ResetInterval::Daily));
    assert_eq!(
        guardrail_drift(&cap, &want),
        Some(UpdateGuardrail { limit_usd: Some(Some(10.0)), ..Default::default() })
    );

    let interval = current(Some(&["openai/gpt-4o-mini", "test/model"]), Some(10.0), Some(ResetInterval::Weekly));
    assert_eq!(
        guardrail_drift(&interval, &want),
        Some(UpdateGuardrail { reset_interval: Some(Some(ResetInterval::Daily)), ..Default::default() })
    );

    let all = current(None, None, None);
    assert_eq!(
        guardrail_drift(&all, &want),
        Some(UpdateGuardrail {
            allowed_models: Some(want.allowed_models.clone()),
            limit_usd: Some(Some(10.0)),
            reset_interval: Some(Some(ResetInterval::Daily)),
            ..Default::default()
        })
    );

    // Wanting no restriction clears the current one (explicit nulls).
    let open = CreateGuardrail { name: "n".into(), ..Default::default() };
    let restricted = current(Some(&["a/b"]), Some(1.0), Some(ResetInterval::Monthly));
    assert_eq!(
        guardrail_drift(&restricted, &open),
        Some(UpdateGuardrail {
            allowed_models: Some(None),
            limit_usd: Some(None),
            reset_interval: Some(None),
            ..Default::default()
        })
    );
    assert_eq!(guardrail_drift(&current(None, None, None), &open), None);
}

#[tokio::test]
async fn guardrail_drift_patch_converges() {
    let (_sim, client) = spawn_with(fast_retries(2)).await;
    let (g, _) = client
        .ensure_guardrail(&CreateGuardrail { name: "conv".into(), limit_usd: Some(1.0), ..Default::default() })
        .await
        .unwrap();
    let want = guardrail("conv");
    let patch = guardrail_drift(&g, &want).expect("drifted");
    let updated = client.update_guardrail(&g.id, &patch).await.unwrap();
    assert_eq!(guardrail_drift(&updated, &want), None);
}

// ---- concurrency bound --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let (sim, client) = spawn_with(RetryPolicy::none()).await;
    let client = client.with_max_concurrency(2);
    let hash = client.create_key(&key("k")).await.unwrap().data.hash;
    sim.simulator.set_latency(Duration::from_millis(50));

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (client, hash) = (client.clone(), hash.clone());
        tasks.spawn(async move { client.get_key(&hash).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(sim.simulator.max_in_flight() <= 2, "{}", sim.simulator.max_in_flight());
    assert_eq!(sim.simulator.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_concurrency_is_three_hundred() {
    let (sim, client) = spawn_with(RetryPolicy::none()).await;
    // Long enough that all 300 are in flight before the first answer.
    sim.simulator.set_latency(Duration::from_secs(1));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..400 {
        let client = client.clone();
        tasks.spawn(async move { client.list_guardrails(0, 1).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let max = sim.simulator.max_in_flight();
    assert!((251..=300).contains(&max), "{max}");
}
