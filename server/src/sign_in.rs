//! Sign-in routes: `GET /auth/login/{provider}?next=…` sends the browser to the provider with a
//! fresh login cookie, `GET /auth/callback/{provider}` checks everything and starts a session,
//! `POST /auth/logout` ends it. A refused sign-in shows why and writes nothing.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::CookieJar;
use chrono::Utc;
use serde::Deserialize;

use app::auth::login_state::{self, LoginState};
use app::auth::providers::{Identity, SignInError};
use app::auth::{encode_query_value, normalize_email, safe_next_path, SessionUser};
use app::signed_in::SignedIn;
use app::state::AppState;
use app::store::AttendeeProfile;

use crate::plain_page::{self, escape};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login/{provider}", get(login))
        .route("/auth/callback/{provider}", get(callback))
        .route("/auth/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// What the provider appends to the redirect URI.
#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    Path(provider_id): Path<String>,
    Query(query): Query<LoginQuery>,
    jar: CookieJar,
) -> Response {
    let next = safe_next_path(query.next.as_deref().unwrap_or("/"));
    let Some(provider) = state.sign_in.provider(&provider_id) else {
        return refused(&state, &provider_id, &next, SignInError::UnknownProvider(provider_id.clone()));
    };
    match provider.authorize(&state.sign_in.redirect_uri(provider)).await {
        Ok(authorization) => {
            let login = LoginState::new(
                provider.id(),
                next,
                authorization.state,
                authorization.pkce_verifier,
                authorization.nonce,
                Utc::now(),
            );
            (jar.add(state.session.login_cookie(&login)), Redirect::to(&authorization.url)).into_response()
        }
        Err(error) => refused(&state, &provider_id, &next, error),
    }
}

async fn callback(
    State(state): State<AppState>,
    Path(provider_id): Path<String>,
    Query(query): Query<CallbackQuery>,
    jar: CookieJar,
) -> Response {
    let login = jar
        .get(&state.session.cookie_name(login_state::COOKIE_NAME))
        .and_then(|c| state.session.verify_login(c.value()));
    let next = login.as_ref().map_or_else(|| "/".to_string(), |l| safe_next_path(&l.next));
    // Success or not, this attempt is over.
    let jar = jar.remove(state.session.login_removal_cookie());
    match finish(&state, &provider_id, query, login).await {
        Ok(user) => {
            tracing::info!(provider = %user.provider, "signed in");
            let token = state.session.issue(&user, Utc::now());
            (jar.add(state.session.cookie(token)), Redirect::to(&next)).into_response()
        }
        Err(error) => (jar, refused(&state, &provider_id, &next, error)).into_response(),
    }
}

async fn finish(
    state: &AppState,
    provider_id: &str,
    query: CallbackQuery,
    login: Option<LoginState>,
) -> Result<SessionUser, SignInError> {
    let provider =
        state.sign_in.provider(provider_id).ok_or_else(|| SignInError::UnknownProvider(provider_id.to_string()))?;
    let login = login.filter(|l| l.provider == provider_id).ok_or(SignInError::InvalidState)?;
    if query.state.as_deref() != Some(login.state.as_str()) {
        return Err(SignInError::InvalidState);
    }
    if let Some(error) = query.error {
        return Err(SignInError::ProviderRefused { provider: provider.label().to_string(), error });
    }
    let code = query.code.filter(|c| !c.is_empty()).ok_or(SignInError::InvalidState)?;
    // Burn the attempt before using the code: a copied cookie + callback URL replays nothing.
    let now = Utc::now();
    let first_use = state.store.consume_login_state(&login.jti, login.expires_at(), now).await.map_err(|e| {
        tracing::error!(error = %e, "could not record the sign-in attempt");
        SignInError::Internal
    })?;
    if !first_use {
        return Err(SignInError::InvalidState);
    }
    let identity = provider.finish(&code, &login, &state.sign_in.redirect_uri(provider)).await?;
    remember(state, identity).await
}

/// Upserts the attendee (refreshing profile and `last_seen_at`) and returns the session user.
pub(crate) async fn remember(state: &AppState, identity: Identity) -> Result<SessionUser, SignInError> {
    let profile = AttendeeProfile {
        email_normalized: normalize_email(&identity.email),
        user_id: identity.user_id,
        email: identity.email,
        display_name: identity.name,
        auth_provider: identity.provider,
    };
    state.store.upsert_attendee(&profile, Utc::now()).await.map_err(|e| {
        tracing::error!(error = %e, "could not save the attendee");
        SignInError::Internal
    })?;
    Ok(SessionUser {
        user_id: profile.user_id,
        email: profile.email,
        name: profile.display_name,
        provider: profile.auth_provider,
    })
}

/// The page a refused sign-in lands on: the reason, and a way to try again.
fn refused(state: &AppState, provider_id: &str, next: &str, error: SignInError) -> Response {
    tracing::info!(provider = provider_id, reason = ?error, "sign-in refused");
    let retry = state.sign_in.provider(provider_id).map(|p| {
        format!(
            r#"<a class="button" href="/auth/login/{}?next={}">Try again with {}</a> "#,
            escape(p.id()),
            escape(&encode_query_value(next)),
            escape(p.label())
        )
    });
    let body = format!(
        r#"<h1>Sign-in failed</h1><p class="error" role="alert" data-testid="sign-in-error">{}</p><p>{}<a href="{}">Back</a></p>"#,
        escape(&error.to_string()),
        retry.unwrap_or_default(),
        escape(next)
    );
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, plain_page::render("Sign-in failed", state, &body)).into_response()
}

/// Ends the session everywhere: its id is recorded as signed out (every replica reads it), so
/// a copy of the cookie authenticates nothing afterwards, and the browser's cookie is removed.
async fn logout(State(state): State<AppState>, signed_in: Option<SignedIn>, jar: CookieJar) -> Response {
    if let Some(SignedIn(session)) = signed_in {
        if let Err(e) = state.store.revoke_session(&session.id, session.expires_at, Utc::now()).await {
            tracing::error!(error = %e, "could not record a sign-out");
            let body = r#"<h1>Sign-out failed</h1><p class="error" role="alert">Something went wrong on our side; you are still signed in. Please try again.</p><p><a href="/">Back</a></p>"#;
            return (StatusCode::SERVICE_UNAVAILABLE, plain_page::render("Sign-out failed", &state, body))
                .into_response();
        }
        tracing::info!(provider = %session.user.provider, "signed out");
    }
    (jar.remove(state.session.removal_cookie()), Redirect::to("/")).into_response()
}
