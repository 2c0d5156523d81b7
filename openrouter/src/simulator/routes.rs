//! The management API: keys, guardrails and key assignments, their request validation and
//! paging, and the spec's error envelope ([`ApiError`]).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::state::{Assignment, SimState};
use super::{Simulator, DEFAULT_WORKSPACE_ID, KEYS_PAGE_SIZE, SIMULATOR_USER_ID};
use crate::types::{
    format_utc, AssignKeysResponse, CreateGuardrail, CreatedKey, DataResponse, DeleteResponse, ErrorBody,
    ErrorEnvelope, Guardrail, GuardrailPage, KeyAssignment, KeyAssignmentPage, KeyHashes, KeyInfo, KeyList,
    ResetInterval, UnassignKeysResponse, UpdateGuardrail, UpdateKey,
};

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

pub(super) async fn create_key(State(sim): State<Simulator>, body: Bytes) -> Reply {
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

pub(super) async fn list_keys(
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

pub(super) async fn get_key(State(sim): State<Simulator>, Path(hash): Path<String>) -> Reply {
    match sim.lock().keys.iter().find(|k| k.hash == hash) {
        Some(k) => Ok(Json(DataResponse { data: k.clone() }).into_response()),
        None => Err(not_found()),
    }
}

pub(super) async fn update_key(State(sim): State<Simulator>, Path(hash): Path<String>, body: Bytes) -> Reply {
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

pub(super) async fn delete_key(State(sim): State<Simulator>, Path(hash): Path<String>) -> Reply {
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

pub(super) async fn list_guardrails(
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

pub(super) async fn create_guardrail(State(sim): State<Simulator>, body: Bytes) -> Reply {
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

pub(super) async fn get_guardrail(State(sim): State<Simulator>, Path(id): Path<String>) -> Reply {
    match sim.lock().guardrails.iter().find(|g| g.id == id) {
        Some(g) => Ok(Json(DataResponse { data: g.clone() }).into_response()),
        None => Err(not_found()),
    }
}

pub(super) async fn update_guardrail(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Reply {
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

pub(super) async fn delete_guardrail(State(sim): State<Simulator>, Path(id): Path<String>) -> Reply {
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

pub(super) async fn assign_keys(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Reply {
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

pub(super) async fn unassign_keys(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Reply {
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

pub(super) async fn list_guardrail_assignments(
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

pub(super) async fn list_all_assignments(
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

pub(super) fn remaining(limit: Option<f64>, usage: f64) -> Option<f64> {
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

/// Handler result: `Err` becomes the spec's error envelope.
type Reply = Result<Response, ApiError>;

/// A non-2xx answer; small (unlike `Response`) so validation helpers can return it with `?`.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope { error: ErrorBody { code: i64::from(self.status.as_u16()), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}

pub(super) fn api_error(status: StatusCode, message: &str) -> Response {
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
