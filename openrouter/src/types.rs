//! Wire types of the OpenRouter management API (keys, guardrails, key assignments), named after
//! the schemas of OpenRouter's OpenAPI file.
//!
//! Money is `f64` everywhere, as on the wire (`type: number, format: double`); convert to a
//! decimal type at the edge of the application if needed.
//!
//! Response types serialise `None` as `null` (the spec lists nullable fields as *required*), so
//! the simulator can reuse them. Request types omit `None` fields. PATCH types use
//! `Option<Option<T>>` where the spec allows `null`: `None` = leave unchanged, `Some(None)` = send
//! `null` (clear).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `limit_reset` of keys and `reset_interval` of guardrails (`GuardrailInterval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResetInterval {
    Daily,
    Weekly,
    Monthly,
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// An API key as returned by `POST /keys` (`data`), `GET /keys`, `GET|PATCH /keys/{hash}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// Identifier used in `/keys/{hash}` and assignments (sha256 hex of the key plaintext).
    pub hash: String,
    pub name: String,
    /// Display label, e.g. `sk-or-v1-0e6...1c96`; not a secret.
    pub label: String,
    #[serde(default)]
    pub disabled: bool,
    /// Spending limit in USD; `None` = unlimited.
    pub limit: Option<f64>,
    pub limit_remaining: Option<f64>,
    pub limit_reset: Option<ResetInterval>,
    #[serde(default)]
    pub include_byok_in_limit: bool,
    #[serde(default)]
    pub usage: f64,
    #[serde(default)]
    pub usage_daily: f64,
    #[serde(default)]
    pub usage_weekly: f64,
    #[serde(default)]
    pub usage_monthly: f64,
    #[serde(default)]
    pub byok_usage: f64,
    #[serde(default)]
    pub byok_usage_daily: f64,
    #[serde(default)]
    pub byok_usage_weekly: f64,
    #[serde(default)]
    pub byok_usage_monthly: f64,
    /// ISO 8601; kept as text because the spec gives it no `format`.
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub creator_user_id: Option<String>,
    #[serde(default)]
    pub workspace_id: String,
    /// Not in the spec's `required` list, but always sent by the simulator (null = never).
    #[serde(default, serialize_with = "ser_opt_utc")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Body of `POST /keys`. `..Default::default()` fills the optional fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateKey {
    pub name: String,
    /// Spending limit in USD; `None` = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_reset: Option<ResetInterval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_byok_in_limit: Option<bool>,
    /// Sent as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds): the API rejects non-UTC offsets.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_utc")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// Response of `POST /keys`. `key` is the only time the plaintext is ever visible: hand it to
/// its owner and drop it; never log it (`Debug` redacts it).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub data: KeyInfo,
    pub key: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey").field("data", &self.data).field("key", &"[REDACTED]").finish()
    }
}

/// Body of `PATCH /keys/{hash}` (the spec does not allow changing `expires_at`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub limit: Option<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub limit_reset: Option<Option<ResetInterval>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_byok_in_limit: Option<bool>,
}

/// `{"data": ...}` wrapper used by most single-object responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataResponse<T> {
    pub data: T,
}

/// Response of `GET /keys` (no `total_count`, unlike the guardrail lists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyList {
    pub data: Vec<KeyInfo>,
}

/// Response of `DELETE /keys/{hash}` and `DELETE /guardrails/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResponse {
    pub deleted: bool,
}

// ---------------------------------------------------------------------------------------------
// Guardrails
// ---------------------------------------------------------------------------------------------

/// Schema `Guardrail` (the content-filter and training/ZDR-per-provider fields are not modelled;
/// serde ignores them when the real service sends them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guardrail {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Budget in USD for all keys assigned to this guardrail, per `reset_interval`.
    #[serde(default)]
    pub limit_usd: Option<f64>,
    #[serde(default)]
    pub reset_interval: Option<ResetInterval>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_providers: Option<Vec<String>>,
    #[serde(default)]
    pub ignored_models: Option<Vec<String>>,
    #[serde(default)]
    pub ignored_providers: Option<Vec<String>>,
    #[serde(default)]
    pub include_byok_in_budgets: bool,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// Schema `CreateGuardrailRequest` (subset). Array fields, when given, need at least one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateGuardrail {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_interval: Option<ResetInterval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_providers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored_models: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored_providers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_byok_in_budgets: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// Schema `UpdateGuardrailRequest` (subset). Collections have replace semantics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateGuardrail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub limit_usd: Option<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub reset_interval: Option<Option<ResetInterval>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub allowed_models: Option<Option<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub allowed_providers: Option<Option<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub ignored_models: Option<Option<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_some")]
    pub ignored_providers: Option<Option<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_byok_in_budgets: Option<bool>,
}

/// The patch that brings `current` to the settings `want` asks for, or `None` when they already
/// match. Compared: `allowed_models` (as sets: order and duplicates do not matter; `None` means
/// no restriction and is only equal to `None`), `limit_usd` (equal within 1e-9 USD) and
/// `reset_interval`. Other fields (name, description, providers, …) are left alone. The patch
/// sets each differing field to `want`'s value, so `want` without `allowed_models` clears them.
pub fn guardrail_drift(current: &Guardrail, want: &CreateGuardrail) -> Option<UpdateGuardrail> {
    use std::collections::BTreeSet;
    let as_set =
        |m: &Option<Vec<String>>| -> Option<BTreeSet<String>> { m.as_ref().map(|v| v.iter().cloned().collect()) };
    let mut patch = UpdateGuardrail::default();
    if as_set(&current.allowed_models) != as_set(&want.allowed_models) {
        patch.allowed_models = Some(want.allowed_models.clone());
    }
    let same_limit = match (current.limit_usd, want.limit_usd) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9,
        (a, b) => a.is_none() && b.is_none(),
    };
    if !same_limit {
        patch.limit_usd = Some(want.limit_usd);
    }
    if current.reset_interval != want.reset_interval {
        patch.reset_interval = Some(want.reset_interval);
    }
    (patch != UpdateGuardrail::default()).then_some(patch)
}

/// Schema `ListGuardrailsResponse`: one page plus the total across all pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailPage {
    pub data: Vec<Guardrail>,
    pub total_count: u64,
}

// ---------------------------------------------------------------------------------------------
// Key assignments
// ---------------------------------------------------------------------------------------------

/// Schemas `BulkAssignKeysRequest` / `BulkUnassignKeysRequest` (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyHashes {
    pub key_hashes: Vec<String>,
}

/// Schema `BulkAssignKeysResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignKeysResponse {
    pub assigned_count: u64,
}

/// Schema `BulkUnassignKeysResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnassignKeysResponse {
    pub unassigned_count: u64,
}

/// Schema `KeyAssignment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyAssignment {
    pub id: String,
    pub key_hash: String,
    pub guardrail_id: String,
    pub key_name: String,
    pub key_label: String,
    pub assigned_by: Option<String>,
    pub created_at: String,
}

/// Schema `ListKeyAssignmentsResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyAssignmentPage {
    pub data: Vec<KeyAssignment>,
    pub total_count: u64,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The `{"error": {"code", "message"}}` envelope of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: i64,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// serde helpers
// ---------------------------------------------------------------------------------------------

/// Formats a UTC instant the way the API documents it: `2027-12-31T23:59:59Z`.
pub fn format_utc(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn ser_opt_utc<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_utc(t)),
        None => s.serialize_none(),
    }
}

/// With `#[serde(default)]`, distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`).
fn de_some<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn create_key_serialises_utc_z_and_omits_none() {
        let body = CreateKey {
            name: "n".into(),
            limit: Some(5.0),
            expires_at: Some(Utc.with_ymd_and_hms(2027, 12, 31, 23, 59, 59).unwrap()),
            ..Default::default()
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v, serde_json::json!({"name": "n", "limit": 5.0, "expires_at": "2027-12-31T23:59:59Z"}));
    }

    #[test]
    fn patch_distinguishes_absent_and_null() {
        let u: UpdateKey = serde_json::from_str(r#"{"limit": null}"#).unwrap();
        assert_eq!(u.limit, Some(None));
        assert_eq!(u.limit_reset, None);
        let v = serde_json::to_value(UpdateKey { limit: Some(None), ..Default::default() }).unwrap();
        assert_eq!(v, serde_json::json!({"limit": null}));
    }

    #[test]
    fn created_key_debug_redacts_plaintext() {
        let k: CreatedKey = serde_json::from_value(serde_json::json!({
            "data": {"hash": "h", "name": "n", "label": "l", "limit": null,
                     "limit_remaining": null, "limit_reset": null},
            "key": "sk-or-v1-deadbeef"
        }))
        .unwrap();
        assert!(!format!("{k:?}").contains("deadbeef"));
    }
}

// ---- chat completions (only what "test my key" sends and reads) --------------------------------

#[derive(Debug, Serialize)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: [ChatMessage<'a>; 1],
    pub max_tokens: u32,
}

#[derive(Debug, Serialize)]
pub struct ChatMessage<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct ChatCompletion {
    pub choices: Vec<ChatChoice>,
}

#[derive(Debug, Deserialize)]
pub struct ChatChoice {
    pub message: ChatReplyMessage,
}

#[derive(Debug, Deserialize)]
pub struct ChatReplyMessage {
    #[serde(default)]
    pub content: Option<String>,
}
