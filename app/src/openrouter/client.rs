//! HTTP client for the OpenRouter management API. No retries here: callers decide with
//! [`OpenRouterError::is_retryable`].

use std::time::Duration;

use reqwest::{header, Method, StatusCode, Url};
use serde::{de::DeserializeOwned, Serialize};

use super::error::{parse_retry_after, redact, OpenRouterError};
use super::types::{
    AssignKeysResponse, CreateGuardrail, CreateKey, CreatedKey, DataResponse, DeleteResponse, ErrorEnvelope, Guardrail,
    GuardrailPage, KeyAssignmentPage, KeyHashes, KeyInfo, KeyList, UnassignKeysResponse, UpdateGuardrail, UpdateKey,
};

pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest `limit` the paginated guardrail endpoints accept.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Error bodies are only read this far: enough for any envelope, bounded for hostile peers.
const MAX_ERROR_BODY: usize = 8 * 1024;

#[derive(Clone)]
pub struct OpenRouterClient {
    http: reqwest::Client,
    base_url: String,
    management_key: String,
    timeout: Duration,
}

impl std::fmt::Debug for OpenRouterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenRouterClient")
            .field("base_url", &self.base_url)
            .field("management_key", &"[REDACTED]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OpenRouterClient {
    /// `base_url` is the API root, e.g. [`DEFAULT_BASE_URL`] or a simulator's `.../api/v1`.
    pub fn new(base_url: impl Into<String>, management_key: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            http: build_http(DEFAULT_TIMEOUT),
            base_url,
            management_key: management_key.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Per-request timeout (connect + send + whole body).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = build_http(timeout);
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    // ---- guardrails -------------------------------------------------------------------------

    /// One page of `GET /guardrails`; `limit` must be 1..=100 (the API answers 400 otherwise).
    pub async fn list_guardrails(&self, offset: u32, limit: u32) -> Result<GuardrailPage, OpenRouterError> {
        let query = [("offset", offset.to_string()), ("limit", limit.to_string())];
        self.send(Method::GET, &["guardrails"], &query, None::<&()>).await
    }

    /// First guardrail whose name is exactly `name` (names are not unique on OpenRouter).
    pub async fn find_guardrail_by_name(&self, name: &str) -> Result<Option<Guardrail>, OpenRouterError> {
        let mut offset: u32 = 0;
        loop {
            let page = self.list_guardrails(offset, MAX_PAGE_SIZE).await?;
            let got = page.data.len() as u32;
            if let Some(g) = page.data.into_iter().find(|g| g.name == name) {
                return Ok(Some(g));
            }
            offset = offset.saturating_add(got);
            // An empty page also ends the walk, so a wrong total_count cannot loop forever.
            if got == 0 || u64::from(offset) >= page.total_count {
                return Ok(None);
            }
        }
    }

    pub async fn get_guardrail(&self, id: &str) -> Result<Guardrail, OpenRouterError> {
        let r: DataResponse<Guardrail> = self.send(Method::GET, &["guardrails", id], &[], None::<&()>).await?;
        Ok(r.data)
    }

    pub async fn create_guardrail(&self, body: &CreateGuardrail) -> Result<Guardrail, OpenRouterError> {
        let r: DataResponse<Guardrail> = self.send(Method::POST, &["guardrails"], &[], Some(body)).await?;
        Ok(r.data)
    }

    pub async fn update_guardrail(&self, id: &str, body: &UpdateGuardrail) -> Result<Guardrail, OpenRouterError> {
        let r: DataResponse<Guardrail> = self.send(Method::PATCH, &["guardrails", id], &[], Some(body)).await?;
        Ok(r.data)
    }

    pub async fn delete_guardrail(&self, id: &str) -> Result<(), OpenRouterError> {
        let _: DeleteResponse = self.send(Method::DELETE, &["guardrails", id], &[], None::<&()>).await?;
        Ok(())
    }

    // ---- keys -------------------------------------------------------------------------------

    /// Creates an inference key. The returned `key` plaintext is shown once; never log it.
    pub async fn create_key(&self, body: &CreateKey) -> Result<CreatedKey, OpenRouterError> {
        self.send(Method::POST, &["keys"], &[], Some(body)).await
    }

    pub async fn get_key(&self, hash: &str) -> Result<KeyInfo, OpenRouterError> {
        let r: DataResponse<KeyInfo> = self.send(Method::GET, &["keys", hash], &[], None::<&()>).await?;
        Ok(r.data)
    }

    /// One page of `GET /keys`. The API takes no page size (only `offset`); an empty page means
    /// the end.
    pub async fn list_keys(&self, offset: u32, include_disabled: bool) -> Result<Vec<KeyInfo>, OpenRouterError> {
        let query = [("offset", offset.to_string()), ("include_disabled", include_disabled.to_string())];
        let r: KeyList = self.send(Method::GET, &["keys"], &query, None::<&()>).await?;
        Ok(r.data)
    }

    pub async fn update_key(&self, hash: &str, body: &UpdateKey) -> Result<KeyInfo, OpenRouterError> {
        let r: DataResponse<KeyInfo> = self.send(Method::PATCH, &["keys", hash], &[], Some(body)).await?;
        Ok(r.data)
    }

    pub async fn delete_key(&self, hash: &str) -> Result<(), OpenRouterError> {
        let _: DeleteResponse = self.send(Method::DELETE, &["keys", hash], &[], None::<&()>).await?;
        Ok(())
    }

    // ---- assignments ------------------------------------------------------------------------

    /// Binds keys to a guardrail (a key holds at most one guardrail; this replaces any previous
    /// one). Returns the API's `assigned_count`; compare it with `key_hashes.len()` to detect
    /// hashes the service did not assign.
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

    /// Returns the API's `unassigned_count`.
    pub async fn unassign_keys(&self, guardrail_id: &str, key_hashes: &[String]) -> Result<u64, OpenRouterError> {
        let body = KeyHashes { key_hashes: key_hashes.to_vec() };
        let r: UnassignKeysResponse = self
            .send(Method::POST, &["guardrails", guardrail_id, "assignments", "keys", "remove"], &[], Some(&body))
            .await?;
        Ok(r.unassigned_count)
    }

    /// One page of the keys assigned to a guardrail; `limit` 1..=100.
    pub async fn list_guardrail_key_assignments(
        &self,
        guardrail_id: &str,
        offset: u32,
        limit: u32,
    ) -> Result<KeyAssignmentPage, OpenRouterError> {
        let query = [("offset", offset.to_string()), ("limit", limit.to_string())];
        self.send(Method::GET, &["guardrails", guardrail_id, "assignments", "keys"], &query, None::<&()>).await
    }

    /// One page of all key assignments across guardrails; `limit` 1..=100.
    pub async fn list_key_assignments(&self, offset: u32, limit: u32) -> Result<KeyAssignmentPage, OpenRouterError> {
        let query = [("offset", offset.to_string()), ("limit", limit.to_string())];
        self.send(Method::GET, &["guardrails", "assignments", "keys"], &query, None::<&()>).await
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

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, OpenRouterError> {
        let url = self.url(segments, query)?;
        // For error messages: method and path only (no host credentials, no query).
        let what = format!("{method} {}", url.path());
        let mut req =
            self.http.request(method, url).bearer_auth(&self.management_key).header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport(&what, e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.api_error(status, resp).await);
        }
        let bytes = resp.bytes().await.map_err(|e| self.transport(&what, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| OpenRouterError::Decode(redact(&format!("{what}: {e}"), &self.management_key)))
    }

    fn transport(&self, what: &str, err: reqwest::Error) -> OpenRouterError {
        let kind = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
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
        OpenRouterError::Transport(redact(&msg, &self.management_key))
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

fn build_http(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        // Only fails if the TLS backend cannot initialise, which is a broken build.
        .expect("reqwest client with rustls must build")
}
