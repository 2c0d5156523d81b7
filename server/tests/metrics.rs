//! Prometheus metrics on their own listener: claims by outcome, mint latency, the time of each
//! step of a claim, OpenRouter errors by endpoint. One test per binary: the recorder is process-wide.

mod support;

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, SET_COOKIE};
use reqwest::redirect::Policy;

use app::claim::ClaimKey;
use server::config::Config;

#[tokio::test]
async fn claims_mints_and_openrouter_errors_are_counted() {
    let _serial = support::one_server_at_a_time().await;
    let handle = server::metrics_endpoint::install().unwrap();
    let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = metrics_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(metrics_listener, server::metrics_endpoint::router(handle)).await });

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/metrics.db", dir.path().display());
    let config = Config::from_lookup(|name| match name {
        "MINTER_DEMO" => Some("1".into()),
        "DATABASE_URL" => Some(db.clone()),
        _ => None,
    })
    .unwrap();
    let (addr, state) = support::serve(config, support::bind_loopback()).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let signed_in = client
        .post(format!("http://{addr}/auth/dev"))
        .form(&[("email", "ada@example.org"), ("name", "Ada"), ("next", "/w/demo")])
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let claim = |slug: &'static str| {
        let request = client
            .post(format!("http://{addr}{}", ClaimKey::PATH))
            .header(ACCEPT, "application/json")
            .header("cookie", &cookie)
            .form(&[("slug", slug)]);
        async move { request.send().await.unwrap().status() }
    };

    // One assignment fails once (retried), one claim is refused (closed), one key is minted.
    state.simulator.as_ref().unwrap().fail_next("/assignments/keys", 503, 1);
    assert!(claim("demo").await.is_success());
    assert!(!claim("demo-closed").await.is_success());

    let text = client.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap().text().await.unwrap();
    for expected in [
        r#"minter_claims_total{outcome="ok"} 1"#,
        r#"minter_claims_total{outcome="closed"} 1"#,
        r#"minter_openrouter_errors_total{endpoint="POST /guardrails/{id}/assignments/keys",kind="503"} 1"#,
        "minter_mint_seconds_count 1",
        r#"minter_claim_seconds_bucket{outcome="ok",le="60"} 1"#,
        // Each step of the minted claim once, in buckets fine enough for a database step; the
        // closed workshop's claim was refused before its first step.
        r#"minter_claim_step_seconds_bucket{step="save",le="0.001"}"#,
        r#"minter_claim_step_seconds_count{step="reserve"} 1"#,
        r#"minter_claim_step_seconds_count{step="guardrail"} 1"#,
        r#"minter_claim_step_seconds_count{step="create_key"} 1"#,
        r#"minter_claim_step_seconds_count{step="save"} 1"#,
        r#"minter_claim_step_seconds_count{step="assign"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("sk-or-v1"), "no key in the metrics");
}
