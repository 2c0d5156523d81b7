//! The HTTP boundary of the server functions: the one place an error's status is put on the
//! answer ([`answer`], and [`framework_error`] for the framework's own errors), and where a plain
//! form post (JavaScript off) is sent back to its page. Each error type states its statuses once,
//! in its `ErrorStatus` impl beside it. Server-only.

use axum::http::header::ACCEPT;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use leptos::prelude::use_context;
use leptos::server_fn::error::ServerFnErrorErr;

/// An error a server function answers with, and the status it answers it with (the body says
/// which error it is).
pub trait ErrorStatus {
    fn status(&self) -> StatusCode;
}

/// `result`, with the response's status set from its error. A plain form post keeps the
/// redirect back to its page instead (see [`redirect_plain_form`]).
pub fn answer<T, E: ErrorStatus>(result: Result<T, E>) -> Result<T, E> {
    if let Err(error) = &result {
        if !is_plain_form_post() {
            set_status(error.status());
        }
    }
    result
}

/// The status of the framework's own errors, by kind: arguments the server function cannot
/// decode are the client's mistake (400), not the server's (the framework's default 500).
fn framework_error_status(error: &ServerFnErrorErr) -> StatusCode {
    match error {
        ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) | ServerFnErrorErr::Deserialization(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Called where a server function's error type is made from a framework error (its
/// `FromServerFnError`): sets the status of that error's kind.
pub fn framework_error(error: &ServerFnErrorErr) {
    set_status(framework_error_status(error));
}

fn set_status(status: StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// Whether the request is a plain form post: a POST whose browser asked for HTML (JavaScript
/// was off). A page rendered on the server is a GET, and gets its status.
fn is_plain_form_post() -> bool {
    use_context::<Parts>().is_some_and(|parts| {
        parts.method == Method::POST
            && parts.headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
    })
}

/// Sends a plain form post back to `path` (302); requests from the hydrated page get the server
/// function's own answer.
pub fn redirect_plain_form(path: &str) {
    if is_plain_form_post() {
        leptos_axum::redirect(path);
    }
}
