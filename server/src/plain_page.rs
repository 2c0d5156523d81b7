//! Small server-rendered pages outside the Leptos app (sign-in forms and sign-in errors): they
//! must work before any session exists and without JavaScript.

use axum::response::Html;

use app::state::AppState;

/// A page with the site's stylesheet; `body` is trusted HTML built with [`escape`].
pub fn render(title: &str, state: &AppState, body: &str) -> Html<String> {
    let banner = app::site::demo_banner(state.demo, state.demo && state.simulator.is_none())
        .map(|text| format!(r#"<div class="demo-banner" role="status">{}</div>"#, escape(text)))
        .unwrap_or_default();
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>{title}</title><link rel="stylesheet" href="/pkg/minter.css"></head>
<body>{banner}<main><section class="card">{body}</section></main></body></html>"#,
        title = escape(title)
    ))
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
