//! In-memory fake of the OpenRouter management API (keys, guardrails, key assignments), for tests
//! and local demos. Same paths, methods, status codes and bodies as OpenRouter's OpenAPI file;
//! unknown request fields are ignored like the real service does (so `guardrail_ids` on
//! `POST /keys` binds nothing).
//!
//! Beside the management routes it serves a minimal OpenAI-compatible `POST /chat/completions`
//! authenticated by minted keys, which answers a canned completion and charges the key's usage
//! (see [`Simulator::set_model_price`]).
//!
//! Choices where the spec is silent (documented so tests can rely on them):
//! - `GET /keys` returns pages of [`KEYS_PAGE_SIZE`]; it has no `limit` parameter.
//! - `GET /keys` and `GET /guardrails` list the default workspace unless `workspace_id` is given.
//! - `POST /keys` accepts an `expires_at` in the past (the spec does not forbid it); such a key is
//!   refused by `/chat/completions` like any expired key.
//! - `POST /guardrails/{id}/assignments/keys`: unknown guardrail → 404; unknown key hashes are
//!   skipped and not counted, so `assigned_count` = distinct existing keys now bound to the
//!   guardrail (re-assigning is idempotent and counted). A key holds at most one guardrail.
//! - Plaintext keys are never stored: only their sha256 `hash`, which is also how
//!   `/chat/completions` recognises a key.
//! - `/chat/completions` enforces the key's `disabled`, `expires_at` and `limit` (against the
//!   usage of the `limit_reset` period) and the assigned guardrail's `allowed_models`; it does
//!   not enforce guardrail budgets, providers or ignored models.
//!
//! Faults for tests and demos: [`Simulator::fail_next`], [`Simulator::fail_next_after_apply`],
//! [`Simulator::hang_next`], [`Simulator::set_latency`], or a whole spec string with
//! [`Simulator::apply_fault_spec`] (grammar there).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::types::{
    format_utc, AssignKeysResponse, CreateGuardrail, CreatedKey, DataResponse, DeleteResponse, ErrorBody,
    ErrorEnvelope, Guardrail, GuardrailPage, KeyAssignment, KeyAssignmentPage, KeyHashes, KeyInfo, KeyList,
    ResetInterval, UnassignKeysResponse, UpdateGuardrail, UpdateKey,
};

/// Workspace every key and guardrail lands in unless the request names another.
pub const DEFAULT_WORKSPACE_ID: &str = "0df9e665-d932-5740-b2c7-b52af166bc11";
/// `creator_user_id` / `assigned_by` of everything the simulator creates.
pub const SIMULATOR_USER_ID: &str = "user_simulator";
pub use super::client::KEYS_PAGE_SIZE;
/// Path of the inference endpoint, relative to the API base like the management routes.
pub const CHAT_COMPLETIONS_PATH: &str = "/chat/completions";
/// The assistant message of every simulated completion.
pub const CANNED_COMPLETION: &str = "Hello from the OpenRouter simulator! This is a canned completion.";
/// USD per million input and output tokens for models without [`Simulator::set_model_price`].
pub const DEFAULT_PRICE_PER_MTOK: (f64, f64) = (1.0, 2.0);
/// Environment variable conventionally holding a fault spec for demo mode (see
/// [`Simulator::apply_fault_spec_from_env`]).
pub const FAULTS_ENV: &str = "OPENROUTER_SIM_FAULTS";
/// How long a "hang" fault keeps a request open (the client times out first).
const HANG: Duration = Duration::from_secs(3600);
/// The request log keeps this many newest entries.
const REQUEST_LOG_CAP: usize = 10_000;

/// Shared handle to one simulated OpenRouter account; clones see the same state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    management_key: String,
    state: Mutex<SimState>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Default)]
struct SimState {
    keys: Vec<KeyInfo>,
    guardrails: Vec<Guardrail>,
    assignments: Vec<Assignment>,
    faults: Vec<Fault>,
    latency: Duration,
    latency_rules: Vec<LatencyRule>,
    /// `Retry-After` seconds of injected 429s without their own; `None` = 1.
    retry_after_secs: Option<u64>,
    requests: u64,
    log: VecDeque<String>,
    prices: HashMap<String, (f64, f64)>,
}

struct Assignment {
    id: String,
    key_hash: String,
    guardrail_id: String,
    created_at: String,
}

/// Which requests a fault or latency rule applies to: an optional method and a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    method: Option<Method>,
    /// `None` = any path.
    pattern: Option<PathPattern>,
}

/// Substring of the path relative to the API base; `^` / `$` anchor it at the start / end.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PathPattern {
    text: String,
    at_start: bool,
    at_end: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultAction {
    Status { status: u16, retry_after_secs: Option<u64> },
    Hang,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fault {
    target: Target,
    action: FaultAction,
    /// Perform the operation first, then answer the fault (an "ambiguous" failure).
    after_apply: bool,
    remaining: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LatencyRule {
    target: Target,
    delay: Duration,
}

/// One parsed rule of a fault spec.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Fault(Fault),
    Latency(LatencyRule),
}

/// Snapshot of a simulated key, for test assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedKey {
    pub info: KeyInfo,
    /// The guardrail the key is bound to (the API allows at most one).
    pub guardrail_id: Option<String>,
}

/// A simulator served on a loopback port; the server runs until the runtime shuts down.
#[derive(Clone)]
pub struct SpawnedSimulator {
    /// `http://127.0.0.1:PORT/api/v1`, ready for `OpenRouterClient::new`.
    pub base_url: String,
    pub simulator: Simulator,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("management_key", &"[REDACTED]").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SpawnedSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnedSimulator").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl Simulator {
    /// `management_key` is the only bearer token the simulator accepts.
    pub fn new(management_key: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                management_key: management_key.into(),
                state: Mutex::new(SimState::default()),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
            }),
        }
    }

    /// The API relative to its base (`/keys`, `/guardrails`, …, `/chat/completions`): nest it
    /// at `/api/v1`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(CHAT_COMPLETIONS_PATH, post(chat_completions))
            .route("/keys", get(list_keys).post(create_key))
            .route("/keys/{hash}", get(get_key).patch(update_key).delete(delete_key))
            .route("/guardrails", get(list_guardrails).post(create_guardrail))
            .route("/guardrails/assignments/keys", get(list_all_assignments))
            .route("/guardrails/{id}", get(get_guardrail).patch(update_guardrail).delete(delete_guardrail))
            .route("/guardrails/{id}/assignments/keys", get(list_guardrail_assignments).post(assign_keys))
            .route("/guardrails/{id}/assignments/keys/remove", post(unassign_keys))
            .fallback(|| async { api_error(StatusCode::NOT_FOUND, "Resource not found") })
            .method_not_allowed_fallback(|| async { api_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed") })
            .layer(middleware::from_fn_with_state(self.clone(), gate))
            .with_state(self.clone())
    }

    /// Serves `/api/v1/...` on `127.0.0.1:<random port>` in a background task.
    pub async fn spawn(self) -> std::io::Result<SpawnedSimulator> {
        let listener = crate::listener::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let app = Router::new().nest("/api/v1", self.router());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "OpenRouter simulator stopped");
            }
        });
        Ok(SpawnedSimulator { base_url: format!("http://{addr}/api/v1"), simulator: self })
    }

    // ---- inspection -------------------------------------------------------------------------

    /// All keys (including disabled ones) with their guardrail binding, in creation order.
    pub fn keys(&self) -> Vec<SimulatedKey> {
        let st = self.lock();
        st.keys
            .iter()
            .map(|k| SimulatedKey {
                info: k.clone(),
                guardrail_id: st.assignments.iter().find(|a| a.key_hash == k.hash).map(|a| a.guardrail_id.clone()),
            })
            .collect()
    }

    pub fn guardrails(&self) -> Vec<Guardrail> {
        self.lock().guardrails.clone()
    }

    pub fn key_count(&self) -> usize {
        self.lock().keys.len()
    }

    /// Every request received, including rejected and fault-injected ones.
    pub fn request_count(&self) -> u64 {
        self.lock().requests
    }

    /// The newest requests received (up to 10 000), oldest first, as `"METHOD /path"` with the
    /// path relative to the API base and without query, e.g. `"DELETE /keys/ab12…"`.
    pub fn request_log(&self) -> Vec<String> {
        self.lock().log.iter().cloned().collect()
    }

    /// How many logged requests have exactly this method and a path containing `path_contains`.
    pub fn requests_matching(&self, method: &str, path_contains: &str) -> usize {
        let prefix = format!("{} ", method.to_ascii_uppercase());
        self.lock().log.iter().filter(|r| r.strip_prefix(&prefix).is_some_and(|p| p.contains(path_contains))).count()
    }

    /// Requests being served right now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests ever served at the same time (high-water mark).
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// Sets a key's `expires_at` (the API cannot change it after creation). Returns false for
    /// an unknown hash.
    pub fn set_key_expires_at(&self, hash: &str, expires_at: Option<DateTime<Utc>>) -> bool {
        let mut st = self.lock();
        let Some(k) = st.keys.iter_mut().find(|k| k.hash == hash) else {
            return false;
        };
        k.expires_at = expires_at;
        true
    }

    /// Sets a key's `created_at`, as if it had been created then: tests age a key past a grace
    /// period instead of waiting for it. Returns false for an unknown hash.
    pub fn set_key_created_at(&self, hash: &str, created_at: DateTime<Utc>) -> bool {
        let mut st = self.lock();
        let Some(k) = st.keys.iter_mut().find(|k| k.hash == hash) else {
            return false;
        };
        k.created_at = format_utc(&created_at);
        true
    }

    /// Price `/chat/completions` charges for `model`, in USD per million input (prompt) and
    /// output (completion) tokens. Other models cost [`DEFAULT_PRICE_PER_MTOK`].
    pub fn set_model_price(&self, model: &str, in_per_mtok_usd: f64, out_per_mtok_usd: f64) {
        self.lock().prices.insert(model.to_owned(), (in_per_mtok_usd, out_per_mtok_usd));
    }

    /// Pretends the key spent `usage_usd` (all usage counters set to it; `limit_remaining`
    /// follows). Returns false for an unknown hash.
    pub fn set_key_usage(&self, hash: &str, usage_usd: f64) -> bool {
        let mut st = self.lock();
        let Some(k) = st.keys.iter_mut().find(|k| k.hash == hash) else {
            return false;
        };
        k.usage = usage_usd;
        k.usage_daily = usage_usd;
        k.usage_weekly = usage_usd;
        k.usage_monthly = usage_usd;
        k.limit_remaining = remaining(k.limit, k.usage);
        true
    }

    // ---- fault injection --------------------------------------------------------------------

    /// The next `count` requests matching `target` get `status` with an error envelope, without
    /// any effect. `target` is a path pattern, optionally after a method: `"/keys"` (any path
    /// containing `/keys`, relative to the API base, e.g. `/keys/abc`), `"POST /keys$"` (`$` and
    /// `^` anchor the pattern at the end / start of the path), `"*"` (anything).
    /// 429 answers also carry `Retry-After` ([`Self::set_retry_after_secs`], default 1).
    /// Faults queue up; the oldest matching one is used.
    pub fn fail_next(&self, target: &str, status: u16, count: u32) {
        self.add_fault(target, FaultAction::status(status), false, count);
    }

    /// Like [`Self::fail_next`], but the request is carried out first and only its answer is
    /// replaced by the error: what a real "ambiguous" failure looks like (e.g. the key exists
    /// but the caller never saw its plaintext).
    pub fn fail_next_after_apply(&self, target: &str, status: u16, count: u32) {
        self.add_fault(target, FaultAction::status(status), true, count);
    }

    /// The next `count` requests matching `target` (see [`Self::fail_next`]) never get an answer
    /// (the simulator waits an hour), so the client times out. Nothing is applied.
    pub fn hang_next(&self, target: &str, count: u32) {
        self.add_fault(target, FaultAction::Hang, false, count);
    }

    /// Like [`Self::hang_next`], but the request is carried out before the answer is withheld.
    pub fn hang_next_after_apply(&self, target: &str, count: u32) {
        self.add_fault(target, FaultAction::Hang, true, count);
    }

    /// `Retry-After` (whole seconds, 0 allowed) sent with injected 429s that do not set their
    /// own.
    pub fn set_retry_after_secs(&self, secs: u64) {
        self.lock().retry_after_secs = Some(secs);
    }

    /// Delay added before answering every request (zero to disable).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Drops every pending fault, latency rule and the global latency.
    pub fn clear_faults(&self) {
        let mut st = self.lock();
        st.faults.clear();
        st.latency_rules.clear();
        st.latency = Duration::ZERO;
    }

    /// Applies a fault spec: all rules or, on any error, none. Grammar (whitespace between
    /// tokens is free; rules are separated by `;`, empty rules are ignored):
    ///
    /// ```text
    /// spec     = rule *( ";" rule )
    /// rule     = target "=" action
    /// target   = "*" | METHOD | [ METHOD ] pattern     ; METHOD: GET POST PATCH DELETE PUT (any case)
    /// pattern  = [ "^" ] text [ "$" ] | "*"            ; substring of the path relative to the API
    ///                                                  ; base (no query); ^ / $ anchor it
    /// action   = STATUS [ count ] [ "after" ] [ "retry-after=" SECS ]   ; STATUS 400..=599
    ///          | "hang" [ count ] [ "after" ]
    ///          | "latency" DURATION                    ; DURATION: N "ms" | N "s"
    /// count    = "x" N                                 ; N >= 1, default 1; "500x2" or "500 x2"
    /// ```
    ///
    /// `STATUS` answers that status with an error envelope, `hang` never answers (the client
    /// times out), `after` performs the request first (ambiguous failure), `retry-after`
    /// overrides the header (a 429 gets [`Self::set_retry_after_secs`] by default). `latency`
    /// rules are permanent; the largest matching delay applies, and `*=latency D` is the same as
    /// [`Self::set_latency`]. Example:
    /// `"POST /keys$=500x2; /assignments=hang x1; GET /keys=429 retry-after=0; *=latency 300ms"`.
    pub fn apply_fault_spec(&self, spec: &str) -> Result<(), String> {
        let rules = parse_fault_spec(spec)?;
        let mut st = self.lock();
        for rule in rules {
            match rule {
                Rule::Fault(f) => st.faults.push(f),
                Rule::Latency(LatencyRule { target: Target { method: None, pattern: None }, delay }) => {
                    st.latency = delay
                }
                Rule::Latency(l) => st.latency_rules.push(l),
            }
        }
        Ok(())
    }

    /// Applies the spec in [`FAULTS_ENV`] if it is set and not blank; returns whether it was.
    pub fn apply_fault_spec_from_env(&self) -> Result<bool, String> {
        match std::env::var(FAULTS_ENV) {
            Ok(spec) if !spec.trim().is_empty() => {
                self.apply_fault_spec(&spec).map_err(|e| format!("{FAULTS_ENV}: {e}"))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn add_fault(&self, target: &str, action: FaultAction, after_apply: bool, count: u32) {
        if count > 0 {
            self.lock().faults.push(Fault { target: Target::parse(target), action, after_apply, remaining: count });
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panicking test thread must not wedge every other request.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---- middleware: counting, latency, faults, auth ------------------------------------------------

/// Counts a request as in flight until dropped (also when the client disconnects).
struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn gate(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let _in_flight = InFlight::enter(&sim.inner);
    let method = req.method().clone();
    // Inside `nest("/api/v1", …)` the path is relative to the API base.
    let path = req.uri().path().to_owned();
    let (latency, fault, default_retry_after) = {
        let mut st = sim.lock();
        st.requests += 1;
        if st.log.len() >= REQUEST_LOG_CAP {
            st.log.pop_front();
        }
        st.log.push_back(format!("{method} {path}"));
        let latency = st
            .latency_rules
            .iter()
            .filter(|r| r.target.matches(&method, &path))
            .map(|r| r.delay)
            .fold(st.latency, Duration::max);
        let fault = st.faults.iter_mut().find(|f| f.remaining > 0 && f.target.matches(&method, &path)).map(|f| {
            f.remaining -= 1;
            (f.action, f.after_apply)
        });
        st.faults.retain(|f| f.remaining > 0);
        (latency, fault, st.retry_after_secs.unwrap_or(1))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some((action, false)) = fault {
        return fault_response(action, default_retry_after).await;
    }
    let resp = if path == CHAT_COMPLETIONS_PATH {
        // Authenticated by the handler with a minted key, not the management key.
        next.run(req).await
    } else {
        match bearer(req.headers()) {
            None => api_error(StatusCode::UNAUTHORIZED, "Missing Authentication header"),
            Some(t) if !constant_time_eq(t.as_bytes(), sim.inner.management_key.as_bytes()) => {
                api_error(StatusCode::UNAUTHORIZED, "Invalid management key")
            }
            Some(_) => next.run(req).await,
        }
    };
    match fault {
        Some((action, true)) => fault_response(action, default_retry_after).await,
        _ => resp,
    }
}

async fn fault_response(action: FaultAction, default_retry_after: u64) -> Response {
    match action {
        FaultAction::Hang => {
            tokio::time::sleep(HANG).await;
            api_error(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
        }
        FaultAction::Status { status, retry_after_secs } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = api_error(status, default_message(status));
            let retry_after = match retry_after_secs {
                Some(s) => Some(s),
                None if status == StatusCode::TOO_MANY_REQUESTS => Some(default_retry_after),
                None => None,
            };
            if let Some(secs) = retry_after {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Invalid request parameters",
        401 => "Missing Authentication header",
        403 => "Only management keys can perform this operation",
        404 => "Resource not found",
        429 => "Rate limit exceeded",
        500 => "Internal Server Error",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

// ---- keys ---------------------------------------------------------------------------------------

/// `POST /keys` body as received: `expires_at` stays text so non-UTC offsets can be rejected
/// (a `DateTime<Utc>` would silently convert them).
#[derive(Deserialize)]
struct CreateKeyBody {
    name: String,
    #[serde(default)]
    limit: Option<f64>,
    #[serde(default)]
    limit_reset: Option<ResetInterval>,
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    creator_user_id: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
}

async fn create_key(State(sim): State<Simulator>, body: Bytes) -> Reply {
    let b: CreateKeyBody = parse_body(&body)?;
    if b.name.is_empty() {
        return Err(bad_request("name must not be empty"));
    }
    check_limit("limit", b.limit)?;
    let expires_at = b.expires_at.as_deref().map(parse_utc).transpose()?;
    if b.creator_user_id.as_deref() == Some("") {
        return Err(bad_request("creator_user_id must not be empty"));
    }
    check_workspace(b.workspace_id.as_deref())?;

    let secret_hex = hex::encode(rand::random::<[u8; 32]>());
    let key = format!("sk-or-v1-{secret_hex}");
    let info = KeyInfo {
        hash: hex::encode(Sha256::digest(key.as_bytes())),
        name: b.name,
        label: format!("sk-or-v1-{}...{}", &secret_hex[..3], &secret_hex[secret_hex.len() - 4..]),
        disabled: false,
        limit: b.limit,
        limit_remaining: remaining(b.limit, 0.0),
        limit_reset: b.limit_reset,
        include_byok_in_limit: b.include_byok_in_limit.unwrap_or(false),
        usage: 0.0,
        usage_daily: 0.0,
        usage_weekly: 0.0,
        usage_monthly: 0.0,
        byok_usage: 0.0,
        byok_usage_daily: 0.0,
        byok_usage_weekly: 0.0,
        byok_usage_monthly: 0.0,
        created_at: now(),
        updated_at: None,
        creator_user_id: Some(b.creator_user_id.unwrap_or_else(|| SIMULATOR_USER_ID.into())),
        workspace_id: b.workspace_id.unwrap_or_else(|| DEFAULT_WORKSPACE_ID.into()),
        expires_at,
    };
    sim.lock().keys.push(info.clone());
    Ok((StatusCode::CREATED, Json(CreatedKey { data: info, key })).into_response())
}

async fn list_keys(
    State(sim): State<Simulator>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Reply {
    let Ok(Query(q)) = query else {
        return Err(bad_request("invalid query string"));
    };
    let offset = query_u64(&q, "offset", 0)? as usize;
    let include_disabled = match q.get("include_disabled").map(String::as_str) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad_request("include_disabled must be true or false")),
    };
    let workspace = q.get("workspace_id").map(String::as_str).unwrap_or(DEFAULT_WORKSPACE_ID);
    let st = sim.lock();
    let data = st
        .keys
        .iter()
        .filter(|k| k.workspace_id == workspace && (include_disabled || !k.disabled))
        .skip(offset)
        .take(KEYS_PAGE_SIZE)
        .cloned()
        .collect();
    Ok(Json(KeyList { data }).into_response())
}

async fn get_key(State(sim): State<Simulator>, Path(hash): Path<String>) -> Reply {
    match sim.lock().keys.iter().find(|k| k.hash == hash) {
        Some(k) => Ok(Json(DataResponse { data: k.clone() }).into_response()),
        None => Err(not_found()),
    }
}

async fn update_key(State(sim): State<Simulator>, Path(hash): Path<String>, body: Bytes) -> Reply {
    let u: UpdateKey = parse_body(&body)?;
    if u.name.as_deref() == Some("") {
        return Err(bad_request("name must not be empty"));
    }
    check_limit("limit", u.limit.flatten())?;
    let mut st = sim.lock();
    let Some(k) = st.keys.iter_mut().find(|k| k.hash == hash) else {
        return Err(not_found());
    };
    if let Some(name) = u.name {
        k.name = name;
    }
    if let Some(disabled) = u.disabled {
        k.disabled = disabled;
    }
    if let Some(limit) = u.limit {
        k.limit = limit;
        k.limit_remaining = remaining(limit, k.usage);
    }
    if let Some(reset) = u.limit_reset {
        k.limit_reset = reset;
    }
    if let Some(b) = u.include_byok_in_limit {
        k.include_byok_in_limit = b;
    }
    k.updated_at = Some(now());
    Ok(Json(DataResponse { data: k.clone() }).into_response())
}

async fn delete_key(State(sim): State<Simulator>, Path(hash): Path<String>) -> Reply {
    let mut st = sim.lock();
    let before = st.keys.len();
    st.keys.retain(|k| k.hash != hash);
    if st.keys.len() == before {
        return Err(not_found());
    }
    st.assignments.retain(|a| a.key_hash != hash);
    Ok(Json(DeleteResponse { deleted: true }).into_response())
}

// ---- guardrails ---------------------------------------------------------------------------------

async fn list_guardrails(
    State(sim): State<Simulator>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Reply {
    let workspace = match &query {
        Ok(Query(q)) => q.get("workspace_id").cloned().unwrap_or_else(|| DEFAULT_WORKSPACE_ID.into()),
        Err(_) => String::new(),
    };
    let (offset, limit) = paging(query)?;
    let st = sim.lock();
    let matching: Vec<&Guardrail> = st
        .guardrails
        .iter()
        .filter(|g| g.workspace_id.as_deref().unwrap_or(DEFAULT_WORKSPACE_ID) == workspace)
        .collect();
    let data = matching.iter().skip(offset).take(limit).map(|g| (*g).clone()).collect();
    let total_count = matching.len() as u64;
    Ok(Json(GuardrailPage { data, total_count }).into_response())
}

async fn create_guardrail(State(sim): State<Simulator>, body: Bytes) -> Reply {
    let c: CreateGuardrail = parse_body(&body)?;
    check_guardrail_fields(
        Some(&c.name),
        c.description.as_deref(),
        c.limit_usd,
        [
            c.allowed_models.as_ref(),
            c.allowed_providers.as_ref(),
            c.ignored_models.as_ref(),
            c.ignored_providers.as_ref(),
        ],
    )?;
    check_workspace(c.workspace_id.as_deref())?;
    let g = Guardrail {
        id: new_uuid(),
        name: c.name,
        description: c.description,
        limit_usd: c.limit_usd,
        reset_interval: c.reset_interval,
        allowed_models: c.allowed_models,
        allowed_providers: c.allowed_providers,
        ignored_models: c.ignored_models,
        ignored_providers: c.ignored_providers,
        include_byok_in_budgets: c.include_byok_in_budgets.unwrap_or(false),
        created_at: now(),
        updated_at: None,
        workspace_id: Some(c.workspace_id.unwrap_or_else(|| DEFAULT_WORKSPACE_ID.into())),
    };
    sim.lock().guardrails.push(g.clone());
    Ok((StatusCode::CREATED, Json(DataResponse { data: g })).into_response())
}

async fn get_guardrail(State(sim): State<Simulator>, Path(id): Path<String>) -> Reply {
    match sim.lock().guardrails.iter().find(|g| g.id == id) {
        Some(g) => Ok(Json(DataResponse { data: g.clone() }).into_response()),
        None => Err(not_found()),
    }
}

async fn update_guardrail(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Reply {
    let u: UpdateGuardrail = parse_body(&body)?;
    // `Some(None)` (explicit null) clears a list and is always valid.
    let lists = [&u.allowed_models, &u.allowed_providers, &u.ignored_models, &u.ignored_providers]
        .map(|l| l.as_ref().and_then(Option::as_ref));
    check_guardrail_fields(
        u.name.as_ref(),
        u.description.as_ref().and_then(Option::as_deref),
        u.limit_usd.flatten(),
        lists,
    )?;
    let mut st = sim.lock();
    let Some(g) = st.guardrails.iter_mut().find(|g| g.id == id) else {
        return Err(not_found());
    };
    if let Some(v) = u.name {
        g.name = v;
    }
    if let Some(v) = u.description {
        g.description = v;
    }
    if let Some(v) = u.limit_usd {
        g.limit_usd = v;
    }
    if let Some(v) = u.reset_interval {
        g.reset_interval = v;
    }
    if let Some(v) = u.allowed_models {
        g.allowed_models = v;
    }
    if let Some(v) = u.allowed_providers {
        g.allowed_providers = v;
    }
    if let Some(v) = u.ignored_models {
        g.ignored_models = v;
    }
    if let Some(v) = u.ignored_providers {
        g.ignored_providers = v;
    }
    if let Some(v) = u.include_byok_in_budgets {
        g.include_byok_in_budgets = v;
    }
    g.updated_at = Some(now());
    Ok(Json(DataResponse { data: g.clone() }).into_response())
}

async fn delete_guardrail(State(sim): State<Simulator>, Path(id): Path<String>) -> Reply {
    let mut st = sim.lock();
    let before = st.guardrails.len();
    st.guardrails.retain(|g| g.id != id);
    if st.guardrails.len() == before {
        return Err(not_found());
    }
    st.assignments.retain(|a| a.guardrail_id != id);
    Ok(Json(DeleteResponse { deleted: true }).into_response())
}

// ---- assignments --------------------------------------------------------------------------------

async fn assign_keys(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Reply {
    let hashes = parse_key_hashes(&body)?;
    let mut st = sim.lock();
    if !st.guardrails.iter().any(|g| g.id == id) {
        return Err(not_found());
    }
    let mut assigned_count = 0;
    for hash in hashes {
        if !st.keys.iter().any(|k| k.hash == hash) {
            continue; // unknown hashes are skipped, see module docs
        }
        assigned_count += 1;
        match st.assignments.iter_mut().find(|a| a.key_hash == hash) {
            Some(a) if a.guardrail_id == id => {}
            Some(a) => {
                // At most one guardrail per key: re-binding replaces the old assignment.
                a.guardrail_id = id.clone();
                a.id = new_uuid();
                a.created_at = now();
            }
            None => st.assignments.push(Assignment {
                id: new_uuid(),
                key_hash: hash,
                guardrail_id: id.clone(),
                created_at: now(),
            }),
        }
    }
    Ok(Json(AssignKeysResponse { assigned_count }).into_response())
}

async fn unassign_keys(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Reply {
    let hashes = parse_key_hashes(&body)?;
    let mut st = sim.lock();
    if !st.guardrails.iter().any(|g| g.id == id) {
        return Err(not_found());
    }
    let before = st.assignments.len();
    st.assignments.retain(|a| !(a.guardrail_id == id && hashes.contains(&a.key_hash)));
    let unassigned_count = (before - st.assignments.len()) as u64;
    Ok(Json(UnassignKeysResponse { unassigned_count }).into_response())
}

async fn list_guardrail_assignments(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Reply {
    let paging = paging(query)?;
    let st = sim.lock();
    if !st.guardrails.iter().any(|g| g.id == id) {
        return Err(not_found());
    }
    Ok(assignment_page(&st, Some(&id), paging))
}

async fn list_all_assignments(
    State(sim): State<Simulator>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Reply {
    let paging = paging(query)?;
    Ok(assignment_page(&sim.lock(), None, paging))
}

fn assignment_page(st: &SimState, guardrail: Option<&str>, (offset, limit): (usize, usize)) -> Response {
    let matching: Vec<&Assignment> =
        st.assignments.iter().filter(|a| guardrail.is_none_or(|g| a.guardrail_id == g)).collect();
    let data = matching
        .iter()
        .skip(offset)
        .take(limit)
        .filter_map(|a| {
            let k = st.keys.iter().find(|k| k.hash == a.key_hash)?;
            Some(KeyAssignment {
                id: a.id.clone(),
                key_hash: a.key_hash.clone(),
                guardrail_id: a.guardrail_id.clone(),
                key_name: k.name.clone(),
                key_label: k.label.clone(),
                assigned_by: Some(SIMULATOR_USER_ID.into()),
                created_at: a.created_at.clone(),
            })
        })
        .collect();
    Json(KeyAssignmentPage { data, total_count: matching.len() as u64 }).into_response()
}

/// `key_hashes`: `minItems: 1`, items `minLength: 1`; duplicates collapse.
fn parse_key_hashes(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let KeyHashes { key_hashes } = parse_body(body)?;
    if key_hashes.is_empty() {
        return Err(bad_request("key_hashes must contain at least one hash"));
    }
    if key_hashes.iter().any(String::is_empty) {
        return Err(bad_request("key_hashes must not contain empty strings"));
    }
    let mut out: Vec<String> = Vec::with_capacity(key_hashes.len());
    for h in key_hashes {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    Ok(out)
}

// ---- inference: POST /chat/completions ----------------------------------------------------------

/// `ceil(chars / 4)`, at least 1: the simulator's deterministic token count.
pub fn simulated_tokens(chars: usize) -> u64 {
    (chars.div_ceil(4) as u64).max(1)
}

/// Total characters of the messages' text content (string content, or the `text` of content
/// parts).
fn content_chars(messages: &[serde_json::Value]) -> usize {
    messages
        .iter()
        .map(|m| match m.get("content") {
            Some(serde_json::Value::String(s)) => s.chars().count(),
            Some(serde_json::Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
                .map(|t| t.chars().count())
                .sum(),
            _ => 0,
        })
        .sum()
}

/// `(model, prompt characters)` of a chat request, or the 400 message.
fn parse_chat_request(body: &[u8]) -> Result<(String, usize), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("Invalid JSON body: {e}"))?;
    let model = match v.get("model") {
        Some(serde_json::Value::String(m)) if !m.trim().is_empty() => m.clone(),
        _ => return Err("model is required".into()),
    };
    let messages = match v.get("messages") {
        Some(serde_json::Value::Array(m)) if !m.is_empty() => m,
        _ => return Err("messages is required and must be a non-empty array".into()),
    };
    if messages.iter().any(|m| !m.is_object() || !m.get("role").is_some_and(serde_json::Value::is_string)) {
        return Err("every message needs a role".into());
    }
    Ok((model, content_chars(messages)))
}

/// Usage that counts against the key's limit: that of its `limit_reset` period.
fn period_usage(k: &KeyInfo) -> f64 {
    match k.limit_reset {
        None => k.usage,
        Some(ResetInterval::Daily) => k.usage_daily,
        Some(ResetInterval::Weekly) => k.usage_weekly,
        Some(ResetInterval::Monthly) => k.usage_monthly,
    }
}

fn chat_error(status: StatusCode, message: &str, metadata: Option<serde_json::Value>) -> Response {
    let mut error = serde_json::json!({"code": status.as_u16(), "message": message});
    if let Some(m) = metadata {
        error["metadata"] = m;
    }
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

/// Checks, in order: key (401), body (400), guardrail models (403), key limit (402); then
/// charges the key and answers a canned completion.
async fn chat_completions(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = bearer(&headers).filter(|t| !t.is_empty()) else {
        return chat_error(StatusCode::UNAUTHORIZED, "No auth credentials found", None);
    };
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let request = parse_chat_request(&body);
    let mut st = sim.lock();
    let Some(idx) = st.keys.iter().position(|k| k.hash == hash) else {
        return chat_error(StatusCode::UNAUTHORIZED, "User not found.", None);
    };
    let key = &st.keys[idx];
    if key.disabled {
        return chat_error(StatusCode::UNAUTHORIZED, "This API key is disabled", None);
    }
    if key.expires_at.is_some_and(|t| t <= Utc::now()) {
        return chat_error(StatusCode::UNAUTHORIZED, "This API key has expired", None);
    }
    let (model, prompt_chars) = match request {
        Ok(r) => r,
        Err(msg) => return chat_error(StatusCode::BAD_REQUEST, &msg, None),
    };
    let guardrail = st
        .assignments
        .iter()
        .find(|a| a.key_hash == hash)
        .and_then(|a| st.guardrails.iter().find(|g| g.id == a.guardrail_id));
    if let Some(g) = guardrail {
        if g.allowed_models.as_ref().is_some_and(|m| !m.contains(&model)) {
            return chat_error(
                StatusCode::FORBIDDEN,
                &format!("Model {model} is not allowed by the guardrail of this API key"),
                Some(serde_json::json!({"guardrail_id": g.id})),
            );
        }
    }
    if key.limit.is_some_and(|limit| period_usage(key) >= limit) {
        return chat_error(
            StatusCode::PAYMENT_REQUIRED,
            "Insufficient credits: this API key has reached its spending limit. Raise the key's \
             limit or wait for it to reset.",
            Some(serde_json::json!({"limit_source": "openrouter_key_limit"})),
        );
    }

    let prompt_tokens = simulated_tokens(prompt_chars);
    let completion_tokens = simulated_tokens(CANNED_COMPLETION.chars().count());
    let (in_price, out_price) = st.prices.get(&model).copied().unwrap_or(DEFAULT_PRICE_PER_MTOK);
    let cost = (prompt_tokens as f64 * in_price + completion_tokens as f64 * out_price) / 1e6;
    let key = &mut st.keys[idx];
    key.usage += cost;
    key.usage_daily += cost;
    key.usage_weekly += cost;
    key.usage_monthly += cost;
    key.limit_remaining = remaining(key.limit, period_usage(key));
    drop(st);

    let created = Utc::now().timestamp();
    Json(serde_json::json!({
        "id": format!("gen-{created}-{}", hex::encode(rand::random::<[u8; 10]>())),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "provider": "Simulator",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": CANNED_COMPLETION},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": cost,
        },
    }))
    .into_response()
}

// ---- fault targets and the fault spec -----------------------------------------------------------

const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "PUT"];

fn parse_method(s: &str) -> Option<Method> {
    let up = s.to_ascii_uppercase();
    METHODS.contains(&up.as_str()).then(|| Method::from_bytes(up.as_bytes()).ok()).flatten()
}

impl PathPattern {
    fn parse(s: &str) -> Option<Self> {
        if s == "*" {
            return None;
        }
        let (at_start, s) = match s.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (at_end, s) = match s.strip_suffix('$') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        Some(Self { text: s.to_owned(), at_start, at_end })
    }

    fn matches(&self, path: &str) -> bool {
        match (self.at_start, self.at_end) {
            (true, true) => path == self.text,
            (true, false) => path.starts_with(&self.text),
            (false, true) => path.ends_with(&self.text),
            (false, false) => path.contains(&self.text),
        }
    }
}

impl Target {
    /// `"*"`, `"METHOD"`, `"pattern"` or `"METHOD pattern"`; never fails (anything that is not
    /// a method is a pattern).
    fn parse(s: &str) -> Self {
        let s = s.trim();
        if let Some((m, rest)) = s.split_once(char::is_whitespace) {
            if let Some(method) = parse_method(m) {
                return Self { method: Some(method), pattern: PathPattern::parse(rest.trim()) };
            }
        }
        match parse_method(s) {
            Some(method) => Self { method: Some(method), pattern: None },
            None => Self { method: None, pattern: PathPattern::parse(s) },
        }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method) && self.pattern.as_ref().is_none_or(|p| p.matches(path))
    }
}

impl FaultAction {
    fn status(status: u16) -> Self {
        Self::Status { status, retry_after_secs: None }
    }
}

/// See [`Simulator::apply_fault_spec`].
fn parse_fault_spec(spec: &str) -> Result<Vec<Rule>, String> {
    spec.split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .enumerate()
        .map(|(i, r)| parse_rule(r).map_err(|e| format!("rule {} `{r}`: {e}", i + 1)))
        .collect()
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let (target, action) = rule.split_once('=').ok_or("expected `target=action`")?;
    let target = parse_spec_target(target.trim())?;
    let tokens = action_tokens(action);
    let (head, mods) = tokens.split_first().ok_or("missing action")?;
    if head.eq_ignore_ascii_case("latency") {
        let [d] = mods else {
            return Err("expected `latency <N>ms` or `latency <N>s`".into());
        };
        return Ok(Rule::Latency(LatencyRule { target, delay: parse_duration(d)? }));
    }
    let mut action = if head.eq_ignore_ascii_case("hang") {
        FaultAction::Hang
    } else {
        let status: u16 =
            head.parse().map_err(|_| format!("unknown action `{head}` (a status, `hang` or `latency`)"))?;
        if !(400..=599).contains(&status) {
            return Err(format!("status {status} is not an error status (400..=599)"));
        }
        FaultAction::status(status)
    };
    let (mut count, mut after_apply) = (None, false);
    for m in mods {
        let lower = m.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix('x') {
            let n: u32 = n.parse().map_err(|_| format!("bad count `{m}` (expected x<N>)"))?;
            if n == 0 {
                return Err("count must be at least 1".into());
            }
            if count.replace(n).is_some() {
                return Err("count given twice".into());
            }
        } else if lower == "after" {
            after_apply = true;
        } else if let Some(secs) = lower.strip_prefix("retry-after=") {
            let FaultAction::Status { retry_after_secs, .. } = &mut action else {
                return Err("retry-after only applies to a status".into());
            };
            *retry_after_secs = Some(secs.parse().map_err(|_| format!("bad retry-after `{secs}` (whole seconds)"))?);
        } else {
            return Err(format!("unknown modifier `{m}`"));
        }
    }
    Ok(Rule::Fault(Fault { target, action, after_apply, remaining: count.unwrap_or(1) }))
}

fn parse_spec_target(s: &str) -> Result<Target, String> {
    if s.is_empty() {
        return Err("missing target".into());
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() > 2 {
        return Err("target is `*`, `METHOD`, `pattern` or `METHOD pattern`".into());
    }
    if words.len() == 2 && parse_method(words[0]).is_none() {
        return Err(format!("unknown method `{}`", words[0]));
    }
    let target = Target::parse(s);
    if target.pattern.as_ref().is_some_and(|p| p.text.is_empty() && !(p.at_start && p.at_end)) {
        return Err("empty path pattern".into());
    }
    Ok(target)
}

/// Whitespace-separated tokens, with `500x2` / `hangx2` split and `x 2` joined into `x2`.
fn action_tokens(action: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in action.split_whitespace() {
        if let Some((head, n)) = t.split_once(['x', 'X']) {
            let head_ok =
                head.eq_ignore_ascii_case("hang") || (!head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()));
            if head_ok && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                out.push(head.to_owned());
                out.push(format!("x{n}"));
                continue;
            }
        }
        match out.last_mut() {
            Some(prev) if prev.eq_ignore_ascii_case("x") => prev.push_str(t),
            _ => out.push(t.to_owned()),
        }
    }
    out
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration `{s}` (expected <N>ms or <N>s)");
    let lower = s.to_ascii_lowercase();
    if let Some(ms) = lower.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    if let Some(secs) = lower.strip_suffix('s') {
        return secs.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    Err(bad())
}

// ---- validation and helpers ---------------------------------------------------------------------

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("Invalid request body: {e}")))
}

fn check_limit(field: &str, limit: Option<f64>) -> Result<(), ApiError> {
    match limit {
        Some(l) if l < 0.0 || !l.is_finite() => Err(bad_request(format!("{field} must be a non-negative number"))),
        _ => Ok(()),
    }
}

fn check_workspace(workspace_id: Option<&str>) -> Result<(), ApiError> {
    match workspace_id {
        Some(w) if !is_uuid(w) => Err(bad_request("workspace_id must be a UUID")),
        _ => Ok(()),
    }
}

/// Constraints of `CreateGuardrailRequest` / `UpdateGuardrailRequest`.
fn check_guardrail_fields(
    name: Option<&String>,
    description: Option<&str>,
    limit_usd: Option<f64>,
    lists: [Option<&Vec<String>>; 4],
) -> Result<(), ApiError> {
    if let Some(name) = name {
        let n = name.chars().count();
        if n == 0 || n > 200 {
            return Err(bad_request("name must be 1 to 200 characters"));
        }
    }
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(bad_request("description must be at most 1000 characters"));
    }
    check_limit("limit_usd", limit_usd)?;
    if lists.iter().any(|l| l.is_some_and(|l| l.is_empty())) {
        return Err(bad_request("model and provider lists need at least one entry"));
    }
    Ok(())
}

/// The spec requires `expires_at` in UTC: `Z` or `+00:00`; any other offset is a 400.
fn parse_utc(s: &str) -> Result<DateTime<Utc>, ApiError> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| bad_request("expires_at must be an ISO 8601 timestamp"))?;
    let utc_suffix = s.ends_with('Z') || s.ends_with('z') || s.ends_with("+00:00");
    if t.offset().local_minus_utc() != 0 || !utc_suffix {
        return Err(bad_request("expires_at must be in UTC"));
    }
    Ok(t.with_timezone(&Utc))
}

/// `offset` (default 0, ≥ 0) and `limit` (default 50, 1..=100) of the guardrail lists.
fn paging(query: Result<Query<HashMap<String, String>>, QueryRejection>) -> Result<(usize, usize), ApiError> {
    let Ok(Query(q)) = query else {
        return Err(bad_request("invalid query string"));
    };
    let offset = query_u64(&q, "offset", 0)?;
    let limit = query_u64(&q, "limit", 50)?;
    if !(1..=100).contains(&limit) {
        return Err(bad_request("limit must be between 1 and 100"));
    }
    Ok((offset as usize, limit as usize))
}

fn query_u64(q: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("") | Some("null") => Ok(default),
        Some(v) => v.parse().map_err(|_| bad_request(format!("{name} must be a non-negative integer"))),
    }
}

fn remaining(limit: Option<f64>, usage: f64) -> Option<f64> {
    limit.map(|l| l - usage)
}

fn now() -> String {
    format_utc(&Utc::now())
}

/// Random (version 4) UUID, formatted by hand to avoid a dependency.
fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Handler result: `Err` becomes the spec's error envelope.
type Reply = Result<Response, ApiError>;

/// A non-2xx answer; small (unlike `Response`) so validation helpers can return it with `?`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope { error: ErrorBody { code: i64::from(self.status.as_u16()), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}

fn api_error(status: StatusCode, message: &str) -> Response {
    ApiError { status, message: message.to_owned() }.into_response()
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
}

fn not_found() -> ApiError {
    ApiError { status: StatusCode::NOT_FOUND, message: "Resource not found".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = new_uuid();
        assert!(is_uuid(&u), "{u}");
        assert_eq!(&u[14..15], "4");
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn utc_only() {
        assert!(parse_utc("2027-12-31T23:59:59Z").is_ok());
        assert!(parse_utc("2027-12-31T23:59:59.5+00:00").is_ok());
        assert!(parse_utc("2027-12-31T23:59:59+02:00").is_err());
        assert!(parse_utc("2027-12-31T23:59:59-00:00").is_err());
        assert!(parse_utc("2027-12-31").is_err());
    }
}
