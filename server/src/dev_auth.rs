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

use app::auth::{looks_like_email, normalize_email, safe_next_path, SessionUser};
use app::state::AppState;
use app::store::AttendeeProfile;

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

async fn form(Query(query): Query<NextQuery>) -> Html<String> {
    page(&safe_next_path(query.next.as_deref().unwrap_or("/")), "", "", None)
}

async fn sign_in(State(state): State<AppState>, jar: CookieJar, Form(form): Form<SignInForm>) -> Response {
    let next = safe_next_path(form.next.as_deref().unwrap_or("/"));
    let (email, name) = (form.email.trim(), form.name.trim());
    let problem = if !looks_like_email(email) {
        Some("Please enter a valid email address.")
    } else if name.is_empty() || name.chars().count() > 100 {
        Some("Please enter your name (at most 100 characters).")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (StatusCode::BAD_REQUEST, page(&next, email, name, Some(problem))).into_response();
    }
    let email_normalized = normalize_email(email);
    let profile = AttendeeProfile {
        user_id: format!("dev|{email_normalized}"),
        email: email.to_string(),
        email_normalized,
        display_name: name.to_string(),
        auth_provider: "dev".to_string(),
    };
    let now = Utc::now();
    if let Err(e) = state.store.upsert_attendee(&profile, now).await {
        tracing::error!(error = %e, "demo sign-in could not save the attendee");
        return (StatusCode::INTERNAL_SERVER_ERROR, "Could not sign in, please try again.").into_response();
    }
    let user = SessionUser {
        user_id: profile.user_id,
        email: profile.email,
        name: profile.display_name,
        provider: profile.auth_provider,
    };
    let token = state.session.issue(&user, now);
    (jar.add(state.session.cookie(token)), Redirect::to(&next)).into_response()
}

fn page(next: &str, email: &str, name: &str, problem: Option<&str>) -> Html<String> {
    let (next, email, name) = (escape(next), escape(email), escape(name));
    let problem = problem.map(|p| format!(r#"<p class="error" role="alert">{}</p>"#, escape(p))).unwrap_or_default();
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Demo sign-in</title><link rel="stylesheet" href="/pkg/minter.css"></head>
<body><div class="demo-banner" role="status">Demo mode: sign-in is not verified and keys come from a simulated OpenRouter.</div>
<main><section class="card"><h1>Demo sign-in</h1>
<p>In demo mode anyone can sign in as anyone. Real deployments use Google or GitHub.</p>{problem}
<form method="post" action="/auth/dev" class="stack">
<input type="hidden" name="next" value="{next}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="{email}">
<label for="name">Name</label><input id="name" name="name" type="text" autocomplete="name" required maxlength="100" value="{name}">
<button type="submit" class="button">Sign in</button>
</form></section></main></body></html>"#
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
