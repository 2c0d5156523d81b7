//! The simulator's responses (and the client's request bodies) checked against OpenRouter's own
//! OpenAPI file with a JSON-Schema validator, so the fake cannot drift from the real API.

mod support;

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use jsonschema::Validator;
use reqwest::Method;
use serde_json::{json, Value};

use openrouter::simulator::DEFAULT_WORKSPACE_ID;
use openrouter::types::KeyHashes;
use openrouter::{CreateGuardrail, CreateKey, ResetInterval, UpdateGuardrail, UpdateKey};
use support::{raw, raw_with_auth, spawn};

const SPEC_REL: &str = "shared/openrouter/openapi-management.yaml";

/// `OPENROUTER_SPEC`, else the first `shared/openrouter/openapi-management.yaml` found in this
/// crate's directory or any ancestor (the shared folder sits beside the repository), else
/// `/work/shared/...`.
fn spec_path() -> PathBuf {
    if let Some(p) = std::env::var_os("OPENROUTER_SPEC") {
        return PathBuf::from(p);
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join(SPEC_REL))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/work").join(SPEC_REL))
}

fn spec() -> Value {
    let path = spec_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).expect("spec is valid YAML")
}

/// Compiles `schema` with the spec's `components` attached at its root, so the spec's
/// `#/components/schemas/...` references resolve exactly as in the OpenAPI document.
fn compile(spec: &Value, schema: &Value) -> Validator {
    let mut root = schema.clone();
    let obj = root.as_object_mut().expect("schema is an object");
    obj.insert("components".into(), spec["components"].clone());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema compiles: {e}"))
}

fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &spec["paths"][path][method];
    assert!(op.is_object(), "spec has no {method} {path}");
    op
}

fn response_validator(spec: &Value, path: &str, method: &str, status: u16) -> Validator {
    let schema =
        &operation(spec, path, method)["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "spec has no {status} response for {method} {path}");
    compile(spec, schema)
}

fn request_validator(spec: &Value, path: &str, method: &str) -> Validator {
    let schema = &operation(spec, path, method)["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "spec has no request body for {method} {path}");
    compile(spec, schema)
}

fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn validators_reject_missing_required_fields() {
    // Guards the test harness itself: if refs did not resolve or schemas compiled to `true`,
    // the fidelity test below would pass vacuously.
    let spec = spec();
    let v = response_validator(&spec, "/keys", "post", 201);
    let mut good = json!({"key": "sk-or-v1-x", "data": {
        "hash": "h", "name": "n", "label": "l", "disabled": false, "limit": 1.0,
        "limit_remaining": 1.0, "limit_reset": null, "include_byok_in_limit": false,
        "usage": 0, "usage_daily": 0, "usage_weekly": 0, "usage_monthly": 0,
        "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
        "created_at": "2025-08-24T10:30:00Z", "updated_at": null, "creator_user_id": null,
        "workspace_id": "0df9e665-d932-5740-b2c7-b52af166bc11", "expires_at": null
    }});
    assert!(errors(&v, &good).is_empty(), "{:?}", errors(&v, &good));
    good["data"].as_object_mut().unwrap().remove("hash");
    assert!(!v.is_valid(&good), "missing data.hash must be rejected");

    let v = response_validator(&spec, "/guardrails", "post", 201);
    let g = json!({"data": {"id": "550e8400-e29b-41d4-a716-446655440000", "name": "g",
        "include_byok_in_budgets": false, "created_at": "x"}});
    assert!(!v.is_valid(&g), "missing workspace_id (through $ref + allOf) must be rejected");
    let v = response_validator(&spec, "/guardrails", "get", 401);
    assert!(!v.is_valid(&json!({"error": {"code": 401}})), "error.message is required");
}

/// One simulator exchange and the spec status it must produce.
struct Case {
    method: Method,
    spec_path: &'static str,
    path: String,
    body: Option<Value>,
    auth: bool,
    status: u16,
}

fn case(method: Method, spec_path: &'static str, path: String, body: Option<Value>, status: u16) -> Case {
    Case { method, spec_path, path, body, auth: true, status }
}

#[tokio::test]
async fn simulator_responses_match_spec_schemas() {
    let spec = spec();
    let (sim, client) = spawn().await;
    let base = sim.base_url.clone();

    // Fixtures with every optional field populated, so nullable/optional fields get checked too.
    let g = client
        .create_guardrail(&CreateGuardrail {
            name: "fixture".into(),
            description: Some("d".into()),
            limit_usd: Some(5.0),
            reset_interval: Some(ResetInterval::Weekly),
            allowed_models: Some(vec!["openai/gpt-4o-mini".into()]),
            allowed_providers: Some(vec!["openai".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let k = client
        .create_key(&CreateKey {
            name: "fixture".into(),
            limit: Some(1.5),
            expires_at: Some(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    client.assign_keys_to_guardrail(&g.id, std::slice::from_ref(&k.data.hash)).await.unwrap();
    let victim_key = client.create_key(&CreateKey { name: "victim".into(), ..Default::default() }).await.unwrap();
    let victim_g =
        client.create_guardrail(&CreateGuardrail { name: "victim".into(), ..Default::default() }).await.unwrap();

    let (gid, hash) = (g.id.clone(), k.data.hash.clone());
    let missing_g = "00000000-0000-4000-8000-000000000000";
    let missing_k = "0".repeat(64);
    use Method as M;
    let mut cases = vec![
        // keys
        case(M::GET, "/keys", "/keys".into(), None, 200),
        case(M::GET, "/keys", "/keys?include_disabled=true&offset=0".into(), None, 200),
        case(
            M::POST,
            "/keys",
            "/keys".into(),
            Some(json!({"name": "n", "limit": 2, "limit_reset": "daily",
                         "include_byok_in_limit": true, "expires_at": "2031-01-01T00:00:00Z"})),
            201,
        ),
        case(M::POST, "/keys", "/keys".into(), Some(json!({"name": "n"})), 201),
        case(M::POST, "/keys", "/keys".into(), Some(json!({"limit": 2})), 400),
        case(M::GET, "/keys/{hash}", format!("/keys/{hash}"), None, 200),
        case(M::GET, "/keys/{hash}", format!("/keys/{missing_k}"), None, 404),
        case(M::PATCH, "/keys/{hash}", format!("/keys/{hash}"), Some(json!({"limit": 4, "name": "m"})), 200),
        case(M::PATCH, "/keys/{hash}", format!("/keys/{hash}"), Some(json!({"limit": -4})), 400),
        case(M::PATCH, "/keys/{hash}", format!("/keys/{missing_k}"), Some(json!({"disabled": true})), 404),
        case(M::DELETE, "/keys/{hash}", format!("/keys/{}", victim_key.data.hash), None, 200),
        case(M::DELETE, "/keys/{hash}", format!("/keys/{missing_k}"), None, 404),
        // guardrails
        case(M::GET, "/guardrails", "/guardrails".into(), None, 200),
        case(M::GET, "/guardrails", "/guardrails?offset=1&limit=1".into(), None, 200),
        case(M::GET, "/guardrails", "/guardrails?limit=0".into(), None, 400),
        case(M::GET, "/guardrails", format!("/guardrails?workspace_id={DEFAULT_WORKSPACE_ID}&limit=5"), None, 200),
        case(M::GET, "/keys", format!("/keys?workspace_id={DEFAULT_WORKSPACE_ID}&include_disabled=true"), None, 200),
        case(
            M::POST,
            "/guardrails",
            "/guardrails".into(),
            Some(json!({"name": "x", "limit_usd": 3, "reset_interval": "monthly",
                         "allowed_models": ["a/b"], "description": "y"})),
            201,
        ),
        case(M::POST, "/guardrails", "/guardrails".into(), Some(json!({"reset_interval": "hourly"})), 400),
        case(M::GET, "/guardrails/{id}", format!("/guardrails/{gid}"), None, 200),
        case(M::GET, "/guardrails/{id}", format!("/guardrails/{missing_g}"), None, 404),
        case(
            M::PATCH,
            "/guardrails/{id}",
            format!("/guardrails/{gid}"),
            Some(json!({"limit_usd": null, "description": "z"})),
            200,
        ),
        case(M::PATCH, "/guardrails/{id}", format!("/guardrails/{gid}"), Some(json!({"name": ""})), 400),
        case(M::PATCH, "/guardrails/{id}", format!("/guardrails/{missing_g}"), Some(json!({})), 404),
        case(M::DELETE, "/guardrails/{id}", format!("/guardrails/{}", victim_g.id), None, 200),
        case(M::DELETE, "/guardrails/{id}", format!("/guardrails/{missing_g}"), None, 404),
        // assignments
        case(
            M::POST,
            "/guardrails/{id}/assignments/keys",
            format!("/guardrails/{gid}/assignments/keys"),
            Some(json!({"key_hashes": [hash]})),
            200,
        ),
        case(
            M::POST,
            "/guardrails/{id}/assignments/keys",
            format!("/guardrails/{gid}/assignments/keys"),
            Some(json!({"key_hashes": []})),
            400,
        ),
        case(
            M::POST,
            "/guardrails/{id}/assignments/keys",
            format!("/guardrails/{missing_g}/assignments/keys"),
            Some(json!({"key_hashes": [hash]})),
            404,
        ),
        case(M::GET, "/guardrails/{id}/assignments/keys", format!("/guardrails/{gid}/assignments/keys"), None, 200),
        case(
            M::GET,
            "/guardrails/{id}/assignments/keys",
            format!("/guardrails/{missing_g}/assignments/keys"),
            None,
            404,
        ),
        case(M::GET, "/guardrails/assignments/keys", "/guardrails/assignments/keys?limit=10".into(), None, 200),
        case(
            M::POST,
            "/guardrails/{id}/assignments/keys/remove",
            format!("/guardrails/{gid}/assignments/keys/remove"),
            Some(json!({"key_hashes": [missing_k]})),
            200,
        ),
        case(
            M::POST,
            "/guardrails/{id}/assignments/keys/remove",
            format!("/guardrails/{gid}/assignments/keys/remove"),
            Some(json!({})),
            400,
        ),
        case(
            M::POST,
            "/guardrails/{id}/assignments/keys/remove",
            format!("/guardrails/{missing_g}/assignments/keys/remove"),
            Some(json!({"key_hashes": [hash]})),
            404,
        ),
    ];
    // 401 for every operation that lists it.
    for (method, spec_path, path) in [
        (M::GET, "/keys", "/keys".to_string()),
        (M::POST, "/keys", "/keys".into()),
        (M::GET, "/keys/{hash}", format!("/keys/{hash}")),
        (M::PATCH, "/keys/{hash}", format!("/keys/{hash}")),
        (M::DELETE, "/keys/{hash}", format!("/keys/{hash}")),
        (M::GET, "/guardrails", "/guardrails".into()),
        (M::POST, "/guardrails", "/guardrails".into()),
        (M::GET, "/guardrails/{id}", format!("/guardrails/{gid}")),
        (M::PATCH, "/guardrails/{id}", format!("/guardrails/{gid}")),
        (M::DELETE, "/guardrails/{id}", format!("/guardrails/{gid}")),
        (M::GET, "/guardrails/{id}/assignments/keys", format!("/guardrails/{gid}/assignments/keys")),
        (M::POST, "/guardrails/{id}/assignments/keys", format!("/guardrails/{gid}/assignments/keys")),
        (M::POST, "/guardrails/{id}/assignments/keys/remove", format!("/guardrails/{gid}/assignments/keys/remove")),
        (M::GET, "/guardrails/assignments/keys", "/guardrails/assignments/keys".into()),
    ] {
        cases.push(Case { method, spec_path, path, body: Some(json!({"name": "n"})), auth: false, status: 401 });
    }

    let mut failures = Vec::new();
    for c in &cases {
        let bearer = c.auth.then_some(support::MGMT_KEY);
        let (status, body) = raw_with_auth(&base, c.method.clone(), &c.path, c.body.clone(), bearer).await;
        let what = format!("{} {} -> {status}", c.method, c.path);
        if status != c.status {
            failures.push(format!("{what}: expected status {} ({body})", c.status));
            continue;
        }
        let v = response_validator(&spec, c.spec_path, &c.method.as_str().to_lowercase(), status);
        // Every response schema in this spec has required fields, so `{}` must fail; this keeps
        // a vacuous schema from passing unnoticed.
        assert!(!v.is_valid(&json!({})), "{what}: schema accepts {{}}");
        let errs = errors(&v, &body);
        if !errs.is_empty() {
            failures.push(format!("{what}: {errs:?}\n  body: {body}"));
        }
    }

    // Injected 429 and 500 answers follow the spec's error schemas too, also when the request
    // was applied before the error (the "ambiguous" faults).
    for (status, spec_path, method, path, after_apply) in [
        (429, "/keys", M::POST, "/keys", false),
        (500, "/guardrails", M::GET, "/guardrails", false),
        (500, "/keys", M::POST, "/keys", true),
        (500, "/guardrails", M::POST, "/guardrails", true),
    ] {
        if after_apply {
            sim.simulator.fail_next_after_apply(path, status, 1);
        } else {
            sim.simulator.fail_next(path, status, 1);
        }
        let (got, body) = raw(&base, method.clone(), path, Some(json!({"name": "n"}))).await;
        assert_eq!(got, status);
        let v = response_validator(&spec, spec_path, &method.as_str().to_lowercase(), status);
        let errs = errors(&v, &body);
        if !errs.is_empty() {
            failures.push(format!("injected {status}: {errs:?}"));
        }
    }

    assert!(failures.is_empty(), "spec violations:\n{}", failures.join("\n"));
}

#[test]
fn client_request_bodies_match_spec_schemas() {
    let spec = spec();
    let full_key = CreateKey {
        name: "k".into(),
        limit: Some(1.0),
        limit_reset: Some(ResetInterval::Daily),
        include_byok_in_limit: Some(false),
        expires_at: Some(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
        creator_user_id: Some("user_x".into()),
        workspace_id: Some("0df9e665-d932-5740-b2c7-b52af166bc11".into()),
    };
    let full_guardrail = CreateGuardrail {
        name: "g".into(),
        description: Some("d".into()),
        limit_usd: Some(1.0),
        reset_interval: Some(ResetInterval::Monthly),
        allowed_models: Some(vec!["a/b".into()]),
        allowed_providers: Some(vec!["a".into()]),
        ignored_models: Some(vec!["c/d".into()]),
        ignored_providers: Some(vec!["c".into()]),
        include_byok_in_budgets: Some(true),
        workspace_id: Some("0df9e665-d932-5740-b2c7-b52af166bc11".into()),
    };
    let update_key = UpdateKey {
        name: Some("k2".into()),
        disabled: Some(true),
        limit: Some(None),
        limit_reset: Some(None),
        include_byok_in_limit: Some(true),
    };
    let update_guardrail = UpdateGuardrail {
        description: Some(None),
        limit_usd: Some(Some(2.0)),
        reset_interval: Some(None),
        allowed_models: Some(None),
        ..Default::default()
    };
    let hashes = KeyHashes { key_hashes: vec!["abc".into()] };
    let checks = [
        ("/keys", "post", serde_json::to_value(&full_key).unwrap()),
        ("/keys", "post", serde_json::to_value(CreateKey { name: "k".into(), ..Default::default() }).unwrap()),
        ("/keys/{hash}", "patch", serde_json::to_value(&update_key).unwrap()),
        ("/guardrails", "post", serde_json::to_value(&full_guardrail).unwrap()),
        ("/guardrails/{id}", "patch", serde_json::to_value(&update_guardrail).unwrap()),
        ("/guardrails/{id}/assignments/keys", "post", serde_json::to_value(&hashes).unwrap()),
        ("/guardrails/{id}/assignments/keys/remove", "post", serde_json::to_value(&hashes).unwrap()),
    ];
    for (path, method, body) in checks {
        let v = request_validator(&spec, path, method);
        let errs = errors(&v, &body);
        assert!(errs.is_empty(), "{method} {path} body {body}: {errs:?}");
    }
}
