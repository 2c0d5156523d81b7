//! HTTP client for the OpenRouter management API.
//!
//! Resilience, built for a burst of a few hundred key claims within a minute:
//! - **Retries** ([`RetryPolicy`], default 4 attempts): every call that is safe to repeat (all
//!   GETs, PATCHes, DELETEs, key assignment and unassignment) is retried on 429, 5xx and
//!   transport failures. A DELETE whose earlier attempt failed ambiguously reads a later 404 as
//!   success. `create_key` and `create_guardrail` are single shots; their safe counterparts are
//!   [`OpenRouterClient::create_key_exactly_once`] and [`OpenRouterClient::ensure_guardrail`].
//! - **Concurrency bound** (default [`DEFAULT_MAX_CONCURRENCY`]): a semaphore shared by all
//!   clones of a client; a permit is held per HTTP attempt (queueing time is not part of the
//!   request timeout), never across a backoff sleep, so a burst queues instead of stampeding.
//! - **Secrets**: neither the management key nor any key plaintext is ever logged or put into
//!   an error (see [`super::error`]).

use std::sync::Arc;
use std::time::Duration;

use reqwest::{header, Method, StatusCode, Url};
use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use super::error::{parse_retry_after, redact, OpenRouterError};
use super::lanes::Lanes;
use super::retry::{retrying, RetryPolicy};
use super::types::{
    AssignKeysResponse, ChatCompletion, ChatMessage, ChatRequest, CreateGuardrail, CreateKey, CreatedKey, DataResponse,
    DeleteResponse, ErrorEnvelope, Guardrail, GuardrailPage, KeyHashes, KeyInfo, KeyList, UnassignKeysResponse,
    UpdateGuardrail, UpdateKey,
};

pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Keys per page of `GET /keys` (the endpoint takes only an `offset`).
pub const KEYS_PAGE_SIZE: usize = 100;
/// Largest `limit` the paginated guardrail endpoints accept.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Default bound on concurrent in-flight HTTP requests per client (shared by its clones): the
/// largest room the product is for, so a full room's burst (each claim has one call in flight at
/// a time) never queues behind us. Measured with `scripts/bench.sh` (300 attendees at once, two
/// calls of 150 ms each): median 0.61 s at 300, 1.30 s at 64, 8.7 s at 8. If OpenRouter wants
/// fewer it answers 429 with `Retry-After`, which the retries honour.
pub const DEFAULT_MAX_CONCURRENCY: usize = 300;
/// A name search stops after this many pages, whatever the server says.
const MAX_PAGES: u32 = 10_000;

/// Error bodies are only read this far: enough for any envelope, bounded for hostile peers.
const MAX_ERROR_BODY: usize = 8 * 1024;

#[derive(Clone)]
pub struct OpenRouterClient {
    http: Lanes,
    base_url: String,
    management_key: String,
    timeout: Duration,
    /// Trusted beside the built-in roots (see [`OpenRouterClient::with_extra_roots`]).
    extra_roots: Vec<reqwest::Certificate>,
    retry: RetryPolicy,
    limiter: Arc<Semaphore>,
    max_concurrency: usize,
}

impl std::fmt::Debug for OpenRouterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenRouterClient")
            .field("base_url", &self.base_url)
            .field("management_key", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .field("extra_roots", &self.extra_roots.len())
            .field("retry", &self.retry)
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

/// The certificates of a PEM bundle, for [`OpenRouterClient::with_extra_roots`]; an error if it
/// holds none, or one that does not parse.
pub fn roots_from_pem(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, OpenRouterError> {
    match reqwest::Certificate::from_pem_bundle(pem) {
        Ok(roots) if !roots.is_empty() => Ok(roots),
        Ok(_) => Err(OpenRouterError::Config("no PEM certificate in the extra roots".into())),
        Err(e) => Err(OpenRouterError::Config(format!("extra roots: {e}"))),
    }
}

impl OpenRouterClient {
    /// `base_url` is the API root, e.g. [`DEFAULT_BASE_URL`] or a simulator's `.../api/v1`.
    pub fn new(base_url: impl Into<String>, management_key: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            http: Lanes::new(DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT, &[]),
            base_url,
            management_key: management_key.into(),
            timeout: DEFAULT_TIMEOUT,
            extra_roots: Vec::new(),
            retry: RetryPolicy::default(),
            limiter: Arc::new(Semaphore::new(DEFAULT_MAX_CONCURRENCY)),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }

    /// Retry policy of the calls that are safe to repeat; [`RetryPolicy::none`] for single shots.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Trusts `roots` (from [`roots_from_pem`]) beside the built-in roots: for a TLS-inspecting
    /// proxy on the way to OpenRouter, or a simulator served over TLS.
    pub fn with_extra_roots(mut self, roots: Vec<reqwest::Certificate>) -> Self {
        self.extra_roots = roots;
        self.http = Lanes::new(self.max_concurrency, self.timeout, &self.extra_roots);
        self
    }

    /// At most `n` HTTP requests of this client (and its later clones) in flight at once; `0` is
    /// treated as 1. Replaces the semaphore, so clones made earlier keep the old one.
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        let n = n.max(1);
        self.limiter = Arc::new(Semaphore::new(n));
        self.max_concurrency = n;
        if self.http.count() != Lanes::count_for(n) {
            self.http = Lanes::new(n, self.timeout, &self.extra_roots);
        }
        self
    }

    // ---- guardrails -------------------------------------------------------------------------

    async fn list_guardrails_in(
        &self,
        workspace_id: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<GuardrailPage, OpenRouterError> {
        let mut query = vec![("offset", offset.to_string()), ("limit", limit.to_string())];
        if let Some(w) = workspace_id {
            query.push(("workspace_id", w.to_owned()));
        }
        self.send(Method::GET, &["guardrails"], &query, None::<&()>).await
    }

    /// First guardrail of the default workspace whose name is exactly `name` (names are not
    /// unique on OpenRouter).
    pub async fn find_guardrail_by_name(&self, name: &str) -> Result<Option<Guardrail>, OpenRouterError> {
        self.find_guardrail_in(name, None).await
    }

    async fn find_guardrail_in(
        &self,
        name: &str,
        workspace_id: Option<&str>,
    ) -> Result<Option<Guardrail>, OpenRouterError> {
        let mut offset: u32 = 0;
        for _ in 0..MAX_PAGES {
            let page = self.list_guardrails_in(workspace_id, offset, MAX_PAGE_SIZE).await?;
            let got = page.data.len() as u32;
            if let Some(g) = page.data.into_iter().find(|g| g.name == name) {
                return Ok(Some(g));
            }
            offset = offset.saturating_add(got);
            // An empty page also ends the walk, so a wrong total_count cannot loop forever.
            if got == 0 || u64::from(offset) >= page.total_count {
                break;
            }
        }
        Ok(None)
    }

    pub async fn get_guardrail(&self, id: &str) -> Result<Guardrail, OpenRouterError> {
        let r: DataResponse<Guardrail> = self.send(Method::GET, &["guardrails", id], &[], None::<&()>).await?;
        Ok(r.data)
    }

    /// Single shot, never retried (a repeat could create a duplicate); prefer
    /// [`Self::ensure_guardrail`].
    pub async fn create_guardrail(&self, body: &CreateGuardrail) -> Result<Guardrail, OpenRouterError> {
        let r: DataResponse<Guardrail> = self.send_once(Method::POST, &["guardrails"], &[], Some(body)).await?;
        Ok(r.data)
    }

    /// The guardrail named `want.name` (in `want.workspace_id`, default workspace if unset),
    /// created from `want` if there is none. Returns it and whether this call created it.
    ///
    /// An existing guardrail is returned as is, even if its settings differ from `want`: use
    /// [`guardrail_drift`](super::types::guardrail_drift) and [`Self::update_guardrail`] to
    /// converge. When the create fails ambiguously (5xx, timeout) the name is looked up again
    /// before any new create, so one call never leaves two guardrails; `created` is then true
    /// when the guardrail turned up after such a failure. The retry policy bounds the loop.
    ///
    /// Not exclusive across clients or processes: two concurrent calls can both see no
    /// guardrail and both create one. Serialise callers (e.g. a database row or lock per
    /// guardrail name) if that matters.
    pub async fn ensure_guardrail(&self, want: &CreateGuardrail) -> Result<(Guardrail, bool), OpenRouterError> {
        let (name, workspace) = (want.name.as_str(), want.workspace_id.as_deref());
        let attempts = self.retry.attempts();
        let mut maybe_created = false;
        let mut attempt = 1;
        loop {
            if let Some(g) = self.find_guardrail_in(name, workspace).await? {
                if maybe_created {
                    warn!(
                        guardrail = name,
                        guardrail_id = %g.id,
                        "guardrail found after an ambiguous create failure; using it"
                    );
                }
                return Ok((g, maybe_created));
            }
            let err = match self.create_guardrail(want).await {
                Ok(g) => return Ok((g, true)),
                Err(e) => e,
            };
            if err.is_ambiguous() {
                maybe_created = true;
            } else if !err.is_retryable() {
                return Err(err);
            }
            if attempt >= attempts || !err.is_retryable() {
                // Last look: an ambiguous create may have landed after all.
                if maybe_created {
                    if let Some(g) = self.find_guardrail_in(name, workspace).await? {
                        warn!(
                            guardrail = name,
                            guardrail_id = %g.id,
                            "guardrail found after an ambiguous create failure; using it"
                        );
                        return Ok((g, true));
                    }
                }
                return Err(err);
            }
            warn!(
                guardrail = name,
                attempt,
                max_attempts = attempts,
                error = %err,
                "creating the guardrail failed; looking it up again before retrying"
            );
            tokio::time::sleep(self.retry.delay(attempt, &err)).await;
            attempt += 1;
        }
    }

    pub async fn update_guardrail(&self, id: &str, body: &UpdateGuardrail) -> Result<Guardrail, OpenRouterError> {
        let r: DataResponse<Guardrail> = self.send(Method::PATCH, &["guardrails", id], &[], Some(body)).await?;
        Ok(r.data)
    }

    // ---- keys -------------------------------------------------------------------------------

    /// Creates an inference key: a single shot, never retried. The returned `key` plaintext is
    /// shown once; never log it. Prefer [`Self::create_key_exactly_once`].
    pub async fn create_key(&self, body: &CreateKey) -> Result<CreatedKey, OpenRouterError> {
        self.send_once(Method::POST, &["keys"], &[], Some(body)).await
    }

    /// Creates a key so that, on success, exactly one key named `body.name` exists and the
    /// caller holds its plaintext. The caller guarantees the name is unique (no other key, live
    /// or disabled, carries it).
    ///
    /// - 429 or connect failure (the request was not processed): wait and create again.
    /// - Ambiguous failure (5xx, timeout or reset after sending, unreadable 2xx body): the key
    ///   may exist, and its plaintext is lost for good. Every key with that name (disabled ones
    ///   included, all pages of `GET /keys`) is deleted, then the create is repeated.
    /// - Any other error is returned at once.
    ///
    /// Attempts and delays follow the client's retry policy. After a success that followed an
    /// ambiguous failure, the name is checked once more and any other key with it (a late
    /// duplicate) is deleted; that check failing is only logged, since the new key must not be
    /// lost. When the call gives up, every key it might have minted has been deleted, except if
    /// the orphan check itself failed: that is logged with the key name, and calling this again
    /// with the same name does not clean it up (only the ambiguous path looks for orphans), so
    /// delete keys found with [`Self::find_keys_by_name`] before reusing a name.
    pub async fn create_key_exactly_once(&self, body: &CreateKey) -> Result<CreatedKey, OpenRouterError> {
        let (name, workspace) = (body.name.as_str(), body.workspace_id.as_deref());
        let attempts = self.retry.attempts();
        let mut had_ambiguous = false;
        let mut attempt = 1;
        loop {
            let err = match self.create_key(body).await {
                Ok(created) => {
                    if had_ambiguous {
                        self.delete_late_duplicates(name, workspace, &created.data.hash).await;
                        warn!(
                            key_name = name,
                            key_hash = %created.data.hash,
                            attempt,
                            "key created after recovering from an ambiguous failure"
                        );
                    }
                    return Ok(created);
                }
                Err(e) => e,
            };
            if err.is_ambiguous() {
                had_ambiguous = true;
                warn!(
                    key_name = name,
                    attempt,
                    max_attempts = attempts,
                    error = %err,
                    "creating the key failed ambiguously; deleting any key it may have minted"
                );
                match self.delete_keys_named(name, workspace, None).await {
                    Ok(0) => warn!(key_name = name, "no orphaned key found"),
                    Ok(n) => warn!(key_name = name, deleted = n, "orphaned key deleted (its plaintext was lost)"),
                    Err(sweep) => {
                        warn!(
                            key_name = name,
                            error = %sweep,
                            "could not check for an orphaned key; giving up, a key with this \
                             name may remain"
                        );
                        return Err(err);
                    }
                }
            } else if err.is_retryable() {
                warn!(
                    key_name = name,
                    attempt,
                    max_attempts = attempts,
                    error = %err,
                    "creating the key was refused before processing"
                );
            }
            if !err.is_retryable() || attempt >= attempts {
                return Err(err);
            }
            tokio::time::sleep(self.retry.delay(attempt, &err)).await;
            attempt += 1;
        }
    }

    pub async fn get_key(&self, hash: &str) -> Result<KeyInfo, OpenRouterError> {
        let r: DataResponse<KeyInfo> = self.send(Method::GET, &["keys", hash], &[], None::<&()>).await?;
        Ok(r.data)
    }

    /// One page of `GET /keys` in the default workspace. The API takes no page size (only
    /// `offset`); an empty page means the end.
    pub async fn list_keys(&self, offset: u32, include_disabled: bool) -> Result<Vec<KeyInfo>, OpenRouterError> {
        self.list_keys_in(None, offset, include_disabled).await
    }

    /// Every key of a workspace (`None`: the default one), disabled ones included, a page of
    /// [`KEYS_PAGE_SIZE`] per call. Returns the keys and the number of calls made.
    pub async fn list_every_key(&self, workspace_id: Option<&str>) -> Result<(Vec<KeyInfo>, u32), OpenRouterError> {
        let (mut keys, mut calls) = (Vec::new(), 0);
        for _ in 0..MAX_PAGES {
            let page = self.list_keys_in(workspace_id, keys.len() as u32, true).await?;
            calls += 1;
            let last = page.len() < KEYS_PAGE_SIZE;
            keys.extend(page);
            if last {
                break;
            }
        }
        Ok((keys, calls))
    }

    async fn list_keys_in(
        &self,
        workspace_id: Option<&str>,
        offset: u32,
        include_disabled: bool,
    ) -> Result<Vec<KeyInfo>, OpenRouterError> {
        let mut query = vec![("offset", offset.to_string()), ("include_disabled", include_disabled.to_string())];
        if let Some(w) = workspace_id {
            query.push(("workspace_id", w.to_owned()));
        }
        let r: KeyList = self.send(Method::GET, &["keys"], &query, None::<&()>).await?;
        Ok(r.data)
    }

    /// Every key (disabled ones included) named exactly `name` in `workspace_id` (default
    /// workspace if `None`), walking all pages until an empty one.
    pub async fn find_keys_by_name(
        &self,
        name: &str,
        workspace_id: Option<&str>,
    ) -> Result<Vec<KeyInfo>, OpenRouterError> {
        let mut found = Vec::new();
        let mut offset: u32 = 0;
        for _ in 0..MAX_PAGES {
            let page = self.list_keys_in(workspace_id, offset, true).await?;
            if page.is_empty() {
                break;
            }
            offset = offset.saturating_add(page.len() as u32);
            found.extend(page.into_iter().filter(|k| k.name == name));
        }
        Ok(found)
    }

    pub async fn update_key(&self, hash: &str, body: &UpdateKey) -> Result<KeyInfo, OpenRouterError> {
        let r: DataResponse<KeyInfo> = self.send(Method::PATCH, &["keys", hash], &[], Some(body)).await?;
        Ok(r.data)
    }

    /// Retried; a 404 after an ambiguous earlier attempt counts as deleted.
    pub async fn delete_key(&self, hash: &str) -> Result<(), OpenRouterError> {
        self.delete(&["keys", hash]).await
    }

    /// Deletes every key named `name` except `keep`; a key already gone (404) counts as
    /// deleted. Returns how many were deleted.
    async fn delete_keys_named(
        &self,
        name: &str,
        workspace_id: Option<&str>,
        keep: Option<&str>,
    ) -> Result<usize, OpenRouterError> {
        let found = self.find_keys_by_name(name, workspace_id).await?;
        let mut deleted = 0;
        for k in found.iter().filter(|k| Some(k.hash.as_str()) != keep) {
            match self.delete_key(&k.hash).await {
                Ok(()) => {
                    deleted += 1;
                    warn!(key_name = name, key_hash = %k.hash, "deleted a key without plaintext");
                }
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// After a recovered create: a request that timed out may still land later than our orphan
    /// check. Only logs on failure, the caller's new key must not be lost over this.
    async fn delete_late_duplicates(&self, name: &str, workspace_id: Option<&str>, keep: &str) {
        match self.delete_keys_named(name, workspace_id, Some(keep)).await {
            Ok(0) => {}
            Ok(n) => warn!(key_name = name, deleted = n, "late duplicate keys deleted"),
            Err(e) => warn!(
                key_name = name,
                error = %e,
                "could not check for late duplicate keys; one may remain"
            ),
        }
    }

    // ---- an attendee's key ------------------------------------------------------------------

    /// One short chat completion with an attendee's key instead of the management key ("test my
    /// key"), sent once: a retry would spend the attendee's budget again. Returns the answer.
    pub async fn chat_with_key(
        &self,
        key: &str,
        model: &str,
        prompt: &str,
        max_tokens: u32,
    ) -> Result<String, OpenRouterError> {
        let (url, what) = self.target(&Method::POST, &["chat", "completions"], &[])?;
        let body = ChatRequest { model, messages: [ChatMessage { role: "user", content: prompt }], max_tokens };
        // Not under the management calls' bound: a key test must never take a minting slot (the
        // server bounds key tests on its own).
        let reply: ChatCompletion = self.attempt_as(key, None, &Method::POST, &url, &what, Some(&body)).await?;
        Ok(reply.choices.into_iter().next().and_then(|c| c.message.content).unwrap_or_default())
    }

    // ---- assignments ------------------------------------------------------------------------

    /// Binds keys to a guardrail (a key holds at most one guardrail; this replaces any previous
    /// one). Returns the API's `assigned_count`; compare it with `key_hashes.len()` to detect
    /// hashes the service did not assign. Retried (assigning is idempotent).
    pub async fn assign_keys_to_guardrail(
        &self,
        guardrail_id: &str,
        key_hashes: &[String],
    ) -> Result<u64, OpenRouterError> {
        let body = KeyHashes { key_hashes: key_hashes.to_vec() };
        let r: AssignKeysResponse =
            self.send(Method::POST, &["guardrails", guardrail_id, "assignments", "keys"], &[], Some(&body)).await?;
        Ok(r.assigned_count)
    }

    /// Returns the API's `unassigned_count`. Retried, so after an ambiguous first attempt the
    /// count can be lower than what was actually unassigned.
    pub async fn unassign_keys(&self, guardrail_id: &str, key_hashes: &[String]) -> Result<u64, OpenRouterError> {
        let body = KeyHashes { key_hashes: key_hashes.to_vec() };
        let r: UnassignKeysResponse = self
            .send(Method::POST, &["guardrails", guardrail_id, "assignments", "keys", "remove"], &[], Some(&body))
            .await?;
        Ok(r.unassigned_count)
    }

    // ---- plumbing ---------------------------------------------------------------------------

    /// Path segments are percent-encoded one by one, so ids and hashes cannot alter the path.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, OpenRouterError> {
        let mut url =
            Url::parse(&self.base_url).map_err(|e| OpenRouterError::Config(format!("invalid base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| OpenRouterError::Config("base URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// A request that is safe to repeat, under the client's retry policy.
    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, OpenRouterError> {
        let (url, what) = self.target(&method, segments, query)?;
        let (method, url, what) = (&method, &url, what.as_str());
        retrying(&self.retry, what, |_| self.attempt(method, url, what, body)).await
    }

    /// A request sent exactly once.
    async fn send_once<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, OpenRouterError> {
        let (url, what) = self.target(&method, segments, query)?;
        self.attempt(&method, &url, &what, body).await
    }

    /// The request's URL, and how logs and errors name it: method and path only (no host
    /// credentials, no query).
    fn target(
        &self,
        method: &Method,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<(Url, String), OpenRouterError> {
        let url = self.url(segments, query)?;
        let what = format!("{method} {}", url.path());
        Ok((url, what))
    }

    /// Retried DELETE. Once an attempt failed ambiguously, a 404 means that attempt went
    /// through.
    async fn delete(&self, segments: &[&str]) -> Result<(), OpenRouterError> {
        let url = self.url(segments, &[])?;
        let what = format!("DELETE {}", url.path());
        let (url, what) = (&url, what.as_str());
        retrying(&self.retry, what, |after_ambiguous| async move {
            match self.attempt::<(), DeleteResponse>(&Method::DELETE, url, what, None).await {
                Ok(_) => Ok(()),
                Err(e) if after_ambiguous && e.status() == Some(404) => {
                    info!(request = what, "404 after an ambiguous attempt: already deleted");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// One HTTP exchange with the management key.
    async fn attempt<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        what: &str,
        body: Option<&B>,
    ) -> Result<T, OpenRouterError> {
        self.attempt_as(&self.management_key, Some(&self.limiter), method, url, what, body).await
    }

    /// One HTTP exchange authenticated with `bearer`, holding a concurrency permit from send to
    /// the end of the body.
    async fn attempt_as<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        bearer: &str,
        limiter: Option<&Semaphore>,
        method: &Method,
        url: &Url,
        what: &str,
        body: Option<&B>,
    ) -> Result<T, OpenRouterError> {
        let result: Result<T, OpenRouterError> = async {
            let _permit = match limiter {
                Some(limiter) => Some(
                    limiter
                        .acquire()
                        .await
                        .map_err(|_| OpenRouterError::Config("concurrency limiter closed".into()))?,
                ),
                None => None,
            };
            let mut req = self
                .http
                .next()
                .request(method.clone(), url.clone())
                .bearer_auth(bearer)
                .header(header::ACCEPT, "application/json");
            if let Some(body) = body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| self.transport(what, e))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(self.api_error(status, resp).await);
            }
            let bytes = resp.bytes().await.map_err(|e| self.transport(what, e))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| OpenRouterError::Decode(redact(&format!("{what}: {e}"), &self.management_key)))
        }
        .await;
        if let Err(e) = &result {
            crate::metrics::openrouter_error(what, e);
        }
        result
    }

    fn transport(&self, what: &str, err: reqwest::Error) -> OpenRouterError {
        // A connect failure means nothing was sent; everything else may have reached the server.
        let connect = err.is_connect() && !err.is_timeout();
        let kind = if err.is_timeout() {
            "timed out"
        } else if connect {
            "connection failed"
        } else if err.is_body() || err.is_decode() {
            "response body failed"
        } else {
            "request failed"
        };
        // reqwest's own Display includes the full URL; use the cause chain without it.
        let mut msg = format!("{what}: {kind}");
        let err = err.without_url();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        let msg = redact(&msg, &self.management_key);
        if connect {
            OpenRouterError::Connect(msg)
        } else {
            OpenRouterError::Transport(msg)
        }
    }

    async fn api_error(&self, status: StatusCode, resp: reqwest::Response) -> OpenRouterError {
        let retry_after =
            resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let body = resp.bytes().await.unwrap_or_default();
        let message = match serde_json::from_slice::<ErrorEnvelope>(&body) {
            Ok(env) => env.error.message,
            Err(_) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]);
                let text = text.trim();
                if text.is_empty() {
                    status.canonical_reason().unwrap_or("no message").to_owned()
                } else {
                    text.chars().take(300).collect()
                }
            }
        };
        OpenRouterError::Api { status: status.as_u16(), message: redact(&message, &self.management_key), retry_after }
    }
}

/// Calls the minter itself never makes, for the tests of the client and the simulator (and of the
/// app's use of them): the `testing` feature, which only dev-dependencies turn on.
#[cfg(feature = "testing")]
impl OpenRouterClient {
    /// Per-attempt timeout (connect + send + whole body); semaphore queueing is not included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = Lanes::new(self.max_concurrency, timeout, &self.extra_roots);
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One page of `GET /guardrails` in the default workspace; `limit` must be 1..=100 (the API
    /// answers 400 otherwise). Retried.
    pub async fn list_guardrails(&self, offset: u32, limit: u32) -> Result<GuardrailPage, OpenRouterError> {
        self.list_guardrails_in(None, offset, limit).await
    }

    /// Retried; a 404 after an ambiguous earlier attempt counts as deleted.
    pub async fn delete_guardrail(&self, id: &str) -> Result<(), OpenRouterError> {
        self.delete(&["guardrails", id]).await
    }

    /// One page of the keys assigned to a guardrail; `limit` 1..=100.
    pub async fn list_guardrail_key_assignments(
        &self,
        guardrail_id: &str,
        offset: u32,
        limit: u32,
    ) -> Result<crate::types::KeyAssignmentPage, OpenRouterError> {
        let query = [("offset", offset.to_string()), ("limit", limit.to_string())];
        self.send(Method::GET, &["guardrails", guardrail_id, "assignments", "keys"], &query, None::<&()>).await
    }

    /// One page of all key assignments across guardrails; `limit` 1..=100.
    pub async fn list_key_assignments(
        &self,
        offset: u32,
        limit: u32,
    ) -> Result<crate::types::KeyAssignmentPage, OpenRouterError> {
        let query = [("offset", offset.to_string()), ("limit", limit.to_string())];
        self.send(Method::GET, &["guardrails", "assignments", "keys"], &query, None::<&()>).await
    }
}
