//! Small server-rendered pages outside the Leptos app (sign-in forms and sign-in errors): they
//! must work before any session exists and without JavaScript.

use axum::response::Html;

/// A page with the site's stylesheet; `body` is trusted HTML built with [`escape`].
pub fn render(title: &str, demo: bool, body: &str) -> Html<String> {
    let banner = if demo {
        r#"<div class="demo-banner" role="status">Demo mode: sign-in is not verified and keys come from a simulated OpenRouter.</div>"#
    } else {
        ""
    };
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
