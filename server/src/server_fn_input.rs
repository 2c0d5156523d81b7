//! What a server function cannot decode is the client's mistake, not the server's: its own decoder
//! would answer 500. On `/api/…` this answers 413 to a body over the limit (a chunked body has no
//! length to refuse up front), 400 to one that is not UTF-8 text, and 400 instead of the decoder's
//! 500 for arguments that are missing or malformed.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn check(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, crate::MAX_REQUEST_BODY).await {
        Ok(body) => body,
        Err(e) if e.to_string().contains("length limit exceeded") => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        }
        Err(_) => return (StatusCode::BAD_REQUEST, "The request body could not be read.").into_response(),
    };
    if std::str::from_utf8(&body).is_err() {
        return (StatusCode::BAD_REQUEST, "The request body is not UTF-8 text.").into_response();
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    if undecodable_arguments(&String::from_utf8_lossy(&body)) {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(body))
}

/// The decoder's error, as a custom error type (`{"Request":"error deserializing server function
/// arguments: …"}`) or as `ServerFnError` (`Args|…`, `MissingArg|…`) encodes it.
fn undecodable_arguments(body: &str) -> bool {
    body.contains("error deserializing server function arguments")
        || body.starts_with("Args|")
        || body.starts_with("MissingArg|")
}
