//! A fake GitHub for the sign-in tests, following GitHub's documented OAuth app flow:
//! `GET /login/oauth/authorize` (approves at once as the configured account),
//! `POST /login/oauth/access_token` (form-encoded answer unless `Accept: application/json`;
//! refusals are HTTP 200 with an `error` field; codes are single-use and PKCE is checked),
//! `GET /user` and `GET /user/emails` (Bearer token, `User-Agent` required, `user:email` scope).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "Iv1.fakegithubclient";
pub const CLIENT_SECRET: &str = "fake-github-secret";

#[derive(Clone)]
pub struct Account {
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    /// (email, primary, verified)
    pub emails: Vec<(String, bool, bool)>,
}

struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    account: Account,
}

#[derive(Default)]
struct Inner {
    account: Option<Account>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, (String, Account)>,
    next_id: u64,
}

#[derive(Clone, Default)]
pub struct FakeGithub(Arc<Mutex<Inner>>);

impl FakeGithub {
    /// Who approves the next authorization.
    pub fn sign_in_as(&self, account: Account) {
        self.0.lock().unwrap().account = Some(account);
    }

    pub async fn spawn(&self) -> String {
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(State(github): State<FakeGithub>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id != CLIENT_ID {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return (StatusCode::BAD_REQUEST, "code_challenge_method must be S256").into_response();
    }
    let mut inner = github.0.lock().unwrap();
    let account = inner.account.clone().expect("test must call sign_in_as first");
    inner.next_id += 1;
    let code = format!("code{:020}", inner.next_id);
    let grant = Grant {
        redirect_uri: q.redirect_uri.clone(),
        challenge: q.code_challenge,
        scope: q.scope.unwrap_or_default().replace(' ', ","),
        account,
    };
    inner.codes.insert(code.clone(), grant);
    let state = q.state.map(|s| format!("&state={s}")).unwrap_or_default();
    Redirect::to(&format!("{}?code={code}{state}", q.redirect_uri)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

async fn access_token(State(github): State<FakeGithub>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    let json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    let (client_id, client_secret) = basic_auth(&headers)
        .unwrap_or((form.client_id.clone().unwrap_or_default(), form.client_secret.clone().unwrap_or_default()));
    let mut inner = github.0.lock().unwrap();
    let outcome = if client_id != CLIENT_ID || client_secret != CLIENT_SECRET {
        Err(("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."))
    } else {
        match inner.codes.remove(&form.code) {
            None => Err(("bad_verification_code", "The code passed is incorrect or expired.")),
            Some(grant) if form.redirect_uri.as_deref().is_some_and(|r| r != grant.redirect_uri) => Err((
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )),
            Some(grant) if !pkce_ok(grant.challenge.as_deref(), form.code_verifier.as_deref()) => {
                Err(("bad_verification_code", "The code passed is incorrect or expired."))
            }
            Some(grant) => {
                inner.next_id += 1;
                let token = format!("gho_{:036}", inner.next_id);
                inner.tokens.insert(token.clone(), (grant.scope.clone(), grant.account));
                Ok((token, grant.scope))
            }
        }
    };
    let fields: Vec<(&str, String)> = match outcome {
        Ok((token, scope)) => vec![("access_token", token), ("scope", scope), ("token_type", "bearer".into())],
        Err((error, description)) => vec![
            ("error", error.into()),
            ("error_description", description.into()),
            ("error_uri", "https://docs.github.com/apps/troubleshooting-authorization-requests".into()),
        ],
    };
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            fields.into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        Json(map).into_response()
    } else {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        ([(header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")], body).into_response()
    }
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

fn pkce_ok(challenge: Option<&str>, verifier: Option<&str>) -> bool {
    use base64::Engine;
    match (challenge, verifier) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(challenge), Some(verifier)) => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
        }
    }
}

/// The account behind a request's token, or GitHub's refusal.
#[allow(clippy::result_large_err, reason = "the refusal is the handler's answer, as axum returns it")]
fn authenticated(github: &FakeGithub, headers: &HeaderMap) -> Result<(String, Account), Response> {
    if headers.get(header::USER_AGENT).is_none() {
        return Err((
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        )
            .into_response());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")));
    let inner = github.0.lock().unwrap();
    match token.and_then(|t| inner.tokens.get(t)) {
        Some(found) => Ok(found.clone()),
        None if token.is_none() => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest", "status": "401"})),
        )
            .into_response()),
        None => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})),
        )
            .into_response()),
    }
}

async fn user(State(github): State<FakeGithub>, headers: HeaderMap) -> Response {
    match authenticated(&github, &headers) {
        Ok((_, account)) => Json(json!({
            "login": account.login,
            "id": account.id,
            "node_id": format!("U_{}", account.id),
            "type": "User",
            "name": account.name,
            "email": null,
        }))
        .into_response(),
        Err(refusal) => refusal,
    }
}

async fn emails(State(github): State<FakeGithub>, headers: HeaderMap) -> Response {
    match authenticated(&github, &headers) {
        Ok((scope, _)) if !scope.split(',').any(|s| s == "user:email" || s == "user") => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/users/emails", "status": "404"})),
        )
            .into_response(),
        Ok((_, account)) => Json(
            account
                .emails
                .iter()
                .map(|(email, primary, verified)| {
                    json!({"email": email, "primary": primary, "verified": verified, "visibility": if *primary { json!("private") } else { json!(null) }})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(refusal) => refusal,
    }
}
