//! What a server function cannot read is the client's mistake, not the server's. On `/api/…`
//! this answers 413 to a body over the limit (a chunked body has no length to refuse up front)
//! and 400 to one that is not UTF-8 text. Arguments that do not decode are answered 400 by the
//! functions' error types (`app::http::framework_error_status`).

use std::error::Error;

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;

pub async fn check(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, crate::MAX_REQUEST_BODY).await {
        Ok(body) => body,
        Err(e) if over_the_limit(&e) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        }
        Err(_) => return (StatusCode::BAD_REQUEST, "The request body could not be read.").into_response(),
    };
    if std::str::from_utf8(&body).is_err() {
        return (StatusCode::BAD_REQUEST, "The request body is not UTF-8 text.").into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Somewhere in the error's chain (the limit layer's body, or `to_bytes`'s own) is the limit.
fn over_the_limit(error: &axum::Error) -> bool {
    std::iter::successors(error.source(), |&inner| inner.source()).any(|inner| inner.is::<LengthLimitError>())
}
