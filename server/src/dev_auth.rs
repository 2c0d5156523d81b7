//! Demo sign-in (`MINTER_DEMO=1` only): type an email and a name, get a session. No verification,
//! which is why these routes do not exist outside demo mode.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use chrono::Utc;
use serde::Deserialize;

use app::auth::providers::Identity;
use app::auth::{looks_like_email, normalize_email, safe_next_path};
use app::state::AppState;

use crate::plain_page::{self, escape};

pub fn routes() -> Router<AppState> {
    Router::new().route("/auth/dev", get(form).post(sign_in))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    name: String,
    next: Option<String>,
}

async fn form(State(state): State<AppState>, Query(query): Query<NextQuery>) -> Html<String> {
    page(&state, &safe_next_path(query.next.as_deref().unwrap_or("/")), "", "", None)
}

async fn sign_in(State(state): State<AppState>, jar: CookieJar, Form(form): Form<SignInForm>) -> Response {
    let next = safe_next_path(form.next.as_deref().unwrap_or("/"));
    let (email, name) = (form.email.trim(), form.name.trim());
    // Bytes that were not UTF-8 arrive as U+FFFD (the form decoder is lossy); never a person's.
    let garbled = |text: &str| text.chars().any(|c| c == char::REPLACEMENT_CHARACTER || c.is_control());
    let problem = if !looks_like_email(email) || garbled(email) {
        Some("Please enter a valid email address.")
    } else if name.is_empty() || name.chars().count() > 100 || garbled(name) {
        Some("Please enter your name (at most 100 characters).")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (StatusCode::BAD_REQUEST, page(&state, &next, email, name, Some(problem))).into_response();
    }
    let identity = Identity {
        user_id: format!("dev|{}", normalize_email(email)),
        email: email.to_string(),
        name: name.to_string(),
        provider: "dev".to_string(),
    };
    let Ok(user) = crate::sign_in::remember(&state, identity).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Could not sign in, please try again.").into_response();
    };
    let token = state.session.issue(&user, Utc::now());
    (jar.add(state.session.cookie(token)), Redirect::to(&next)).into_response()
}

fn page(state: &AppState, next: &str, email: &str, name: &str, problem: Option<&str>) -> Html<String> {
    let (next, email, name) = (escape(next), escape(email), escape(name));
    let problem = problem.map(|p| format!(r#"<p class="error" role="alert">{}</p>"#, escape(p))).unwrap_or_default();
    plain_page::render(
        "Demo sign-in",
        state,
        &format!(
            r#"<h1>Demo sign-in</h1>
<p>In demo mode anyone can sign in as anyone. Real deployments use Google or GitHub.</p>{problem}
<form method="post" action="/auth/dev" class="stack">
<input type="hidden" name="next" value="{next}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="{email}">
<label for="name">Name</label><input id="name" name="name" type="text" autocomplete="name" required maxlength="100" value="{name}">
<button type="submit" class="button">Sign in</button>
</form>"#
        ),
    )
}
