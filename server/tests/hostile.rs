//! Hostile input (issue #7), as a counted inventory: every case is data (a request written byte
//! for byte, the status it must get, what the answer must and must not say) run against the real
//! router over real HTTP on loopback. For every case the suite also checks the security headers
//! and that nothing was written: every row of every table of the database, the OpenRouter
//! simulator's keys and the number of calls it received are the same before and after.
//!
//! Three servers: demo mode (admin, organiser, attendees with keys, hostile display names), a
//! production configuration on https (HSTS, no demo routes), and demo mode with tiny rate limits
//! behind a trusted proxy.

mod support;

#[path = "support/raw_http.rs"]
mod raw_http;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::SqlitePool;

use app::admin::{
    DisableKey, LoadAdminOverview, LoadAdminWorkshop, MintForSomeone, PauseAllClaims, PauseClaims, PollAdminWorkshop,
    RetryBinding, RotateKey, SyncNow,
};
use app::claim::{CheckMyKey, ClaimKey, LoadWorkshopPage, WithdrawConsent};
use app::site::{ListWorkshops, LoadSiteInfo};
use app::state::AppState;
use raw_http::{Body, RawRequest, RawResponse};
use support::app_server::{start_with_state, TestServer};

const FORM: &str = "application/x-www-form-urlencoded";
const ADMIN: &str = "root@example.org";
/// In workshops/demo/demo-small.yaml, so an organiser, but not of `demo`.
const ORGANISER: &str = "organiser@example.com";
/// Known to the suite so it can forge sessions the way the server signs them.
const SECRET: &str = "hostile-suite-session-secret-0123456789";
use support::app_server::PRODUCTION_SECRET;
const EVE_ID: &str = "dev|eve@example.org";

// ---- the cases as data ------------------------------------------------------------------------

/// What a case may change: nothing, or (a sign-in that is itself the point of the case) the
/// signed-in attendee's `last_seen_at`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writes {
    Nothing,
    LastSeen,
}

type Check = Box<dyn Fn(&RawResponse) -> Result<(), String>>;

struct Expect {
    status: u16,
    /// Fragments the body must contain: the clear message.
    says: Vec<String>,
    /// Fragments it must not contain (data, raw markup, a foreign host).
    never: Vec<String>,
    location: Option<String>,
    /// The only cookie the answer may set (none at all otherwise).
    sets: Option<&'static str>,
    writes: Writes,
    check: Option<Check>,
}

fn expect(status: u16) -> Expect {
    Expect {
        status,
        says: Vec::new(),
        never: Vec::new(),
        location: None,
        sets: None,
        writes: Writes::Nothing,
        check: None,
    }
}

impl Expect {
    fn says(mut self, fragment: impl Into<String>) -> Self {
        self.says.push(fragment.into());
        self
    }
    fn never(mut self, fragment: impl Into<String>) -> Self {
        self.never.push(fragment.into());
        self
    }
    fn location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
    fn sets(mut self, cookie: &'static str) -> Self {
        self.sets = Some(cookie);
        self
    }
    fn writes(mut self, writes: Writes) -> Self {
        self.writes = writes;
        self
    }
    fn check(mut self, check: impl Fn(&RawResponse) -> Result<(), String> + 'static) -> Self {
        self.check = Some(Box::new(check));
        self
    }
}

/// What to do right before the request (a rate limit must be used up at that moment).
enum Prep {
    None,
    /// Requests from this forwarded address until one is refused with 429.
    ExhaustAddress(&'static str),
    /// Claims of a workshop that is not open yet, by this session, until 429 TooManyAttempts.
    ExhaustClaims {
        cookie: String,
        from: &'static str,
    },
    /// Page views from this forwarded address until one is refused with 429.
    ExhaustPages(&'static str),
}

struct Case {
    category: &'static str,
    name: String,
    request: RawRequest,
    expect: Expect,
    prep: Prep,
}

fn case(category: &'static str, name: impl Into<String>, request: RawRequest, expect: Expect) -> Case {
    Case { category, name: name.into(), request, expect, prep: Prep::None }
}

// ---- requests ---------------------------------------------------------------------------------

fn get(target: impl Into<String>) -> RawRequest {
    RawRequest::new("GET", target)
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

fn post_bytes(target: impl Into<String>, bytes: Vec<u8>) -> RawRequest {
    RawRequest::new("POST", target).body(Body::Bytes { content_type: FORM, bytes })
}

fn post(target: impl Into<String>, pairs: &[(&str, &str)]) -> RawRequest {
    post_bytes(target, form(pairs))
}

/// A server function called as the hydrated page calls it (answers in JSON).
fn call(path: &str, pairs: &[(&str, &str)]) -> RawRequest {
    post(path, pairs).header("accept", "application/json")
}

trait With {
    fn cookie(self, cookie: Option<&str>) -> Self;
    fn from(self, address: &str) -> Self;
}

impl With for RawRequest {
    fn cookie(self, cookie: Option<&str>) -> Self {
        match cookie {
            Some(cookie) => self.header("cookie", cookie),
            None => self,
        }
    }
    fn from(self, address: &str) -> Self {
        self.header("x-forwarded-for", address)
    }
}

// ---- forging sessions as the server signs them (HS256 JWT) ------------------------------------

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac(block: usize, hash: fn(&[u8]) -> Vec<u8>, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut key = if key.len() > block { hash(key) } else { key.to_vec() };
    key.resize(block, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = hash(&[pad(0x36), message.to_vec()].concat());
    hash(&[pad(0x5c), inner].concat())
}

enum Sign<'a> {
    Hs256(&'a str),
    Hs512(&'a str),
    None,
}

fn jwt(header: Value, claims: &Value, sign: Sign) -> String {
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = match sign {
        Sign::Hs256(secret) => b64(&hmac(64, |m| Sha256::digest(m).to_vec(), secret.as_bytes(), signed.as_bytes())),
        Sign::Hs512(secret) => b64(&hmac(128, |m| Sha512::digest(m).to_vec(), secret.as_bytes(), signed.as_bytes())),
        Sign::None => String::new(),
    };
    format!("{signed}.{signature}")
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Which of the suite's servers a session is forged for: each takes only its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deployment {
    /// Demo mode on the default address: demo sign-ins, plain-http cookie names.
    Demo,
    /// `PUBLIC_URL=https://keys.example.org`: GitHub sign-ins, `__Host-` cookie names.
    Production,
}

impl Deployment {
    fn issuer(self) -> &'static str {
        match self {
            Deployment::Demo => "http://127.0.0.1:3000",
            Deployment::Production => "https://keys.example.org",
        }
    }

    fn cookie(self, name: &str) -> String {
        match self {
            Deployment::Demo => name.to_string(),
            Deployment::Production => format!("__Host-{name}"),
        }
    }
}

/// The claims of a session for `email`, as `deployment` issues them.
fn session_claims(email: &str, deployment: Deployment) -> Value {
    let provider = if deployment == Deployment::Demo { "dev" } else { "github" };
    json!({
        "aud": "minter-session", "iss": deployment.issuer(), "jti": format!("{:032x}", rand::random::<u128>()),
        "sub": format!("{provider}|{email}"), "email": email, "name": "Forged",
        "provider": provider, "iat": now(), "exp": now() + 3600,
    })
}

fn session_cookie(token: &str) -> String {
    format!("minter_session={token}")
}

/// A valid session for `email` on a server signing with `secret` (the calibration: accepted).
fn valid_session(email: &str, secret: &str, deployment: Deployment) -> String {
    let token = jwt(hs256(), &session_claims(email, deployment), Sign::Hs256(secret));
    format!("{}={token}", deployment.cookie("minter_session"))
}

fn jwt_claims(token: &str) -> Option<Value> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&payload).ok()
}

// ---- the world a case runs in -----------------------------------------------------------------

struct World {
    server: TestServer,
    state: AppState,
    db: SqlitePool,
    https: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    tables: BTreeMap<String, Vec<String>>,
    /// The simulator's keys and the calls it has received (demo mode).
    simulator: Option<(usize, u64)>,
}

impl Snapshot {
    fn rows(&self) -> String {
        self.tables.iter().map(|(t, rows)| format!("{t} {}", rows.len())).collect::<Vec<_>>().join(", ")
    }

    fn diff(&self, after: &Snapshot) -> Vec<String> {
        let mut changes = Vec::new();
        for (table, rows) in &after.tables {
            let before = self.tables.get(table).cloned().unwrap_or_default();
            if &before != rows {
                let added: Vec<_> = rows.iter().filter(|r| !before.contains(r)).collect();
                let gone: Vec<_> = before.iter().filter(|r| !rows.contains(r)).collect();
                changes.push(format!("{table} written: +{added:?} -{gone:?}"));
            }
        }
        if self.simulator != after.simulator {
            changes.push(format!("OpenRouter simulator (keys, calls) {:?} → {:?}", self.simulator, after.simulator));
        }
        changes
    }
}

impl World {
    async fn start(demo: bool, extra: &[(&str, &str)]) -> World {
        let (server, state) = start_with_state(demo, extra).await;
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}?mode=ro", server.sqlite_url()))
            .await
            .expect("the server's SQLite database");
        let https = state.sign_in.public_url().starts_with("https://");
        World { server, state, db, https }
    }

    async fn send(&self, request: &RawRequest) -> RawResponse {
        raw_http::send(self.server.addr, request)
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", request.method, request.target))
    }

    /// Every row of every table (one string per row), and the simulator's counters.
    async fn snapshot(&self, writes: Writes) -> Snapshot {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        let mut tables = BTreeMap::new();
        for table in names {
            let columns: Vec<String> = sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(&self.db)
                .await
                .unwrap();
            let row = columns
                .iter()
                .filter(|c| !(writes == Writes::LastSeen && table == "attendees" && *c == "last_seen_at"))
                .map(|c| format!("quote(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let mut rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT {row} FROM \"{table}\"")).fetch_all(&self.db).await.unwrap();
            rows.sort();
            tables.insert(table, rows);
        }
        Snapshot { tables, simulator: self.state.simulator.as_ref().map(|s| (s.key_count(), s.request_count())) }
    }

    async fn prepare(&self, prep: &Prep) -> Result<(), String> {
        match prep {
            Prep::None => Ok(()),
            Prep::ExhaustAddress(address) => {
                for _ in 0..50 {
                    if self.send(&get("/auth/dev").from(address)).await.status == 429 {
                        return Ok(());
                    }
                }
                Err(format!("{address} was never limited"))
            }
            Prep::ExhaustPages(address) => {
                for _ in 0..50 {
                    if self.send(&get("/w/demo").from(address)).await.status == 429 {
                        return Ok(());
                    }
                }
                Err(format!("pages from {address} were never limited"))
            }
            Prep::ExhaustClaims { cookie, from } => {
                for _ in 0..20 {
                    let request =
                        call(ClaimKey::PATH, &[("slug", "demo-upcoming")]).cookie(Some(cookie.as_str())).from(from);
                    let response = self.send(&request).await;
                    if response.status == 429 {
                        return match response.text().contains("TooManyAttempts") {
                            true => Ok(()),
                            false => Err(format!("limited by address, not per person: {}", response.text())),
                        };
                    }
                }
                Err("claims were never limited".into())
            }
        }
    }

    /// Runs the cases in order; each records its problems (none = passed).
    async fn run(&self, cases: Vec<Case>, report: &mut Report) {
        for case in cases {
            let mut problems = Vec::new();
            let expect = &case.expect;
            if expect.says.is_empty() && expect.location.is_none() && expect.check.is_none() {
                problems.push("the table gives no message to check".to_string());
            }
            if let Err(problem) = self.prepare(&case.prep).await {
                problems.push(format!("preparation: {problem}"));
            }
            let before = self.snapshot(expect.writes).await;
            let response = self.send(&case.request).await;
            let after = self.snapshot(expect.writes).await;
            let body = response.text();
            let shown = || body.chars().take(400).collect::<String>();
            if response.status != expect.status {
                problems.push(format!("status {} (expected {}): {}", response.status, expect.status, shown()));
            }
            for fragment in &expect.says {
                if !body.contains(fragment.as_str()) {
                    problems.push(format!("body lacks {fragment:?}: {}", shown()));
                }
            }
            for fragment in &expect.never {
                if body.contains(fragment.as_str()) {
                    problems.push(format!("body contains {fragment:?}"));
                }
            }
            if let Some(location) = &expect.location {
                if response.header("location") != Some(location.as_str()) {
                    problems.push(format!("location {:?} (expected {location:?})", response.header("location")));
                }
            }
            for cookie in response.all("set-cookie") {
                let name = cookie.split('=').next().unwrap_or_default();
                if expect.sets != Some(name) {
                    problems.push(format!("sets a cookie: {name}"));
                }
            }
            if let Some(check) = &expect.check {
                if let Err(problem) = check(&response) {
                    problems.push(problem);
                }
            }
            problems.extend(security_header_problems(&response, self.https));
            problems.extend(before.diff(&after));
            report.record(case.category, case.name, problems);
        }
    }
}

/// The headers every response must carry.
fn security_header_problems(response: &RawResponse, https: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let csp = response.header("content-security-policy").unwrap_or_default();
    for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"] {
        if !csp.contains(directive) {
            problems.push(format!("Content-Security-Policy lacks {directive}: {csp:?}"));
        }
    }
    let scripts = if csp.contains("script-src 'self' 'nonce-") {
        // A Leptos page: its own scripts by nonce, and the WASM it hydrates with.
        csp.contains("'wasm-unsafe-eval'")
    } else {
        csp.contains("script-src 'none'")
    };
    if !scripts {
        problems.push(format!("Content-Security-Policy script-src: {csp:?}"));
    }
    for (name, value) in
        [("x-content-type-options", "nosniff"), ("referrer-policy", "same-origin"), ("x-frame-options", "DENY")]
    {
        if response.header(name) != Some(value) {
            problems.push(format!("{name}: {:?} (expected {value})", response.header(name)));
        }
    }
    // Pages and answers can carry a key or personal data; only static files may be cached.
    let cache = response.header("cache-control");
    let static_file = response.status == 200
        && response.header("content-type").is_some_and(|t| ["css", "javascript", "wasm"].iter().any(|k| t.contains(k)));
    if cache != Some("no-store, private") && !static_file {
        problems.push(format!("Cache-Control {cache:?} (expected no-store, private)"));
    }
    // Every answer names our id for the request, never one the client chose.
    if !response.header("x-request-id").is_some_and(app::request_id::is_valid) {
        problems.push(format!("X-Request-Id {:?}", response.header("x-request-id")));
    }
    let hsts = response.header("strict-transport-security");
    match (https, hsts) {
        (true, Some("max-age=31536000; includeSubDomains")) | (false, None) => {}
        _ => problems.push(format!("Strict-Transport-Security {hsts:?} on a site with https = {https}")),
    }
    problems
}

#[derive(Default)]
struct Report {
    results: Vec<(&'static str, String, Vec<String>)>,
    /// What must hold across a whole site's cases (not counted as cases).
    invariants: Vec<String>,
}

impl Report {
    fn record(&mut self, category: &'static str, name: String, problems: Vec<String>) {
        self.results.push((category, name, problems));
    }

    fn invariant(&mut self, what: &str, problems: Vec<String>) {
        self.invariants.extend(problems.into_iter().map(|p| format!("{what}: {p}")));
    }

    fn finish(self) {
        let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut failures = Vec::new();
        for (category, name, problems) in &self.results {
            let count = counts.entry(category).or_default();
            count.0 += 1;
            if problems.is_empty() {
                count.1 += 1;
            } else {
                failures.push(format!("[{category}] {name}:\n    {}", problems.join("\n    ")));
            }
        }
        println!("hostile cases by category (passed / cases):");
        for (category, (cases, passed)) in &counts {
            println!("  {category:<28} {passed:>3} / {cases}");
        }
        let total = self.results.len();
        println!("hostile cases: {total}");
        let mut problems = failures;
        problems.extend(self.invariants.iter().map(|i| format!("written outside any one case: {i}")));
        assert!(problems.is_empty(), "{} problems in {total} hostile cases:\n{}", problems.len(), problems.join("\n"));
        assert!(total >= 40, "issue #7 asks for 40 or more hostile cases, the table has {total}");
    }
}

// ---- checks shared by several cases -----------------------------------------------------------

/// The `next` a login cookie set by this answer would return to.
fn login_next(response: &RawResponse) -> Result<String, String> {
    let token =
        response.cookie("minter_login").or_else(|| response.cookie("__Host-minter_login")).ok_or("no login cookie")?;
    let claims = jwt_claims(&token).ok_or("login cookie is not a JWT")?;
    Ok(claims["next"].as_str().unwrap_or_default().to_string())
}

fn login_returns_home(response: &RawResponse) -> Result<(), String> {
    let location = response.header("location").unwrap_or_default();
    if !location.starts_with("https://github.com/login/oauth/authorize?") {
        return Err(format!("login went to {location:?}"));
    }
    match login_next(response)? {
        next if next == "/" => Ok(()),
        next => Err(format!("the login cookie returns to {next:?}")),
    }
}

/// RFC 4180 cells, enough to see what a spreadsheet would see.
fn csv_cells(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// No cell of a CSV export starts like a spreadsheet formula.
fn no_formula_cells(response: &RawResponse) -> Result<(), String> {
    let rows = csv_cells(&response.text());
    if rows.len() < 2 {
        return Err(format!("expected rows, got {rows:?}"));
    }
    for cell in rows.iter().flatten() {
        if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            return Err(format!("a cell a spreadsheet would run: {cell:?}"));
        }
    }
    Ok(())
}

fn retry_after_a_minute(response: &RawResponse) -> Result<(), String> {
    match response.header("retry-after") {
        Some("60") => Ok(()),
        other => Err(format!("Retry-After {other:?}")),
    }
}

// ---- markup and formulas that attendees choose as their names ---------------------------------

const SCRIPT_NAME: &str = "<script>alert(\"name\")</script>";
const IMG_NAME: &str = "<img src=x onerror=alert(2)>";
const IMG_EMAIL: &str = "<img/src=x/onerror=alert(3)>@evil.example";
const FORMULA_NAMES: [(&str, &str); 4] = [
    ("=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd@evil.example"),
    ("+SUM(1,1)", "plus@example.org"),
    ("-2+3", "-minus@example.org"),
    ("@SUM(1)", "at@example.org"),
];
/// Raw markup that must never reach a page unescaped.
const RAW_MARKUP: [&str; 3] = ["<script>alert(", "<img src=x onerror", "<img/src=x/onerror"];

fn never_raw_markup(expect: Expect) -> Expect {
    RAW_MARKUP.iter().fold(expect, |e, m| e.never(*m))
}

// ---- the suite --------------------------------------------------------------------------------

#[tokio::test]
async fn hostile_input_is_refused_with_a_clear_status_and_writes_nothing() {
    let mut report = Report::default();
    demo_site(&mut report).await;
    production_site(&mut report).await;
    rate_limited_site(&mut report).await;
    report.finish();
}

/// Signs in through the demo form; the session cookie (`name=value`).
async fn sign_in(world: &World, email: &str, name: &str) -> String {
    let response = world.send(&post("/auth/dev", &[("email", email), ("name", name), ("next", "/")])).await;
    assert_eq!(response.status, 303, "sign-in of {email}: {}", response.text());
    session_cookie(&response.cookie("minter_session").expect("a session"))
}

async fn claim(world: &World, cookie: &str, slug: &str) -> RawResponse {
    world.send(&call(ClaimKey::PATH, &[("slug", slug), ("marketing_consent", "on")]).cookie(Some(cookie))).await
}

async fn demo_site(report: &mut Report) {
    let world = World::start(
        true,
        &[
            ("ADMIN_EMAILS", ADMIN),
            ("SESSION_SECRET", SECRET),
            // One a minute: a second test of the same person is refused while the cases run.
            ("RATE_LIMIT_KEY_TESTS_PER_MINUTE", "1"),
            ("GITHUB_CLIENT_ID", "gh-hostile"),
            ("GITHUB_CLIENT_SECRET", "gh-hostile-secret"),
        ],
    )
    .await;

    // The people: an admin, an organiser of another workshop, an attendee with a key, one who
    // will try the claim window, and attendees whose names and emails are markup or formulas.
    let root = sign_in(&world, ADMIN, "Root").await;
    let organiser = sign_in(&world, ORGANISER, "Olga").await;
    let eve = sign_in(&world, "eve@example.org", "Eve").await;
    let wendy = sign_in(&world, "wendy@example.org", "Wendy").await;
    assert_eq!(claim(&world, &eve, "demo").await.status, 200);
    let script_named = sign_in(&world, "xss-name@example.org", SCRIPT_NAME).await;
    let img_emailed = sign_in(&world, IMG_EMAIL, IMG_NAME).await;
    for cookie in [&script_named, &img_emailed] {
        assert_eq!(claim(&world, cookie, "demo").await.status, 200);
    }
    for (name, email) in FORMULA_NAMES {
        let cookie = sign_in(&world, email, name).await;
        assert_eq!(claim(&world, &cookie, "demo").await.status, 200, "{name}");
    }
    // Tess tests her key once; within the minute the limit refuses the next.
    let tess = sign_in(&world, "tess@example.org", "Tess").await;
    assert_eq!(claim(&world, &tess, "demo").await.status, 200);
    let tested = world.send(&call(CheckMyKey::PATH, &[("slug", "demo")]).cookie(Some(&tess))).await;
    assert_eq!(tested.status, 200, "{}", tested.text());
    // Someone who signed out: their old cookie is a perfectly signed token of this server.
    let signed_out = sign_in(&world, "gone@example.org", "Gone").await;
    let out = world.send(&post("/auth/logout", &[]).cookie(Some(&signed_out))).await;
    assert_eq!(out.status, 303, "sign-out: {}", out.text());
    // A real login cookie of this server (audience `minter-login`), to be replayed as a session.
    let login = world.send(&get("/auth/login/github?next=/")).await;
    let login_token = login.cookie("minter_login").expect("a login cookie");

    // Calibration: the forger signs exactly as the server does, so its refusals below mean
    // something, and the snapshot sees a write when there is one.
    let forged_admin = valid_session(ADMIN, SECRET, Deployment::Demo);
    let accepted = world.send(&call(LoadAdminOverview::PATH, &[]).cookie(Some(&forged_admin))).await;
    assert_eq!(accepted.status, 200, "a correctly forged admin session is accepted: {}", accepted.text());
    let start = world.snapshot(Writes::LastSeen).await;
    println!("demo site before the cases: {}", start.rows());

    let mut cases = Vec::new();
    session_cookie_cases(&mut cases, &eve, &login_token, SECRET);
    event_cases(&mut cases, &eve, &wendy, &signed_out, &tess);
    cross_site_cases(&mut cases, &root, &eve);
    non_admin_cases(&mut cases, &eve, &organiser);
    unknown_slug_cases(&mut cases, &eve, &root);
    window_cases(&mut cases, &wendy, &root);
    oversized_cases(&mut cases, &eve, &root);
    malformed_cases(&mut cases, &eve, &root);
    open_redirect_cases(&mut cases);
    markup_cases(&mut cases, &script_named, &img_emailed, [&eve, &wendy, &root]);
    world.run(cases, report).await;

    // Nothing was written late either (after its answer) by any of the cases.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let end = world.snapshot(Writes::LastSeen).await;
    report.invariant("the demo site after all its cases", start.diff(&end));

    // And the snapshot does see a write: the same forged admin mints a key for someone.
    let minted = world
        .send(
            &call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "desk@example.org"), ("name", "Desk")])
                .cookie(Some(&forged_admin)),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.text());
    let changed = start.diff(&world.snapshot(Writes::LastSeen).await);
    assert!(changed.iter().any(|c| c.starts_with("workshop_attendance")), "{changed:?}");
    assert!(changed.iter().any(|c| c.starts_with("OpenRouter simulator")), "{changed:?}");
}

/// Forged, tampered, expired and foreign sessions, each claiming to be the admin, against a
/// claim (which would mint), the admin overview and the attendance export (which would leak).
fn session_cookie_cases(cases: &mut Vec<Case>, eve: &str, login_token: &str, secret: &str) {
    let admin = session_claims(ADMIN, Deployment::Demo);
    let eve_token = eve.strip_prefix("minter_session=").unwrap();
    let (eve_head, eve_signature) = (eve_token.split('.').next().unwrap(), eve_token.rsplit('.').next().unwrap());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = admin.clone();
        change(&mut claims);
        claims
    };
    let tokens: Vec<(&str, Vec<u8>)> = vec![
        ("not a JWT", b"not-a-jwt".to_vec()),
        ("empty", Vec::new()),
        (
            "eve's token with the admin's claims",
            format!("{eve_head}.{}.{eve_signature}", b64(admin.to_string().as_bytes())).into_bytes(),
        ),
        (
            "signed with another secret",
            jwt(hs256(), &admin, Sign::Hs256("another-secret-of-32-bytes-or-more!!")).into(),
        ),
        (
            "expired a minute ago",
            jwt(hs256(), &with(&|c: &mut Value| c["exp"] = json!(now() - 60)), Sign::Hs256(secret)).into_bytes(),
        ),
        ("alg none", jwt(json!({"alg": "none", "typ": "JWT"}), &admin, Sign::None).into_bytes()),
        ("HS512 with the right secret", jwt(json!({"alg": "HS512", "typ": "JWT"}), &admin, Sign::Hs512(secret)).into()),
        (
            "audience minter-login",
            jwt(hs256(), &with(&|c: &mut Value| c["aud"] = json!("minter-login")), Sign::Hs256(secret)).into_bytes(),
        ),
        (
            "no expiry",
            jwt(hs256(), &with(&|c: &mut Value| drop(c.as_object_mut().unwrap().remove("exp"))), Sign::Hs256(secret))
                .into_bytes(),
        ),
        ("signature stripped", {
            let token = jwt(hs256(), &admin, Sign::Hs256(secret));
            format!("{}.", &token[..token.rfind('.').unwrap()]).into_bytes()
        }),
        ("bytes that are not UTF-8", b"\xff\xfe\xfd".to_vec()),
        ("this server's own login cookie", login_token.as_bytes().to_vec()),
        (
            "issued by another deployment with the same secret",
            jwt(hs256(), &with(&|c: &mut Value| c["iss"] = json!("https://staging.example.org")), Sign::Hs256(secret))
                .into_bytes(),
        ),
        (
            "without a session id",
            jwt(hs256(), &with(&|c: &mut Value| drop(c.as_object_mut().unwrap().remove("jti"))), Sign::Hs256(secret))
                .into_bytes(),
        ),
    ];
    for (label, token) in tokens {
        let cookie = [b"minter_session=".as_slice(), &token].concat();
        cases.push(case(
            "session cookie",
            format!("{label}: claim"),
            call(ClaimKey::PATH, &[("slug", "demo")]).header("cookie", &cookie),
            expect(401).says("\"NotSignedIn\""),
        ));
        cases.push(case(
            "session cookie",
            format!("{label}: admin overview"),
            call(LoadAdminOverview::PATH, &[]).header("cookie", &cookie),
            expect(404).says("\"NotFound\""),
        ));
        cases.push(case(
            "session cookie",
            format!("{label}: attendance export"),
            get("/admin/w/demo/attendance.csv").header("cookie", &cookie),
            expect(404).says("Not found").never("eve@example.org"),
        ));
    }
}

/// Issue #14 on the demo site: signed-out sessions, consent withdrawal, text from the URL, our
/// request ids, key tests.
fn event_cases(cases: &mut Vec<Case>, eve: &str, wendy: &str, signed_out: &str, tess: &str) {
    let category = "event safety";
    cases.push(case(
        category,
        "a signed-out session claims",
        call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(signed_out)),
        expect(401).says("\"NotSignedIn\""),
    ));
    cases.push(case(
        category,
        "a signed-out session reads the page",
        get("/w/demo").cookie(Some(signed_out)),
        expect(200).says("Get your key").never("gone@example.org"),
    ));
    cases.push(case(
        category,
        "a signed-out session withdraws consent",
        call(WithdrawConsent::PATH, &[("slug", "demo")]).cookie(Some(signed_out)),
        expect(401).says("\"NotSignedIn\""),
    ));
    cases.push(case(
        category,
        "withdraw consent signed out",
        call(WithdrawConsent::PATH, &[("slug", "demo")]),
        expect(401).says("\"NotSignedIn\""),
    ));
    for slug in ["no-such-workshop", "../demo", "*"] {
        cases.push(case(
            category,
            format!("withdraw consent in {slug:?}"),
            call(WithdrawConsent::PATH, &[("slug", slug)]).cookie(Some(eve)),
            expect(404).says("\"UnknownWorkshop\""),
        ));
    }
    cases.push(case(
        category,
        "withdraw consent without a slug",
        call(WithdrawConsent::PATH, &[]).cookie(Some(eve)),
        expect(400).says("Request"),
    ));
    for (label, query) in [
        ("a phone number as the other sign-in", "error=other-sign-in&via=Call%20555-0100%20now"),
        ("markup as the other sign-in", "error=other-sign-in&via=%3Cb%3E555-0100%3C%2Fb%3E"),
        ("a phone number as the reference", "error=error&ref=555-0100%20call"),
        ("a reference of the right length", "error=error&ref=555-0100-abc"),
    ] {
        cases.push(case(
            category,
            format!("the page repeats {label}"),
            get(format!("/w/demo?{query}")).cookie(Some(wendy)),
            expect(200).says("data-testid=\"claim-error\"").never("555-0100"),
        ));
    }
    cases.push(case(
        category,
        "a request id chosen by the client",
        get("/healthz").header("x-request-id", "<script>alert(1)</script>"),
        expect(200).says("ok").check(|response| match response.header("x-request-id") {
            Some(id) if app::request_id::is_valid(id) => Ok(()),
            other => Err(format!("X-Request-Id {other:?}")),
        }),
    ));
    cases.push(case(
        category,
        "a second key test within the minute (one a minute on this site)",
        call(CheckMyKey::PATH, &[("slug", "demo")]).cookie(Some(tess)),
        expect(429).says("\"TooManyAttempts\""),
    ));
}

/// Every server function and every other POST route, called from another site with a valid
/// session (the admin's, or eve's for her own key) and arguments that would work.
fn cross_site_cases(cases: &mut Vec<Case>, root: &str, eve: &str) {
    let mut functions: Vec<&'static str> = leptos::server_fn::axum::server_fn_paths()
        .filter(|(_, method)| *method == axum::http::Method::POST)
        .map(|(path, _)| path)
        .collect();
    functions.sort();
    let known = [
        ClaimKey::PATH,
        CheckMyKey::PATH,
        LoadWorkshopPage::PATH,
        LoadSiteInfo::PATH,
        ListWorkshops::PATH,
        LoadAdminOverview::PATH,
        LoadAdminWorkshop::PATH,
        RetryBinding::PATH,
        DisableKey::PATH,
        RotateKey::PATH,
        PauseClaims::PATH,
        PauseAllClaims::PATH,
        MintForSomeone::PATH,
        SyncNow::PATH,
        WithdrawConsent::PATH,
    ];
    for path in known {
        assert!(functions.contains(&path), "{path} is registered");
    }
    assert!(functions.len() >= 14, "every #[server] fn, the projector's too: {functions:?}");
    let arguments = [
        ("slug", "demo"),
        ("user_id", EVE_ID),
        ("paused", "true"),
        ("email", "mallory@example.org"),
        ("name", "Mallory"),
        ("marketing_consent", "on"),
    ];
    let refused = || expect(403).says("Cross-site request refused.");
    for path in functions {
        cases.push(case(
            "cross-site POST",
            format!("{path} (Sec-Fetch-Site: cross-site)"),
            call(path, &arguments).cookie(Some(root)).header("sec-fetch-site", "cross-site"),
            refused(),
        ));
    }
    let routes: [(&str, &[(&str, &str)], &str); 3] = [
        ("/auth/dev", &[("email", "mallory@example.org"), ("name", "Mallory"), ("next", "/")], root),
        ("/auth/logout", &[], root),
        ("/demo/key-fault", &[("slug", "demo"), ("fault", "revoked")], eve),
    ];
    for (path, form, cookie) in routes {
        cases.push(case(
            "cross-site POST",
            format!("{path} (Sec-Fetch-Site: cross-site)"),
            post(path, form).cookie(Some(cookie)).header("sec-fetch-site", "cross-site"),
            refused(),
        ));
    }
    let variants: [(&str, &[(&str, &str)]); 5] = [
        ("Origin of another site", &[("origin", "https://evil.example")]),
        ("Origin null (sandboxed frame, data: URL)", &[("origin", "null")]),
        ("Sec-Fetch-Site: same-site (a sibling host)", &[("sec-fetch-site", "same-site")]),
        ("Origin whose host only starts like ours", &[("origin", "http://127.0.0.1.evil.example")]),
        (
            "our public origin, but labelled cross-site",
            &[("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "cross-site")],
        ),
    ];
    for (label, headers) in variants {
        let request =
            headers.iter().fold(call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(root)), |r, (name, value)| {
                r.header(name, value)
            });
        cases.push(case("cross-site POST", format!("claim: {label}"), request, refused()));
    }
}

/// Signed out, an attendee with a key, an organiser of another workshop, and look-alikes of the
/// admin's address: 404 and no data from every admin function, page and export.
fn non_admin_cases(cases: &mut Vec<Case>, eve: &str, organiser: &str) {
    let row = [("slug", "demo"), ("user_id", EVE_ID)];
    let functions: [(&str, &[(&str, &str)]); 11] = [
        (LoadAdminOverview::PATH, &[]),
        (PollAdminWorkshop::PATH, &[("slug", "demo")]),
        (PauseAllClaims::PATH, &[("paused", "true")]),
        (PauseAllClaims::PATH, &[("paused", "false")]),
        (LoadAdminWorkshop::PATH, &[("slug", "demo")]),
        (RetryBinding::PATH, &row),
        (DisableKey::PATH, &row),
        (RotateKey::PATH, &row),
        (PauseClaims::PATH, &[("slug", "demo"), ("paused", "true")]),
        (MintForSomeone::PATH, &[("slug", "demo"), ("email", "mallory@example.org"), ("name", "Mallory")]),
        (SyncNow::PATH, &[("slug", "demo")]),
    ];
    let identities = [("signed out", None), ("attendee", Some(eve)), ("organiser of demo-small", Some(organiser))];
    for (who, cookie) in identities {
        for (path, form) in functions {
            // The organiser may see their own workshop in the overview; the rest is not theirs.
            if cookie == Some(organiser) && path == LoadAdminOverview::PATH {
                continue;
            }
            cases.push(case(
                "non-admin",
                format!("{who}: {path}"),
                call(path, form).cookie(cookie),
                expect(404).says("\"NotFound\""),
            ));
        }
        let mut pages = vec!["/admin/w/demo", "/admin/w/demo/attendance.csv", "/admin/w/demo/leads.csv"];
        if cookie != Some(organiser) {
            pages.extend(["/admin", "/admin/w/demo-small"]);
        }
        for page in pages {
            cases.push(case(
                "non-admin",
                format!("{who}: GET {page}"),
                get(page).cookie(cookie),
                expect(404).says("Not found").never("xss-name@example.org").never("sk-or-v1-"),
            ));
        }
    }
    for look_alike in ["root+admin@example.org", "root@example.org.evil.example"] {
        cases.push(case(
            "non-admin",
            format!("look-alike of the admin's address {look_alike}: admin overview"),
            call(LoadAdminOverview::PATH, &[]).cookie(Some(&valid_session(look_alike, SECRET, Deployment::Demo))),
            expect(404).says("\"NotFound\""),
        ));
    }
}

fn unknown_slug_cases(cases: &mut Vec<Case>, eve: &str, root: &str) {
    let not_found_page = || expect(404).says("Not found");
    for path in [
        "/w/no-such-workshop",
        "/w/no-such-workshop/projector",
        "/w/DEMO",
        "/w/demo%00",
        "/w/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/w/..%2F..%2FCargo.toml",
    ] {
        cases.push(case(
            "unknown slug",
            format!("GET {path}"),
            get(path).cookie(Some(eve)),
            never_raw_markup(not_found_page()).never("[package]"),
        ));
    }
    for path in ["/pkg/..%2F..%2F..%2FCargo.toml", "/pkg/%2e%2e/%2e%2e/%2e%2e/Cargo.toml", "/..%2F..%2F.env"] {
        cases.push(case(
            "unknown slug",
            format!("static file traversal {path}"),
            get(path),
            not_found_page().never("[package]").never("[workspace]"),
        ));
    }
    for slug in ["no-such-workshop", "../demo", "DEMO"] {
        cases.push(case(
            "unknown slug",
            format!("claim {slug:?}"),
            call(ClaimKey::PATH, &[("slug", slug)]).cookie(Some(eve)),
            expect(404).says("\"UnknownWorkshop\""),
        ));
    }
    cases.push(case(
        "unknown slug",
        "test my key of no-such-workshop",
        call(CheckMyKey::PATH, &[("slug", "no-such-workshop")]).cookie(Some(eve)),
        expect(404).says("\"UnknownWorkshop\""),
    ));
    cases.push(case(
        "unknown slug",
        "admin: GET /admin/w/no-such-workshop",
        get("/admin/w/no-such-workshop").cookie(Some(root)),
        not_found_page(),
    ));
    cases.push(case(
        "unknown slug",
        "admin: export of no-such-workshop",
        get("/admin/w/no-such-workshop/leads.csv").cookie(Some(root)),
        not_found_page(),
    ));
    cases.push(case(
        "unknown slug",
        "admin: pause no-such-workshop",
        call(PauseClaims::PATH, &[("slug", "no-such-workshop"), ("paused", "true")]).cookie(Some(root)),
        expect(404).says("\"NotFound\""),
    ));
}

/// demo-upcoming opens in 2031, demo-closed closed long ago (workshops/demo/).
fn window_cases(cases: &mut Vec<Case>, wendy: &str, root: &str) {
    let claim = |slug| call(ClaimKey::PATH, &[("slug", slug), ("marketing_consent", "on")]).cookie(Some(wendy));
    cases.push(case("claim window", "claim before it opens", claim("demo-upcoming"), expect(403).says("NotOpenYet")));
    cases.push(case("claim window", "claim after it closed", claim("demo-closed"), expect(403).says("\"Closed\"")));
    for (slug, code) in [("demo-upcoming", "not-open"), ("demo-closed", "closed")] {
        cases.push(case(
            "claim window",
            format!("plain form claim of {slug}"),
            post(ClaimKey::PATH, &[("slug", slug)]).cookie(Some(wendy)).header("accept", "text/html"),
            expect(302).location(format!("/w/{slug}?error={code}")),
        ));
    }
    for (slug, says) in [("demo-upcoming", "Claims open at"), ("demo-closed", "Claims for this workshop are closed.")] {
        cases.push(case(
            "claim window",
            format!("admin mints for someone at {slug}"),
            call(MintForSomeone::PATH, &[("slug", slug), ("email", "late@example.org"), ("name", "Late")])
                .cookie(Some(root)),
            expect(403).says(says),
        ));
    }
}

fn oversized_cases(cases: &mut Vec<Case>, eve: &str, root: &str) {
    let huge = "x".repeat(server::MAX_REQUEST_BODY + 1);
    let too_large = || expect(413).says("length limit exceeded");
    let bodies: [(&str, &str, Vec<(&str, &str)>, &str); 5] = [
        ("claim", ClaimKey::PATH, vec![("slug", huge.as_str())], eve),
        ("demo sign-in", "/auth/dev", vec![("email", "big@example.org"), ("name", huge.as_str())], eve),
        (
            "admin mint for someone",
            MintForSomeone::PATH,
            vec![("slug", "demo"), ("email", "big@example.org"), ("name", huge.as_str())],
            root,
        ),
        ("demo key fault", "/demo/key-fault", vec![("slug", "demo"), ("fault", huge.as_str())], eve),
        ("sign out", "/auth/logout", vec![("x", huge.as_str())], eve),
    ];
    for (label, path, pairs, cookie) in bodies {
        cases.push(case(
            "oversized body",
            format!("{label}: 64 KiB + 1 with Content-Length"),
            post(path, &pairs).cookie(Some(cookie)).header("accept", "application/json"),
            too_large(),
        ));
    }
    let chunked = |path: &str, pairs: &[(&str, &str)]| {
        RawRequest::new("POST", path).body(Body::Chunked { content_type: FORM, bytes: form(pairs) })
    };
    let big = "y".repeat(256 * 1024);
    cases.push(case(
        "oversized body",
        "claim: 256 KiB chunked, no length up front",
        chunked(ClaimKey::PATH, &[("slug", "demo"), ("pad", big.as_str())])
            .cookie(Some(eve))
            .header("accept", "application/json"),
        too_large(),
    ));
    cases.push(case(
        "oversized body",
        "demo sign-in: 256 KiB chunked",
        chunked("/auth/dev", &[("email", "chunky@example.org"), ("name", "C"), ("pad", big.as_str())]),
        too_large(),
    ));
    cases.push(case(
        "oversized body",
        "claim: Content-Length of 10 GB, few bytes sent",
        RawRequest::new("POST", ClaimKey::PATH)
            .body(Body::Lying { content_type: FORM, declared: 10_000_000_000, bytes: b"slug=demo".to_vec() })
            .cookie(Some(eve)),
        too_large(),
    ));
}

/// Bodies that are not UTF-8, fields far larger than any real one, arguments that are missing.
fn malformed_cases(cases: &mut Vec<Case>, eve: &str, root: &str) {
    let bad_request = || expect(400);
    cases.push(case(
        "malformed form",
        "claim: slug percent-encodes bytes that are not UTF-8 (decoded as U+FFFD: no such workshop)",
        post_bytes(ClaimKey::PATH, b"slug=%FF%FE".to_vec()).cookie(Some(eve)).header("accept", "application/json"),
        expect(404).says("\"UnknownWorkshop\""),
    ));
    cases.push(case(
        "malformed form",
        "claim: raw bytes that are not UTF-8",
        post_bytes(ClaimKey::PATH, b"slug=\xff\xfe".to_vec()).cookie(Some(eve)).header("accept", "application/json"),
        bad_request().says("The request body is not UTF-8 text."),
    ));
    cases.push(case(
        "malformed form",
        "claim: no slug at all",
        call(ClaimKey::PATH, &[("marketing_consent", "on")]).cookie(Some(eve)),
        bad_request().says("missing field `slug`"),
    ));
    cases.push(case(
        "malformed form",
        "claim: a JSON body instead of a form",
        RawRequest::new("POST", ClaimKey::PATH)
            .body(Body::Bytes { content_type: "application/json", bytes: br#"{"slug":"demo"}"#.to_vec() })
            .cookie(Some(eve))
            .header("accept", "application/json"),
        bad_request().says("missing field `slug`"),
    ));
    cases.push(case(
        "malformed form",
        "workshop page data: no slug at all",
        call(LoadWorkshopPage::PATH, &[]),
        bad_request().says("missing field `slug`"),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in: email bytes that are not UTF-8",
        post_bytes("/auth/dev", b"email=\xff@example.org&name=A&next=/".to_vec()),
        bad_request().says("Please enter a valid email address."),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in: name bytes that are not UTF-8",
        post_bytes("/auth/dev", b"email=bytes%40example.org&name=%FF%FEAda&next=/".to_vec()),
        bad_request().says("Please enter your name"),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in: a name with control characters",
        post("/auth/dev", &[("email", "ctl@example.org"), ("name", "Ada\u{1b}[2J\u{0}")]),
        bad_request().says("Please enter your name"),
    ));
    cases.push(case(
        "malformed form",
        "demo sign-in form: next percent-encodes bytes that are not UTF-8 (stays a path here)",
        get("/auth/dev?next=%2F%2F%FF%FE"),
        expect(200).says(r#"name="next" value="/""#),
    ));
    let long = "n".repeat(60_000);
    cases.push(case(
        "huge field",
        "demo sign-in: a 60 000-character name",
        post("/auth/dev", &[("email", "long@example.org"), ("name", long.as_str())]),
        bad_request().says("at most 100 characters"),
    ));
    let long_email = format!("{}@example.org", "e".repeat(60_000));
    cases.push(case(
        "huge field",
        "demo sign-in: a 60 000-character email",
        post("/auth/dev", &[("email", long_email.as_str()), ("name", "Long")]),
        bad_request().says("valid email address"),
    ));
    cases.push(case(
        "huge field",
        "claim: a 60 000-character slug",
        call(ClaimKey::PATH, &[("slug", long.as_str())]).cookie(Some(eve)),
        expect(404).says("\"UnknownWorkshop\""),
    ));
    cases.push(case(
        "huge field",
        "admin mints for someone with a 60 000-character name",
        call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "long@example.org"), ("name", long.as_str())])
            .cookie(Some(root)),
        expect(422).says("Enter the attendee's name"),
    ));
    cases.push(case(
        "huge field",
        "admin mints for someone with a 60 000-character email",
        call(MintForSomeone::PATH, &[("slug", "demo"), ("email", long_email.as_str()), ("name", "Long")])
            .cookie(Some(root)),
        expect(422).says("Enter the attendee's email address"),
    ));
    cases.push(case(
        "huge field",
        "demo key fault: a 60 000-character fault",
        post("/demo/key-fault", &[("slug", "demo"), ("fault", long.as_str())]).cookie(Some(eve)),
        bad_request().says("fault"),
    ));
    cases.push(case(
        "huge field",
        "admin mints for someone whose name is control characters",
        call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "ctl@example.org"), ("name", "A\u{0}\u{7}\u{1b}[2J")])
            .cookie(Some(root)),
        expect(422).says("Enter the attendee's name"),
    ));
}

/// `next` values that would leave the site, as they arrive on the wire (percent-encoded).
const FOREIGN_NEXT: [(&str, &str); 12] = [
    ("//evil.example", "%2F%2Fevil.example"),
    ("https://evil.example", "https%3A%2F%2Fevil.example"),
    ("/\\evil.example", "%2F%5Cevil.example"),
    ("%2F%2Fevil.example (double-encoded)", "%252F%252Fevil.example"),
    ("javascript:alert(1)", "javascript%3Aalert(1)"),
    ("/<tab>/evil.example", "%2F%09%2Fevil.example"),
    ("/<newline>/evil.example", "%2F%0A%2Fevil.example"),
    ("\\\\evil.example", "%5C%5Cevil.example"),
    ("///evil.example", "%2F%2F%2Fevil.example"),
    ("<space>//evil.example", "%20%2F%2Fevil.example"),
    ("/<ideographic space>/evil.example", "%2F%E3%80%80%2Fevil.example"),
    ("http:evil.example", "http%3Aevil.example"),
];

fn open_redirect_cases(cases: &mut Vec<Case>) {
    for (label, wire) in FOREIGN_NEXT {
        cases.push(case(
            "next open redirect",
            format!("demo sign-in POST, next={label}"),
            post_bytes("/auth/dev", format!("email=eve%40example.org&name=Eve&next={wire}").into_bytes()),
            expect(303).location("/").sets("minter_session").writes(Writes::LastSeen),
        ));
        cases.push(case(
            "next open redirect",
            format!("GitHub login, next={label}"),
            get(format!("/auth/login/github?next={wire}")),
            expect(303).sets("minter_login").check(login_returns_home),
        ));
        cases.push(case(
            "next open redirect",
            format!("demo sign-in form, next={label}"),
            get(format!("/auth/dev?next={wire}")),
            expect(200).says(r#"name="next" value="/""#).never("evil.example"),
        ));
    }
    cases.push(case(
        "next open redirect",
        "unknown provider's refusal page, next=//evil.example",
        get("/auth/login/nope?next=%2F%2Fevil.example"),
        expect(404).says("Sign-in failed").says(r#"<a href="/">Back</a>"#).never("evil.example"),
    ));
}

fn markup_cases(cases: &mut Vec<Case>, script_named: &str, img_emailed: &str, people: [&str; 3]) {
    let [eve, wendy, root] = people;
    let category = "markup and formulas";
    cases.push(case(
        category,
        "workshop page of an attendee named <script>",
        get("/w/demo").cookie(Some(script_named)),
        never_raw_markup(expect(200).says("xss-name@example.org")),
    ));
    cases.push(case(
        category,
        "workshop page of an attendee whose email is an <img onerror>",
        get("/w/demo").cookie(Some(img_emailed)),
        never_raw_markup(expect(200).says("&lt;img/src=x/onerror=alert(3)&gt;@evil.example")),
    ));
    cases.push(case(
        category,
        "admin page listing both",
        get("/admin/w/demo").cookie(Some(root)),
        never_raw_markup(expect(200).says("&lt;script&gt;alert(").says("&lt;img src=x onerror=alert(2)&gt;")),
    ));
    cases.push(case(
        category,
        "admin overview",
        get("/admin").cookie(Some(root)),
        never_raw_markup(expect(200).says("Build with LLMs: demo workshop")),
    ));
    for export in ["attendance", "leads"] {
        let neutralised = expect(200).says("'=HYPERLINK(").says("'+SUM(1,1)").says("'-2+3").says("'@SUM(1)");
        let neutralised = neutralised.says("'=cmd@evil.example").says("'-minus@example.org").check(no_formula_cells);
        cases.push(case(
            category,
            format!("{export}.csv: formulas neutralised"),
            get(format!("/admin/w/demo/{export}.csv")).cookie(Some(root)),
            neutralised,
        ));
    }
    cases.push(case(
        category,
        "workshop page reflecting ?via=<img onerror>",
        get("/w/demo?error=other-sign-in&via=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E").cookie(Some(wendy)),
        never_raw_markup(expect(200).says("another sign-in using the same email").never("&lt;img src=x")),
    ));
    cases.push(case(
        category,
        "workshop page reflecting ?snippet=<script>",
        get("/w/demo?snippet=%3Cscript%3Ealert(1)%3C%2Fscript%3E&key_test=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
            .cookie(Some(eve)),
        never_raw_markup(expect(200).says("Your key")),
    ));
    cases.push(case(
        category,
        "demo sign-in form reflecting a next that breaks out of its attribute",
        get("/auth/dev?next=%2Fw%2Fdemo%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        never_raw_markup(expect(200).says("/w/demo&quot;&gt;&lt;script&gt;")),
    ));
    cases.push(case(
        category,
        "demo sign-in form reflecting an email that breaks out of its attribute",
        post("/auth/dev", &[("email", "\"><script>alert(1)</script>"), ("name", "<img src=x onerror=alert(2)>")]),
        never_raw_markup(expect(400).says("valid email address").says("&quot;&gt;&lt;script&gt;")),
    ));
}

async fn production_site(report: &mut Report) {
    let world = World::start(false, &[]).await;
    assert!(world.https, "PUBLIC_URL=https://keys.example.org");
    let someone = valid_session("someone@example.org", PRODUCTION_SECRET, Deployment::Production);
    let accepted = world.send(&call(LoadSiteInfo::PATH, &[]).cookie(Some(&someone))).await;
    assert!(accepted.text().contains("someone@example.org"), "calibration: {}", accepted.text());
    let start = world.snapshot(Writes::Nothing).await;

    let category = "production mode";
    let huge = "z".repeat(server::MAX_REQUEST_BODY + 1);
    let mut cases = vec![
        case("production mode", "GET /auth/dev (demo only)", get("/auth/dev?next=/"), expect(404).says("Not found")),
        case(
            category,
            "POST /auth/dev (demo only)",
            post("/auth/dev", &[("email", "mallory@example.org"), ("name", "M")]),
            expect(404).says("Not found"),
        ),
        case(
            category,
            "POST /demo/key-fault (demo only)",
            post("/demo/key-fault", &[("slug", "demo"), ("fault", "revoked")]).cookie(Some(&someone)),
            expect(404).says("Not found"),
        ),
        case(category, "GET /w/demo-upcoming (demo only)", get("/w/demo-upcoming"), expect(404).says("Not found")),
        case(
            category,
            "claim demo-closed (demo only)",
            call(ClaimKey::PATH, &[("slug", "demo-closed")]).cookie(Some(&someone)),
            expect(404).says("\"UnknownWorkshop\""),
        ),
        case(
            category,
            "oversized claim on https",
            post(ClaimKey::PATH, &[("slug", huge.as_str())]).cookie(Some(&someone)),
            expect(413).says("length limit exceeded"),
        ),
    ];
    // Only PUBLIC_URL's origin is this site: not a host that starts like it, not plain http.
    for origin in ["https://keys.example.org.evil.example", "http://keys.example.org"] {
        cases.push(case(
            category,
            format!("cross-site claim, Origin {origin}"),
            call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(&someone)).header("origin", origin),
            expect(403).says("Cross-site request refused."),
        ));
    }
    for (label, wire) in &FOREIGN_NEXT[..4] {
        cases.push(case(
            category,
            format!("GitHub login, next={label}"),
            get(format!("/auth/login/github?next={wire}")),
            expect(303).sets("__Host-minter_login").check(login_returns_home),
        ));
    }
    // A login cookie forged with the right secret whose `next` leaves the site: the callback
    // reduces it to a path again (the refusal page's Back link), and burns nothing.
    let login = json!({
        "jti": "hostile-jti", "provider": "github", "state": "s1", "pkce_verifier": "v", "nonce": "",
        "next": "//evil.example", "aud": "minter-login", "exp": now() + 600,
    });
    let login_cookie = format!("__Host-minter_login={}", jwt(hs256(), &login, Sign::Hs256(PRODUCTION_SECRET)));
    cases.push(case(
        category,
        "callback with a forged login cookie whose next is //evil.example",
        get("/auth/callback/github?state=s1&error=access_denied").cookie(Some(&login_cookie)),
        expect(403)
            .says("Sign-in failed")
            .says(r#"<a href="/">Back</a>"#)
            .never("evil.example")
            .sets("__Host-minter_login"),
    ));
    cases.push(case(
        category,
        "callback with a login cookie signed with another secret",
        get("/auth/callback/github?state=s1&code=c1").cookie(Some(&format!(
            "__Host-minter_login={}",
            jwt(hs256(), &login, Sign::Hs256("another-secret-of-32-bytes-or-more!!"))
        ))),
        expect(400).says("Sign-in failed").never("evil.example").sets("__Host-minter_login"),
    ));
    world.run(cases, report).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    report.invariant("the production site after all its cases", start.diff(&world.snapshot(Writes::Nothing).await));
}

async fn rate_limited_site(report: &mut Report) {
    let limits = [
        ("RATE_LIMIT_CLAIMS_PER_MINUTE", "2"),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "5"),
        ("RATE_LIMIT_PAGES_PER_MINUTE", "10"),
        ("TRUST_PROXY", "127.0.0.1"),
        ("SESSION_SECRET", SECRET),
    ];
    let world = World::start(true, &limits).await;
    let rita = sign_in(&world, "rita@example.org", "Rita").await;
    let sam = sign_in(&world, "sam@example.org", "Sam").await;
    let start = world.snapshot(Writes::Nothing).await;

    let category = "rate limit";
    let claim = |cookie: &str, from: &str| call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(cookie)).from(from);
    let too_many_claims = || expect(429).says("\"TooManyAttempts\"");
    let too_many_requests = || expect(429).says("Too many requests from your network").check(retry_after_a_minute);
    let cases = vec![
        Case {
            prep: Prep::ExhaustClaims { cookie: rita.clone(), from: "203.0.113.10" },
            ..case(
                category,
                "per person: claim after using up the claims, from another address",
                claim(&rita, "203.0.113.11"),
                too_many_claims(),
            )
        },
        Case {
            prep: Prep::ExhaustClaims { cookie: rita.clone(), from: "203.0.113.12" },
            ..case(
                category,
                "per person: a fresh session does not reset it",
                claim(&valid_session("rita@example.org", SECRET, Deployment::Demo), "203.0.113.13"),
                too_many_claims(),
            )
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(category, "per address: claim", claim(&sam, "203.0.113.20"), too_many_requests())
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(
                category,
                "per address: demo sign-in of someone new",
                post("/auth/dev", &[("email", "newbie@example.org"), ("name", "New")]).from("203.0.113.20"),
                too_many_requests(),
            )
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(
                category,
                "per address: a spoofed X-Forwarded-For entry before the proxy's",
                claim(&sam, "198.51.100.7, 203.0.113.20"),
                too_many_requests(),
            )
        },
        Case {
            prep: Prep::ExhaustPages("203.0.113.30"),
            ..case(
                category,
                "per address: a page view",
                get("/w/demo").from("203.0.113.30"),
                expect(429).says("Too many requests from your network").check(retry_after_a_minute),
            )
        },
        Case {
            prep: Prep::ExhaustPages("203.0.113.30"),
            ..case(
                category,
                "per address: a page view with a spoofed X-Forwarded-For entry before the proxy's",
                get("/w/demo").from("198.51.100.8, 203.0.113.30"),
                expect(429).says("Too many requests from your network"),
            )
        },
        Case {
            prep: Prep::ExhaustPages("203.0.113.30"),
            ..case(
                category,
                "per address: a page view over two X-Forwarded-For lines",
                get("/w/demo").from("198.51.100.9").from("203.0.113.30"),
                expect(429).says("Too many requests from your network"),
            )
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(
                category,
                "per address: any server function",
                call(LoadSiteInfo::PATH, &[]).from("203.0.113.20"),
                too_many_requests(),
            )
        },
    ];
    world.run(cases, report).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    report.invariant("the rate-limited site after all its cases", start.diff(&world.snapshot(Writes::Nothing).await));
    // The limits are per person and per address: someone else, elsewhere, still claims.
    let other = world.send(&claim(&sam, "203.0.113.99")).await;
    assert_eq!(other.status, 200, "{}", other.text());
}
