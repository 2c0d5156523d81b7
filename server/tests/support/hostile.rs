//! The hostile-input suites' shared parts (issue #7, #14): every case is data (a request written
//! byte for byte, the status it must get, what the answer must and must not say) run against the
//! real router over real HTTP on loopback. For every case the suite also checks the security
//! headers and that nothing was written: every row of every table of the database, the
//! OpenRouter simulator's keys and the number of calls it received are the same before and after.
//!
//! Each `hostile_*.rs` test file covers one surface (sign-in, claims, admin, headers and limits,
//! server functions) on the worlds it needs: demo mode ([`demo_world`], with an admin, an
//! organiser, attendees with keys and hostile display names), a production configuration on
//! https, and demo mode with tiny rate limits behind a trusted proxy.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::SqlitePool;

use app::admin::{LoadAdminOverview, MintForSomeone};
use app::claim::{CheckMyKey, ClaimKey};
use app::state::AppState;

use super::app_server::{start_with_state, TestServer};
use super::raw_http::{self, Body, RawRequest, RawResponse};

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const ADMIN: &str = "root@example.org";
/// In workshops/demo/demo-small.yaml, so an organiser, but not of `demo`.
pub const ORGANISER: &str = "organiser@example.com";
/// Known to the suite so it can forge sessions the way the server signs them.
pub const SECRET: &str = "hostile-suite-session-secret-0123456789";
pub const EVE_ID: &str = "dev|eve@example.org";

// ---- the cases as data ------------------------------------------------------------------------

/// What a case may change: nothing, or (a sign-in that is itself the point of the case) the
/// signed-in attendee's `last_seen_at`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writes {
    Nothing,
    LastSeen,
}

pub type Check = Box<dyn Fn(&RawResponse) -> Result<(), String>>;

pub struct Expect {
    pub status: u16,
    /// Fragments the body must contain: the clear message.
    pub says: Vec<String>,
    /// Fragments it must not contain (data, raw markup, a foreign host).
    pub never: Vec<String>,
    pub location: Option<String>,
    /// The only cookie the answer may set (none at all otherwise).
    pub sets: Option<&'static str>,
    pub writes: Writes,
    pub check: Option<Check>,
}

pub fn expect(status: u16) -> Expect {
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
    pub fn says(mut self, fragment: impl Into<String>) -> Self {
        self.says.push(fragment.into());
        self
    }
    pub fn never(mut self, fragment: impl Into<String>) -> Self {
        self.never.push(fragment.into());
        self
    }
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
    pub fn sets(mut self, cookie: &'static str) -> Self {
        self.sets = Some(cookie);
        self
    }
    pub fn writes(mut self, writes: Writes) -> Self {
        self.writes = writes;
        self
    }
    pub fn check(mut self, check: impl Fn(&RawResponse) -> Result<(), String> + 'static) -> Self {
        self.check = Some(Box::new(check));
        self
    }
}

/// What to do right before the request (a rate limit must be used up at that moment).
pub enum Prep {
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

pub struct Case {
    pub category: &'static str,
    pub name: String,
    pub request: RawRequest,
    pub expect: Expect,
    pub prep: Prep,
}

pub fn case(category: &'static str, name: impl Into<String>, request: RawRequest, expect: Expect) -> Case {
    Case { category, name: name.into(), request, expect, prep: Prep::None }
}

// ---- requests ---------------------------------------------------------------------------------

pub fn get(target: impl Into<String>) -> RawRequest {
    RawRequest::new("GET", target)
}

pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

pub fn post_bytes(target: impl Into<String>, bytes: Vec<u8>) -> RawRequest {
    RawRequest::new("POST", target).body(Body::Bytes { content_type: FORM, bytes })
}

pub fn post(target: impl Into<String>, pairs: &[(&str, &str)]) -> RawRequest {
    post_bytes(target, form(pairs))
}

/// A server function called as the hydrated page calls it (answers in JSON).
pub fn call(path: &str, pairs: &[(&str, &str)]) -> RawRequest {
    post(path, pairs).header("accept", "application/json")
}

pub trait With {
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

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hmac(block: usize, hash: fn(&[u8]) -> Vec<u8>, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut key = if key.len() > block { hash(key) } else { key.to_vec() };
    key.resize(block, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = hash(&[pad(0x36), message.to_vec()].concat());
    hash(&[pad(0x5c), inner].concat())
}

pub enum Sign<'a> {
    Hs256(&'a str),
    Hs512(&'a str),
    None,
}

pub fn jwt(header: Value, claims: &Value, sign: Sign) -> String {
    let signed = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = match sign {
        Sign::Hs256(secret) => b64(&hmac(64, |m| Sha256::digest(m).to_vec(), secret.as_bytes(), signed.as_bytes())),
        Sign::Hs512(secret) => b64(&hmac(128, |m| Sha512::digest(m).to_vec(), secret.as_bytes(), signed.as_bytes())),
        Sign::None => String::new(),
    };
    format!("{signed}.{signature}")
}

pub fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Which of the suite's servers a session is forged for: each takes only its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// Demo mode on the default address: demo sign-ins, plain-http cookie names.
    Demo,
    /// `PUBLIC_URL=https://keys.example.org`: GitHub sign-ins, `__Host-` cookie names.
    Production,
}

impl Deployment {
    pub fn issuer(self) -> &'static str {
        match self {
            Deployment::Demo => "http://127.0.0.1:3000",
            Deployment::Production => "https://keys.example.org",
        }
    }

    pub fn cookie(self, name: &str) -> String {
        match self {
            Deployment::Demo => name.to_string(),
            Deployment::Production => format!("__Host-{name}"),
        }
    }
}

/// The claims of a session for `email`, as `deployment` issues them.
pub fn session_claims(email: &str, deployment: Deployment) -> Value {
    let provider = if deployment == Deployment::Demo { "dev" } else { "github" };
    json!({
        "aud": "minter-session", "iss": deployment.issuer(), "jti": format!("{:032x}", rand::random::<u128>()),
        "sub": format!("{provider}|{email}"), "email": email, "name": "Forged",
        "provider": provider, "iat": now(), "exp": now() + 3600,
    })
}

pub fn session_cookie(token: &str) -> String {
    format!("minter_session={token}")
}

/// A valid session for `email` on a server signing with `secret` (the calibration: accepted).
pub fn valid_session(email: &str, secret: &str, deployment: Deployment) -> String {
    let token = jwt(hs256(), &session_claims(email, deployment), Sign::Hs256(secret));
    format!("{}={token}", deployment.cookie("minter_session"))
}

pub fn jwt_claims(token: &str) -> Option<Value> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&payload).ok()
}

// ---- the world a case runs in -----------------------------------------------------------------

pub struct World {
    pub server: TestServer,
    pub state: AppState,
    pub db: SqlitePool,
    pub https: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: BTreeMap<String, Vec<String>>,
    /// The simulator's keys and the calls it has received (demo mode).
    pub simulator: Option<(usize, u64)>,
}

impl Snapshot {
    pub fn rows(&self) -> String {
        self.tables.iter().map(|(t, rows)| format!("{t} {}", rows.len())).collect::<Vec<_>>().join(", ")
    }

    pub fn diff(&self, after: &Snapshot) -> Vec<String> {
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
    pub async fn start(demo: bool, extra: &[(&str, &str)]) -> World {
        let (server, state) = start_with_state(demo, extra).await;
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}?mode=ro", server.sqlite_url()))
            .await
            .expect("the server's SQLite database");
        let https = state.sign_in.public_url().starts_with("https://");
        World { server, state, db, https }
    }

    pub async fn send(&self, request: &RawRequest) -> RawResponse {
        raw_http::send(self.server.addr, request)
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", request.method, request.target))
    }

    /// Every row of every table (one string per row), and the simulator's counters.
    pub async fn snapshot(&self, writes: Writes) -> Snapshot {
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

    pub async fn prepare(&self, prep: &Prep) -> Result<(), String> {
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
    pub async fn run(&self, cases: Vec<Case>, report: &mut Report) {
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
pub fn security_header_problems(response: &RawResponse, https: bool) -> Vec<String> {
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
pub struct Report {
    pub results: Vec<(&'static str, String, Vec<String>)>,
    /// What must hold across a whole site's cases (not counted as cases).
    pub invariants: Vec<String>,
}

impl Report {
    pub fn record(&mut self, category: &'static str, name: String, problems: Vec<String>) {
        self.results.push((category, name, problems));
    }

    pub fn invariant(&mut self, what: &str, problems: Vec<String>) {
        self.invariants.extend(problems.into_iter().map(|p| format!("{what}: {p}")));
    }

    pub fn finish(self) {
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
        assert!(total > 0, "no case ran");
    }
}

// ---- checks shared by several cases -----------------------------------------------------------

/// The `next` a login cookie set by this answer would return to.
pub fn login_next(response: &RawResponse) -> Result<String, String> {
    let token =
        response.cookie("minter_login").or_else(|| response.cookie("__Host-minter_login")).ok_or("no login cookie")?;
    let claims = jwt_claims(&token).ok_or("login cookie is not a JWT")?;
    Ok(claims["next"].as_str().unwrap_or_default().to_string())
}

pub fn login_returns_home(response: &RawResponse) -> Result<(), String> {
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
pub fn csv_cells(text: &str) -> Vec<Vec<String>> {
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
pub fn no_formula_cells(response: &RawResponse) -> Result<(), String> {
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

pub fn retry_after_a_minute(response: &RawResponse) -> Result<(), String> {
    match response.header("retry-after") {
        Some("60") => Ok(()),
        other => Err(format!("Retry-After {other:?}")),
    }
}

// ---- markup and formulas that attendees choose as their names ---------------------------------

pub const SCRIPT_NAME: &str = "<script>alert(\"name\")</script>";
pub const IMG_NAME: &str = "<img src=x onerror=alert(2)>";
pub const IMG_EMAIL: &str = "<img/src=x/onerror=alert(3)>@evil.example";
pub const FORMULA_NAMES: [(&str, &str); 4] = [
    ("=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd@evil.example"),
    ("+SUM(1,1)", "plus@example.org"),
    ("-2+3", "-minus@example.org"),
    ("@SUM(1)", "at@example.org"),
];
/// Raw markup that must never reach a page unescaped.
pub const RAW_MARKUP: [&str; 3] = ["<script>alert(", "<img src=x onerror", "<img/src=x/onerror"];

pub fn never_raw_markup(expect: Expect) -> Expect {
    RAW_MARKUP.iter().fold(expect, |e, m| e.never(*m))
}

pub const FOREIGN_NEXT: [(&str, &str); 12] = [
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

/// Signs in through the demo form; the session cookie (`name=value`).
pub async fn sign_in(world: &World, email: &str, name: &str) -> String {
    let response = world.send(&post("/auth/dev", &[("email", email), ("name", name), ("next", "/")])).await;
    assert_eq!(response.status, 303, "sign-in of {email}: {}", response.text());
    session_cookie(&response.cookie("minter_session").expect("a session"))
}

pub async fn claim(world: &World, cookie: &str, slug: &str) -> RawResponse {
    world.send(&call(ClaimKey::PATH, &[("slug", slug), ("marketing_consent", "on")]).cookie(Some(cookie))).await
}

/// The people of the demo world, signed in (their session cookies).
pub struct DemoPeople {
    pub root: String,
    pub organiser: String,
    pub eve: String,
    pub wendy: String,
    pub script_named: String,
    pub img_emailed: String,
    /// Tested her key once: within the minute the next test is refused.
    pub tess: String,
    /// Signed out: a perfectly signed token of this server that authenticates nothing.
    pub signed_out: String,
    /// A real login cookie of this server (audience `minter-login`), to be replayed as a session.
    pub login_token: String,
    /// A session forged exactly as the server signs one, for the admin.
    pub forged_admin: String,
}

/// The demo world and its people, and the snapshot taken before any case.
pub async fn demo_world() -> (World, DemoPeople, Snapshot) {
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

    (
        world,
        DemoPeople {
            root,
            organiser,
            eve,
            wendy,
            script_named,
            img_emailed,
            tess,
            signed_out,
            login_token,
            forged_admin,
        },
        start,
    )
}

/// After a demo world's cases: nothing was written late, and the snapshot does see a write.
pub async fn finish_demo(world: &World, people: &DemoPeople, start: &Snapshot, report: &mut Report) {
    let forged_admin = &people.forged_admin;
    // Nothing was written late either (after its answer) by any of the cases.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let end = world.snapshot(Writes::LastSeen).await;
    report.invariant("the demo site after all its cases", start.diff(&end));

    // And the snapshot does see a write: the same forged admin mints a key for someone.
    let minted = world
        .send(
            &call(MintForSomeone::PATH, &[("slug", "demo"), ("email", "desk@example.org"), ("name", "Desk")])
                .cookie(Some(forged_admin)),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.text());
    let changed = start.diff(&world.snapshot(Writes::LastSeen).await);
    assert!(changed.iter().any(|c| c.starts_with("workshop_attendance")), "{changed:?}");
    assert!(changed.iter().any(|c| c.starts_with("OpenRouter simulator")), "{changed:?}");
}
