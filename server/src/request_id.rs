//! Gives every request an id of ours (`X-Request-Id`; one sent by the client is replaced, so no
//! client text reaches a page through it), runs the request inside a log span that carries it,
//! and returns it to the client. A page that hides an internal error shows the id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use app::request_id::{new_id, HEADER};

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = new_id();
    let value = HeaderValue::from_str(&id).expect("hex is a valid header value");
    request.headers_mut().insert(HEADER, value.clone());
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(HEADER, value);
    response
}
