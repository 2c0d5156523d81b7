//! OpenRouterClient against the simulator over HTTPS, as OpenRouter is served: a root it is told
//! to trust, a refusal without it, and the protocol the calls of a burst share.

use openrouter::{roots_from_pem, CreateKey, OpenRouterClient, OpenRouterError, RetryPolicy, Simulator};
use testkit::tls::{serve, TlsOptions};

const MGMT_KEY: &str = "sk-or-v1-tls-test-management-key";

fn key(name: &str) -> CreateKey {
    CreateKey { name: name.into(), limit: Some(1.0), ..Default::default() }
}

#[tokio::test]
async fn the_client_trusts_an_extra_root_and_a_burst_shares_one_http2_connection() {
    let sim = Simulator::new(MGMT_KEY);
    let router = axum::Router::new().nest("/api/v1", sim.router());
    let server = serve(router, TlsOptions::default()).await.unwrap();
    let base = format!("{}/api/v1", server.origin);

    // A certificate no built-in root signed: refused at the handshake, and nothing created.
    let untrusting = OpenRouterClient::new(&base, MGMT_KEY).with_retry_policy(RetryPolicy::none());
    match untrusting.create_key(&key("refused")).await {
        Err(OpenRouterError::Connect(message)) => assert!(message.contains("certificate"), "{message}"),
        other => panic!("expected a refused handshake, got {other:?}"),
    }
    assert!(sim.keys().is_empty());

    let refused = roots_from_pem(b"not a certificate");
    assert!(matches!(refused, Err(OpenRouterError::Config(_))), "{refused:?}");

    let roots = roots_from_pem(server.ca_pem.as_bytes()).unwrap();
    let client = OpenRouterClient::new(&base, MGMT_KEY).with_extra_roots(roots);
    let calls = (0..20).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.create_key(&key(&format!("k{i}"))).await })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sim.keys().len(), 20);
    // 20 calls at once over HTTP/2, on the three lanes of a client for 300 calls in flight: three
    // connections, where HTTP/1.1 would have opened one per call in flight.
    assert_eq!(server.connections(), (3, 0), "(HTTP/2, HTTP/1.1) connections");

    // Fewer calls in flight, fewer lanes.
    let one_lane = client.with_max_concurrency(100);
    for i in 0..5 {
        one_lane.create_key(&key(&format!("one-lane-{i}"))).await.unwrap();
    }
    assert_eq!(server.connections(), (4, 0));
}
