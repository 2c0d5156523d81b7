//! What the server's integration tests share: one runtime for the servers under test, and
//! stand-ins for the services the sign-in tests cannot reach.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

pub mod app_server;
pub mod fake_github;
pub mod hostile;
pub mod oidc_mock;
pub mod process;
pub mod raw_http;

use std::net::SocketAddr;
use std::sync::LazyLock;

use leptos::config::LeptosOptions;

use app::state::AppState;
use app::workshops::Workshop;
use server::config::Config;
use server::serve::Timeouts;

/// Every server under test runs on this one multi-thread runtime, as in production, not on the
/// short-lived runtime of the `#[tokio::test]` that started it.
static SERVERS: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("test runtime")
});

/// One test with a server at a time, per test binary. Several router instances rendering
/// concurrently in one process occasionally stall a render forever in Leptos (seen: about 1 run
/// in 10 of routes.rs with 8 test threads; 0 in 40 serial runs; never with one router, as in
/// production, across 3,150 concurrent page loads). Tests hold this for their whole run.
pub async fn one_server_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// A workshop as an organiser would add it: the demo workshop's file, served outside demo mode.
/// A production build ships no workshop, so production-mode tests bring this one.
pub fn organisers_workshop() -> &'static [Workshop] {
    static WORKSHOP: LazyLock<Vec<Workshop>> = LazyLock::new(|| {
        let yaml = include_str!("../../../workshops/demo/demo.yaml");
        vec![app::workshops::parse("demo", yaml).expect("the demo workshop parses")]
    });
    &WORKSHOP
}

/// Builds the state from `config` and serves the real router on `listener` (bound by the
/// caller, so `PUBLIC_URL` can name its port), with the real serve loop and timeouts. Outside
/// demo mode it serves [`organisers_workshop`].
pub async fn serve(config: Config, listener: std::net::TcpListener) -> (SocketAddr, AppState) {
    let workshops = (!config.demo).then(organisers_workshop);
    serve_with(config, listener, Timeouts::default(), workshops).await
}

/// As [`serve`], with other timeouts (the slow-client tests shorten them) and the workshops the
/// build has, unless `workshops` says otherwise.
pub async fn serve_with(
    config: Config,
    listener: std::net::TcpListener,
    timeouts: Timeouts,
    workshops: Option<&'static [Workshop]>,
) -> (SocketAddr, AppState) {
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let state = SERVERS
        .spawn(async move {
            let options = LeptosOptions::builder().output_name("minter").site_root("target/site").build();
            let mut state = server::build_state(&config, options).await.unwrap();
            if let Some(workshops) = workshops {
                state.workshops = workshops;
            }
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let router = server::router_with(state.clone(), timeouts);
            let never = std::future::pending::<()>();
            tokio::spawn(async move { server::serve::serve(listener, router, timeouts, never).await.unwrap() });
            state
        })
        .await
        .unwrap();
    (addr, state)
}

pub fn bind_loopback() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A fresh database on TEST_POSTGRES_URL, dropped at the end.
pub async fn fresh_postgres() -> (String, testkit::ThrowawayDatabase) {
    let db = testkit::ThrowawayDatabase::create().await;
    (db.url(), db)
}
