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

mod chat;
mod faults;
mod gate;
mod routes;
mod state;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};

use super::types::{format_utc, Guardrail, KeyInfo};
use chat::chat_completions;
use faults::{parse_fault_spec, FaultAction};
use gate::gate;
use routes::{
    api_error, assign_keys, create_guardrail, create_key, delete_guardrail, delete_key, get_guardrail, get_key,
    list_all_assignments, list_guardrail_assignments, list_guardrails, list_keys, remaining, unassign_keys,
    update_guardrail, update_key,
};
use state::{Inner, SimState};

pub use chat::simulated_tokens;

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

/// Shared handle to one simulated OpenRouter account; clones see the same state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
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
        let listener = bind_loopback()?;
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
        self.add_rules(rules);
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
}

/// A loopback port with an accept queue for a room's worth of simultaneous claims (tokio's
/// default of 128 drops the rest, and each dropped connection waits out a 1 s retransmission).
fn bind_loopback() -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(4096)
}
