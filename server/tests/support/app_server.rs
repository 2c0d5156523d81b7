//! The real router on a loopback port, as the route and admin tests drive it.

use std::net::SocketAddr;

use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use app::state::AppState;
use server::config::Config;

/// What a production-configured test server signs sessions with.
pub const PRODUCTION_SECRET: &str = "test-secret-7d1f0c9a2b8e4f63a5c0d9e1b7f2a4c6";

pub struct TestServer {
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's SQLite database (unless `DATABASE_URL` was given), for reading it directly.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}/routes.db", self._dir.path().display())
    }

    /// The HTML of a page, signed out.
    pub async fn page(&self, path: &str) -> String {
        client().get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    /// Asks the demo key-fault control to expire the caller's key; the status it answers.
    pub async fn expire_key_signed_out(&self) -> StatusCode {
        let form = [("slug", "demo"), ("fault", "expired")];
        client().post(self.url("/demo/key-fault")).form(&form).send().await.unwrap().status()
    }
}

/// A server on a fresh SQLite database: demo mode (simulator, demo sign-in) or a production
/// configuration pointing at a closed port.
pub async fn start(demo: bool) -> TestServer {
    start_with(demo, &[]).await
}

/// As [`start`], with extra settings (`ADMIN_EMAILS`, …).
pub async fn start_with(demo: bool, extra: &[(&str, &str)]) -> TestServer {
    start_with_state(demo, extra).await.0
}

/// As [`start_with`], also handing back the server's state (its store, session keys and, in
/// demo mode, the OpenRouter simulator).
pub async fn start_with_state(demo: bool, extra: &[(&str, &str)]) -> (TestServer, AppState) {
    let serial = super::one_server_at_a_time().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/routes.db", dir.path().display());
    let extra_setting = |name: &str| extra.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    let config = Config::from_lookup(|name| match name {
        _ if extra_setting(name).is_some() => extra_setting(name),
        "MINTER_DEMO" => Some(if demo { "1" } else { "0" }.into()),
        "DATABASE_URL" => Some(db.clone()),
        // Outside demo mode: a real-looking configuration pointing at a closed port.
        "OPENROUTER_MANAGEMENT_KEY" if !demo => Some("sk-or-v1-test".into()),
        "OPENROUTER_BASE_URL" if !demo => Some("http://127.0.0.1:9/api/v1".into()),
        "SESSION_SECRET" if !demo => Some(PRODUCTION_SECRET.into()),
        "PUBLIC_URL" if !demo => Some("https://keys.example.org".into()),
        "GITHUB_CLIENT_ID" if !demo => Some("gh-id".into()),
        "GITHUB_CLIENT_SECRET" if !demo => Some("gh-secret".into()),
        _ => None,
    })
    .unwrap();
    let (addr, state) = super::serve(config, super::bind_loopback()).await;
    (TestServer { addr, _dir: dir, _serial: serial }, state)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// Signs in through the demo form and returns the session cookie (`name=value`).
pub async fn sign_in(server: &TestServer, email: &str) -> String {
    sign_in_as(server, email, "Ada").await
}

pub async fn sign_in_as(server: &TestServer, email: &str, name: &str) -> String {
    let response = client()
        .post(server.url("/auth/dev"))
        .form(&[("email", email), ("name", name), ("next", "/w/demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/w/demo");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}
