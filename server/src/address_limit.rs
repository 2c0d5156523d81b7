//! The per-address rate limit on sign-in (`/auth/…`) and server function calls (`/api/…`); page
//! views and static files are not limited. The address is the TCP peer's, or behind a reverse
//! proxy (`TRUST_PROXY=1`) the last one the proxy appended to `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use app::rate_limit::RateLimits;

pub async fn limit(State(limits): State<Arc<RateLimits>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let limited = path.starts_with("/auth/") || path.starts_with("/api/");
    if limited {
        if let Some(address) = client_address(&request, limits.trust_proxy()) {
            if !limits.allow_address(address) {
                tracing::warn!(%address, path, "rate limit: too many requests from one address");
                let mut response =
                    (StatusCode::TOO_MANY_REQUESTS, "Too many requests from your network. Wait a minute.")
                        .into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                return response;
            }
        }
    }
    next.run(request).await
}

fn client_address(request: &Request, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        // The right-most entry is the one our proxy wrote; the ones before it are the client's say.
        if let Some(address) = forwarded.and_then(|v| v.rsplit(',').next()).and_then(|a| a.trim().parse().ok()) {
            return Some(address);
        }
    }
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip())
}
