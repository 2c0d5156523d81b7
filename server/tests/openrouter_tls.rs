//! The server binary reaching OpenRouter over HTTPS as it does in production, with the simulator
//! behind a certificate of a CA named in OPENROUTER_CA_FILE: a claim mints a bound key, over
//! HTTP/2.

mod support;

use openrouter::Simulator;
use support::process::Server;

const MGMT_KEY: &str = "sk-or-v1-tls-server-test-management-key";

#[tokio::test]
async fn a_claim_reaches_openrouter_over_https_with_the_named_ca() {
    let sim = Simulator::new(MGMT_KEY);
    let router = axum::Router::new().nest("/api/v1", sim.router());
    let tls = testkit::tls::serve(router, testkit::tls::TlsOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("openrouter-ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    let database = format!("sqlite://{}/tls.db", dir.path().display());
    let base = format!("{}/api/v1", tls.origin);
    let server = Server::start(
        &database,
        &[
            ("OPENROUTER_MANAGEMENT_KEY", MGMT_KEY),
            ("OPENROUTER_BASE_URL", &base),
            ("OPENROUTER_CA_FILE", ca.to_str().unwrap()),
        ],
    )
    .await;

    let cookie = server.sign_in("ada@example.org").await;
    let shown = server.claim(&cookie, "demo").await.key();
    let keys = sim.keys();
    let minted = keys.iter().find(|k| k.info.name.contains("demo")).expect("a key at OpenRouter");
    assert!(minted.guardrail_id.is_some(), "bound to the workshop's guardrail");
    assert!(shown.key.starts_with("sk-or-"));
    let (http2, http1) = tls.connections();
    assert!(http2 >= 1 && http1 == 0, "HTTP/2 {http2}, HTTP/1.1 {http1}");
}
