//! Safe for a real event (issue #14), over real HTTP: nothing shipped spends money, demo mode
//! cannot be exposed by accident, slow and greedy clients cannot starve claims, client addresses
//! cannot be spoofed, sign-out ends the session everywhere, keys are never cached, consent stays
//! with its workshop, no request or storage text reaches a page, and one switch stops every claim.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, CACHE_CONTROL, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use app::admin::{DisableKey, LoadAdminWorkshop, MintForSomeone, PauseAllClaims, PauseClaims};
use app::claim::{CheckMyKey, ClaimKey, LoadWorkshopPage, WithdrawConsent};
use app::site::LoadSiteInfo;
use app::state::AppState;
use server::config::Config;
use server::serve::Timeouts;
use support::app_server::client;
use support::raw_http::{self, RawRequest};

const ADMIN: &str = "root@example.org";
const ORGANISER: &str = "organiser@example.com"; // organiser of workshops/demo/demo-small.yaml
const SECRET: &str = "event-safety-suite-secret-5e0c2f8a71d94b36";

/// A server of the suite: the real router and serve loop on loopback.
struct Site {
    addr: SocketAddr,
    state: AppState,
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn sign_in(&self, email: &str) -> String {
        let response = client()
            .post(self.url("/auth/dev"))
            .form(&[("email", email), ("name", "Attendee"), ("next", "/w/demo")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "demo sign-in of {email}");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    }

    /// A server function called as the hydrated page calls it: status, headers, body.
    async fn call(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> reqwest::Response {
        let mut request = client().post(self.url(path)).header(ACCEPT, "application/json").form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = client().get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// Who the server thinks `cookie` belongs to.
    async fn signed_in_as(&self, cookie: &str) -> Option<String> {
        let info: Value = self.call(LoadSiteInfo::PATH, &[], Some(cookie)).await.json().await.unwrap();
        info["user"]["email"].as_str().map(str::to_owned)
    }
}

/// Settings every server of the suite shares, so several can serve one database as replicas.
fn config(database_url: &str, demo: bool, extra: &[(&str, &str)]) -> Config {
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let database_url = database_url.to_string();
    Config::from_lookup(move |name| {
        if let Some((_, value)) = extra.iter().find(|(k, _)| k == name) {
            return Some(value.clone());
        }
        match name {
            "MINTER_DEMO" => Some(if demo { "1" } else { "0" }.into()),
            "DATABASE_URL" => Some(database_url.clone()),
            "SESSION_SECRET" => Some(SECRET.into()),
            "PUBLIC_URL" => Some("http://keys.test".into()),
            "ADMIN_EMAILS" => Some(ADMIN.into()),
            "OPENROUTER_MANAGEMENT_KEY" if !demo => Some("sk-or-v1-test".into()),
            "OPENROUTER_BASE_URL" if !demo => Some("http://127.0.0.1:9/api/v1".into()),
            "GITHUB_CLIENT_ID" if !demo => Some("gh-id".into()),
            "GITHUB_CLIENT_SECRET" if !demo => Some("gh-secret".into()),
            _ => None,
        }
    })
    .unwrap()
}

async fn site(database_url: &str, demo: bool, extra: &[(&str, &str)]) -> Site {
    site_with(database_url, demo, extra, Timeouts::default()).await
}

async fn site_with(database_url: &str, demo: bool, extra: &[(&str, &str)], timeouts: Timeouts) -> Site {
    let (addr, state) =
        support::serve_with(config(database_url, demo, extra), support::bind_loopback(), timeouts, None).await;
    Site { addr, state }
}

/// A fresh SQLite database for one test (kept while the guard lives).
fn database() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (format!("sqlite://{}/event.db", dir.path().display()), dir)
}

async fn sql(database_url: &str, statement: &str) -> Vec<String> {
    let mut connection = SqliteConnection::connect(database_url).await.unwrap();
    sqlx::query_scalar(statement).fetch_all(&mut connection).await.unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

// ---- 1. nothing shipped spends money ---------------------------------------------------------

#[tokio::test]
async fn a_production_server_serves_no_shipped_workshop() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let production = site(&db, false, &[]).await;
    let home = production.get("/", None).await.text().await.unwrap();
    assert!(home.contains("This server has no workshops yet"), "{home}");
    for slug in ["demo", "demo-small", "pycon-de-2026-agents"] {
        let page = production.get(&format!("/w/{slug}"), None).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "/w/{slug}");
    }
    // A real account signs in (a forged production session here) and tries to claim the demo.
    let keys = app::auth::session::SessionKeys::new(SECRET.as_bytes(), "http://keys.test", false);
    let user = app::auth::SessionUser {
        user_id: "github|1".into(),
        email: "ada@example.org".into(),
        name: "Ada".into(),
        provider: "github".into(),
    };
    let cookie = format!("minter_session={}", keys.issue(&user, chrono::Utc::now()));
    let claim = production.call(ClaimKey::PATH, &[("slug", "demo")], Some(&cookie)).await;
    assert_eq!(claim.status(), StatusCode::NOT_FOUND);
    assert!(claim.text().await.unwrap().contains("UnknownWorkshop"));
    // The same binary in demo mode has them.
    let (demo_db, _demo_dir) = database();
    let demo = site(&demo_db, true, &[]).await;
    assert_eq!(demo.get("/w/demo", None).await.status(), StatusCode::OK);
}

// ---- 2. demo mode cannot be exposed by accident ------------------------------------------------

#[tokio::test]
async fn a_demo_session_is_refused_by_a_server_not_in_demo_mode() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[]).await;
    let production = site(&db, false, &[]).await;
    let cookie = demo.sign_in(ADMIN).await;
    assert_eq!(demo.signed_in_as(&cookie).await.as_deref(), Some(ADMIN), "the calibration: accepted where made");
    assert_eq!(production.signed_in_as(&cookie).await, None, "same secret, same site, but not a demo server");
    let admin_page = production.call(LoadAdminWorkshop::PATH, &[("slug", "demo")], Some(&cookie)).await;
    assert_eq!(admin_page.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn demo_mode_with_a_real_key_says_so_on_every_page_and_in_the_log() {
    let port = support::process::free_port();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/demo.db", dir.path().display());
    let (child, mut log) = support::process::start_with(
        &db,
        port,
        &[
            ("OPENROUTER_MANAGEMENT_KEY", "sk-or-v1-real-looking-key"),
            ("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1"),
        ],
    );
    let _child = child;
    support::process::wait_for(&mut log, "the keys minted here are real and cost money", Duration::from_secs(30))
        .await
        .unwrap_or_else(|lines| panic!("no warning at start-up: {lines:#?}"));
    let url = format!("http://127.0.0.1:{port}");
    support::process::eventually("the server answers", Duration::from_secs(30), || {
        let url = url.clone();
        async move { client().get(format!("{url}/healthz")).send().await.is_ok() }
    })
    .await;
    let page = client().get(format!("{url}/w/demo")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("the keys minted here are real and cost money"), "{page}");
    let sign_in = client().get(format!("{url}/auth/dev")).send().await.unwrap().text().await.unwrap();
    assert!(sign_in.contains("the keys minted here are real and cost money"), "{sign_in}");
}

#[tokio::test]
async fn demo_mode_refuses_to_start_on_a_public_address() {
    let run = |extra: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
        command.env_clear().env("MINTER_DEMO", "1").env("PUBLIC_URL", "https://keys.example.org");
        command.env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", support::process::free_port()));
        for (name, value) in extra {
            command.env(name, value);
        }
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let refused = run(&[]).wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("MINTER_DEMO=1 with the public PUBLIC_URL https://keys.example.org"), "{said}");
    assert!(said.contains("anyone could sign in as an admin"), "{said}");
    // Told twice, it starts (and keeps running until stopped).
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/d.db", dir.path().display());
    let mut on_purpose = run(&[("MINTER_DEMO_PUBLIC", "1"), ("DATABASE_URL", &db)]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(on_purpose.try_wait().unwrap().is_none(), "MINTER_DEMO_PUBLIC=1 starts the demo");
    on_purpose.kill().unwrap();
}

// ---- 3. slow and greedy clients ---------------------------------------------------------------

/// Short timeouts, so the tests wait seconds, not minutes.
fn quick() -> Timeouts {
    Timeouts { header_read: Duration::from_millis(800), request: Duration::from_millis(1500), ..Timeouts::default() }
}

/// Reads until the server closes the connection; how long that took (`None`: still open after 5 s).
async fn closed_after(stream: &mut TcpStream, started: Instant) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    let deadline = started + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_half_sent_request_header_is_cut_off() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site_with(&db, true, &[], quick()).await;
    let mut stream = TcpStream::connect(demo.addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /w/demo HTTP/1.1\r\nHost: keys.test\r\nX-Slow: ").await.unwrap();
    let closed = closed_after(&mut stream, started).await.expect("the connection is closed");
    assert!(closed >= Duration::from_millis(700) && closed < Duration::from_secs(3), "{closed:?}");
    // A connection that sends nothing at all is closed the same way.
    let mut silent = TcpStream::connect(demo.addr).await.unwrap();
    assert!(closed_after(&mut silent, Instant::now()).await.is_some(), "a silent connection stays open");
    // The server is fine for everyone else.
    assert_eq!(demo.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site_with(&db, true, &[], quick()).await;
    let mut stream = TcpStream::connect(demo.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: keys.test\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).ends_with("ok") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    let idle = Instant::now();
    let closed = closed_after(&mut stream, idle).await.expect("the idle connection is closed");
    assert!(closed < Duration::from_secs(3), "{closed:?}");
}

#[tokio::test]
async fn a_request_that_runs_too_long_gets_408_and_the_claim_still_finishes() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site_with(&db, true, &[], quick()).await;
    demo.state.simulator.as_ref().unwrap().apply_fault_spec("POST ^/keys$=latency 2500ms").unwrap();
    let cookie = demo.sign_in("slow@example.org").await;
    let started = Instant::now();
    let claim = demo.call(ClaimKey::PATH, &[("slug", "demo")], Some(&cookie)).await;
    assert_eq!(claim.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(2400), "answered at the timeout: {:?}", started.elapsed());
    // The key was still being created at OpenRouter: it is finished and saved, and shown on reload.
    support::process::eventually("the cut-off claim is saved", Duration::from_secs(10), || async {
        let page: Value =
            demo.call(LoadWorkshopPage::PATH, &[("slug", "demo")], Some(&cookie)).await.json().await.unwrap();
        page["my_key"]["key"].as_str().is_some_and(|key| key.starts_with("sk-or-v1-"))
    })
    .await;
}

#[tokio::test]
async fn page_views_have_a_per_address_quota_and_static_files_none() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[("RATE_LIMIT_PAGES_PER_MINUTE", "10")]).await;
    // A burst of half the minute's quota, then 429 with Retry-After.
    for i in 0..5 {
        assert_eq!(demo.get("/w/demo", None).await.status(), StatusCode::OK, "view {i}");
    }
    let refused = demo.get("/w/demo", None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "60");
    assert!(refused.text().await.unwrap().contains("Too many requests from your network"));
    // What reads no database is not counted.
    assert_eq!(demo.get("/healthz", None).await.status(), StatusCode::OK);
    assert_ne!(demo.get("/favicon.svg", None).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn key_tests_have_a_per_person_limit_and_never_take_a_minting_slot() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    // Two management calls at once in all; key tests answer slowly.
    let demo = site(&db, true, &[("OPENROUTER_MAX_CONCURRENCY", "2"), ("RATE_LIMIT_KEY_TESTS_PER_MINUTE", "2")]).await;
    let mut testers = Vec::new();
    for i in 0..9 {
        let cookie = demo.sign_in(&format!("tester{i}@example.org")).await;
        assert_eq!(demo.call(ClaimKey::PATH, &[("slug", "demo")], Some(&cookie)).await.status(), StatusCode::OK);
        testers.push(cookie);
    }
    // Per person: two a minute, then 429.
    let first = &testers[0];
    for _ in 0..2 {
        assert_eq!(demo.call(CheckMyKey::PATH, &[("slug", "demo")], Some(first)).await.status(), StatusCode::OK);
    }
    let third = demo.call(CheckMyKey::PATH, &[("slug", "demo")], Some(first)).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.text().await.unwrap().contains("TooManyAttempts"));

    demo.state.simulator.as_ref().unwrap().apply_fault_spec("POST ^/chat/completions$=latency 3s").unwrap();
    let base = demo.url("");
    let tests: Vec<_> = testers[1..]
        .iter()
        .map(|cookie| {
            let (base, cookie) = (base.clone(), cookie.clone());
            tokio::spawn(async move {
                client()
                    .post(format!("{base}{}", CheckMyKey::PATH))
                    .header(ACCEPT, "application/json")
                    .header("cookie", cookie)
                    .form(&[("slug", "demo")])
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Eight key tests are in flight; a claim meanwhile is as quick as ever.
    let started = Instant::now();
    let newcomer = demo.sign_in("newcomer@example.org").await;
    let claim = demo.call(ClaimKey::PATH, &[("slug", "demo")], Some(&newcomer)).await;
    assert_eq!(claim.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(1500), "the claim waited for key tests: {:?}", started.elapsed());
    // A ninth test at once is told to come back, not queued.
    let extra = demo.call(CheckMyKey::PATH, &[("slug", "demo")], Some(&newcomer)).await;
    assert_eq!(extra.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(extra.text().await.unwrap().contains("Busy"));
    for test in tests {
        assert_eq!(test.await.unwrap(), StatusCode::OK);
    }
}

// ---- 4. client addresses cannot be spoofed ------------------------------------------------------

fn page_from(addr: SocketAddr, forwarded: &[&str]) -> impl std::future::Future<Output = u16> {
    let request = forwarded.iter().fold(RawRequest::new("GET", "/w/demo"), |r, f| r.header("x-forwarded-for", f));
    async move { raw_http::send(addr, &request).await.unwrap().status }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_address() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo =
        site(&db, true, &[("RATE_LIMIT_PAGES_PER_MINUTE", "6"), ("TRUST_PROXY", "127.0.0.0/8, 10.0.0.0/8")]).await;
    // Whatever a client writes left of the address our proxy appended, it is counted as itself.
    for i in 0..3 {
        assert_eq!(page_from(demo.addr, &[&format!("198.18.0.{i}, 203.0.113.9")]).await, 200);
    }
    assert_eq!(page_from(demo.addr, &["1.1.1.1, 203.0.113.9, 10.0.0.5"]).await, 429, "the same client via two proxies");
    // Over several header lines too.
    assert_eq!(page_from(demo.addr, &["1.1.1.1", "203.0.113.9"]).await, 429);
    // Someone else behind the same proxy is not affected.
    assert_eq!(page_from(demo.addr, &["203.0.113.10"]).await, 200);
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_for_is_ignored() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[("RATE_LIMIT_PAGES_PER_MINUTE", "6")]).await;
    for i in 0..3 {
        assert_eq!(page_from(demo.addr, &[&format!("203.0.113.{i}")]).await, 200);
    }
    // A new address in the header every time does not buy new quota.
    assert_eq!(page_from(demo.addr, &["203.0.113.200"]).await, 429);
}

// ---- 5. sign-out ends the session -------------------------------------------------------------

#[tokio::test]
async fn signing_out_ends_the_session_across_replicas_and_restarts() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let one = site(&db, true, &[]).await;
    let two = site(&db, true, &[]).await;
    let cookie = one.sign_in(ADMIN).await;
    assert_eq!(two.signed_in_as(&cookie).await.as_deref(), Some(ADMIN), "a replica accepts the session");
    assert_eq!(one.call(ClaimKey::PATH, &[("slug", "demo")], Some(&cookie)).await.status(), StatusCode::OK);

    let out = client().post(one.url("/auth/logout")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("minter_session=;") && cleared.contains("Max-Age=0"), "{cleared}");

    // A copy of the old cookie authenticates nothing, here or on the replica.
    for server in [&one, &two] {
        assert_eq!(server.signed_in_as(&cookie).await, None);
        let claim = server.call(ClaimKey::PATH, &[("slug", "demo")], Some(&cookie)).await;
        assert_eq!(claim.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(server.get("/admin/w/demo/attendance.csv", Some(&cookie)).await.status(), StatusCode::NOT_FOUND);
        let page = server.get("/w/demo", Some(&cookie)).await.text().await.unwrap();
        assert!(!page.contains("data-testid=\"api-key\""), "the key is not shown to the old cookie");
    }
    // Nor after a restart on the same database.
    let restarted = site(&db, true, &[]).await;
    assert_eq!(restarted.signed_in_as(&cookie).await, None);
    // Signing in again works.
    let again = restarted.sign_in(ADMIN).await;
    assert_eq!(restarted.signed_in_as(&again).await.as_deref(), Some(ADMIN));
}

#[tokio::test]
async fn https_cookies_carry_the_host_prefix() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let https = [("PUBLIC_URL", "https://keys.example.org"), ("MINTER_DEMO_PUBLIC", "1")];
    let demo = site(&db, true, &https).await;
    let response = client()
        .post(demo.url("/auth/dev"))
        .form(&[("email", "ada@example.org"), ("name", "Ada"), ("next", "/")])
        .send()
        .await
        .unwrap();
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.starts_with("__Host-minter_session="), "{set}");
    assert!(set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"), "{set}");
    let token = set.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    assert_eq!(demo.signed_in_as(&format!("__Host-minter_session={token}")).await.as_deref(), Some("ada@example.org"));
    assert_eq!(demo.signed_in_as(&format!("minter_session={token}")).await, None, "the unprefixed name is not ours");
    // The login cookie of a real provider too.
    let production = site(&db, false, &[("PUBLIC_URL", "https://keys.example.org")]).await;
    let login = production.get("/auth/login/github?next=/", None).await;
    let set = login.headers()[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("__Host-minter_login=") && set.contains("Secure") && set.contains("Path=/"), "{set}");
}

// ---- 6. keys are never cached -----------------------------------------------------------------

#[tokio::test]
async fn every_answer_that_carries_a_key_is_no_store() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[]).await;
    let cookie = demo.sign_in("cache@example.org").await;
    let admin = demo.sign_in(ADMIN).await;
    let claim = demo.call(ClaimKey::PATH, &[("slug", "demo")], Some(&cookie)).await;
    let load = demo.call(LoadWorkshopPage::PATH, &[("slug", "demo")], Some(&cookie)).await;
    let page = demo.get("/w/demo", Some(&cookie)).await;
    let hand_over = demo
        .call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "desk@example.org"), ("name", "Desk")], Some(&admin))
        .await;
    for (what, response) in [("claim", claim), ("page data", load), ("page", page), ("hand-over", hand_over)] {
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store, private", "{what}");
        assert!(response.text().await.unwrap().contains("sk-or-v1-"), "{what} carries a key");
    }
}

// ---- 7. consent belongs to the workshop where it was given ------------------------------------

async fn leads(site: &Site, admin: &str, slug: &str) -> Vec<String> {
    let csv = site.get(&format!("/admin/w/{slug}/leads.csv"), Some(admin)).await.text().await.unwrap();
    let mut emails: Vec<String> = csv.lines().skip(1).map(|line| line.split(',').next().unwrap().to_string()).collect();
    emails.sort();
    emails
}

#[tokio::test]
async fn consent_is_per_workshop_and_withdrawal_is_recorded() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[]).await;
    let admin = demo.sign_in(ADMIN).await;
    let claim = |cookie: String, slug: &'static str| {
        let demo = &demo;
        async move {
            let response =
                demo.call(ClaimKey::PATH, &[("slug", slug), ("marketing_consent", "yes")], Some(&cookie)).await;
            assert_eq!(response.status(), StatusCode::OK, "{slug}");
        }
    };
    let (ana, bo, cy) = (
        demo.sign_in("ana@example.org").await,
        demo.sign_in("bo@example.org").await,
        demo.sign_in("cy@example.org").await,
    );
    claim(ana.clone(), "demo").await;
    claim(bo.clone(), "demo-small").await;
    claim(cy.clone(), "demo").await;
    let cy_at_demo = sql(&db, "SELECT given_at FROM marketing_consents WHERE user_id = 'dev|cy@example.org'").await;
    claim(cy.clone(), "demo-small").await;
    assert_eq!(leads(&demo, &admin, "demo").await, ["ana@example.org", "cy@example.org"]);
    assert_eq!(leads(&demo, &admin, "demo-small").await, ["bo@example.org", "cy@example.org"]);
    let given = sql(
        &db,
        "SELECT given_at FROM marketing_consents WHERE user_id = 'dev|cy@example.org' AND workshop_slug = 'demo'",
    )
    .await;
    assert_eq!(given, cy_at_demo, "a later opt-in elsewhere leaves the earlier one as it was");

    // Cy withdraws on the demo page without JavaScript (a plain form post).
    let page = demo.get("/w/demo", Some(&cy)).await.text().await.unwrap();
    assert!(page.contains("data-testid=\"withdraw-consent\""), "the page offers the withdrawal");
    let withdrawn = client()
        .post(demo.url(WithdrawConsent::PATH))
        .header(ACCEPT, "text/html")
        .header("cookie", &cy)
        .form(&[("slug", "demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), StatusCode::FOUND);
    assert_eq!(withdrawn.headers()[LOCATION], "/w/demo#consent");
    assert_eq!(leads(&demo, &admin, "demo").await, ["ana@example.org"]);
    assert_eq!(leads(&demo, &admin, "demo-small").await, ["bo@example.org", "cy@example.org"], "not withdrawn there");
    let recorded = sql(
        &db,
        "SELECT workshop_slug || ':' || (withdrawn_at IS NOT NULL) FROM marketing_consents
         WHERE user_id = 'dev|cy@example.org' ORDER BY workshop_slug",
    )
    .await;
    assert_eq!(recorded, ["demo:1", "demo-small:0"], "the withdrawal is recorded, not deleted");
    let latest = sql(
        &db,
        "SELECT marketing_opted_in || ':' || marketing_opted_in_workshop FROM attendees WHERE user_id = 'dev|cy@example.org'",
    )
    .await;
    assert_eq!(latest, ["1:demo-small"], "the attendee's latest opt-in still standing");
    let page = demo.get("/w/demo", Some(&cy)).await.text().await.unwrap();
    assert!(page.contains("You withdrew your consent"), "{page}");
    // Withdrawing again changes nothing.
    let before =
        sql(&db, "SELECT user_id || workshop_slug || given_at || coalesce(withdrawn_at, '-') FROM marketing_consents")
            .await;
    let again = demo.call(WithdrawConsent::PATH, &[("slug", "demo")], Some(&cy)).await;
    assert_eq!(again.status(), StatusCode::OK);
    let after =
        sql(&db, "SELECT user_id || workshop_slug || given_at || coalesce(withdrawn_at, '-') FROM marketing_consents")
            .await;
    assert_eq!(before, after);
}

// ---- 8. no text from a request or from storage reaches a page -------------------------------

#[tokio::test]
async fn storage_and_openrouter_texts_stay_in_the_log_and_the_page_shows_a_reference() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[]).await;
    let admin = demo.sign_in(ADMIN).await;
    let ada = demo.sign_in("ada@example.org").await;
    assert_eq!(demo.call(ClaimKey::PATH, &[("slug", "demo")], Some(&ada)).await.status(), StatusCode::OK);

    // OpenRouter refuses an admin action with its own words.
    demo.state.simulator.as_ref().unwrap().fail_next("PATCH /keys/", 400, 1);
    let refused =
        demo.call(DisableKey::PATH, &[("slug", "demo"), ("user_id", "dev|ada@example.org")], Some(&admin)).await;
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    let id = refused.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = refused.text().await.unwrap();
    assert!(body.contains(&format!("Reference: {id}")), "{body}");
    for internal in ["Bad Request", "API error", "400"] {
        assert!(!body.contains(internal), "{internal} in {body}");
    }

    // The database fails under a claim.
    sql(&db, "DROP TABLE workshop_controls").await;
    let bo = demo.sign_in("bo@example.org").await;
    let failed = demo.call(ClaimKey::PATH, &[("slug", "demo")], Some(&bo)).await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = failed.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = failed.text().await.unwrap();
    assert!(body.contains(&id) && !body.contains("no such table") && !body.contains("workshop_controls"), "{body}");
    // Without JavaScript the reference travels to the page.
    let plain = client()
        .post(demo.url(ClaimKey::PATH))
        .header(ACCEPT, "text/html")
        .header("cookie", &bo)
        .form(&[("slug", "demo")])
        .send()
        .await
        .unwrap();
    let id = plain.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(plain.headers()[LOCATION], format!("/w/demo?error=error&ref={id}"));
}

#[tokio::test]
async fn a_page_repeats_only_known_providers_and_our_own_references() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let demo = site(&db, true, &[]).await;
    let bo = demo.sign_in("bo@example.org").await;
    let page = |query: &'static str| {
        let (demo, bo) = (&demo, bo.clone());
        async move { demo.get(&format!("/w/demo?{query}"), Some(&bo)).await.text().await.unwrap() }
    };
    let known = page("error=other-sign-in&via=github").await;
    assert!(known.contains("another sign-in (GitHub)"), "the calibration: a known provider is named");
    let forged = page("error=other-sign-in&via=Call%20555-0100%20for%20a%20refund").await;
    assert!(!forged.contains("555-0100") && forged.contains("another sign-in using the same email"), "{forged}");
    let reference = page("error=error&ref=0123456789ab").await;
    assert!(reference.contains("Reference: 0123456789ab."), "the calibration: our id format is shown");
    let forged = page("error=error&ref=call-555-0100").await;
    assert!(!forged.contains("555-0100") && forged.contains("Something went wrong on our side"), "{forged}");
    // Nor does the id header: the client's is replaced by ours.
    let response = client().get(demo.url("/healthz")).header("x-request-id", "<script>").send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(app::request_id::is_valid(id), "{id}");
}

// ---- 10. one switch stops everything ------------------------------------------------------------

#[tokio::test]
async fn an_admin_pauses_every_workshop_at_once_and_it_holds_across_replicas_and_restarts() {
    let _serial = support::one_server_at_a_time().await;
    let (db, _dir) = database();
    let one = site(&db, true, &[]).await;
    let two = site(&db, true, &[]).await;
    let admin = one.sign_in(ADMIN).await;
    let organiser = one.sign_in(ORGANISER).await;
    let ada = one.sign_in("ada@example.org").await;

    // Organisers run their own workshop's pause, not everyone's.
    let refused = one.call(PauseAllClaims::PATH, &[("paused", "true")], Some(&organiser)).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(sql(&db, "SELECT workshop_slug FROM workshop_controls").await.is_empty(), "nothing written");

    let paused = one.call(PauseAllClaims::PATH, &[("paused", "true")], Some(&admin)).await;
    assert_eq!(paused.status(), StatusCode::OK, "{}", paused.text().await.unwrap());
    for (server, slug) in [(&one, "demo"), (&two, "demo-small")] {
        let claim = server.call(ClaimKey::PATH, &[("slug", slug)], Some(&ada)).await;
        assert_eq!(claim.status(), StatusCode::FORBIDDEN, "{slug}");
        let error = json(&claim.text().await.unwrap());
        assert_eq!(error, Value::String("PausedEverywhere".into()), "{slug}");
        let page = server.get(&format!("/w/{slug}"), Some(&ada)).await.text().await.unwrap();
        assert!(page.contains("paused claims in every workshop"), "{slug}: attendees see why");
    }
    let overview = two.get("/admin", Some(&admin)).await.text().await.unwrap();
    assert!(overview.contains(&format!("Claims are paused in every workshop (by {ADMIN})")), "{overview}");
    // A workshop's own pause is untouched underneath, and survives a restart.
    let restarted = site(&db, true, &[]).await;
    let claim = restarted.call(ClaimKey::PATH, &[("slug", "demo")], Some(&ada)).await;
    assert_eq!(claim.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        restarted.call(PauseClaims::PATH, &[("slug", "demo"), ("paused", "false")], Some(&admin)).await.status(),
        StatusCode::OK
    );
    assert_eq!(restarted.call(ClaimKey::PATH, &[("slug", "demo")], Some(&ada)).await.status(), StatusCode::FORBIDDEN);

    let resumed = two.call(PauseAllClaims::PATH, &[("paused", "false")], Some(&admin)).await;
    assert_eq!(resumed.status(), StatusCode::OK);
    assert_eq!(one.call(ClaimKey::PATH, &[("slug", "demo")], Some(&ada)).await.status(), StatusCode::OK);
}
