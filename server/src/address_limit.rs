//! Per-address rate limits: sign-in (`/auth/…`) and server function calls (`/api/…`) on one
//! quota, page views (every other GET, each renders and reads the database) on another; static
//! files and `/healthz` are not limited.
//!
//! The address is the TCP peer's. Behind reverse proxies (`TRUST_PROXY`, their addresses or
//! ranges) it is the right-most `X-Forwarded-For` entry, over all header lines, that is not one of
//! them: each proxy appends the address it saw, so entries left of the first untrusted one are
//! whatever the client chose to send. A peer that is not a trusted proxy is the client, and its
//! `X-Forwarded-For` is ignored.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use app::rate_limit::RateLimits;

/// What a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quota {
    /// Sign-in and server functions.
    Requests,
    Pages,
    None,
}

fn quota(method: &Method, path: &str) -> Quota {
    if path.starts_with("/auth/") || path.starts_with("/api/") {
        Quota::Requests
    } else if path.starts_with("/pkg/")
        || matches!(path, "/healthz" | "/favicon.svg" | "/favicon.ico" | "/robots.txt")
        || !matches!(*method, Method::GET | Method::HEAD)
    {
        // Files that read nothing from the database (anything else, a 404 included, renders).
        Quota::None
    } else {
        Quota::Pages
    }
}

pub async fn limit(State(limits): State<Arc<RateLimits>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let quota = quota(request.method(), path);
    if quota != Quota::None {
        if let Some(address) = client_address(&request, &limits) {
            let allowed = match quota {
                Quota::Requests => limits.allow_address(address),
                _ => limits.allow_page(address),
            };
            if !allowed {
                tracing::warn!(%address, path, ?quota, "rate limit: too many requests from one address");
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

fn client_address(request: &Request, limits: &RateLimits) -> Option<IpAddr> {
    let ConnectInfo(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>()?;
    Some(client_of(peer.ip(), request.headers(), |ip| limits.is_trusted_proxy(ip)))
}

/// The client's address: see the module's documentation.
fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> IpAddr {
    if !trusted(peer) {
        return peer;
    }
    // Every line, in order, as one list; a line that is not text is one unreadable entry.
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|line| line.to_str().map_or_else(|_| vec![""], |text| text.split(',').collect()))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(address) if trusted(address) => client = address,
            Ok(address) => return address,
            // Garbage where an address should be: nothing left of it can be believed, so the
            // last trusted hop stands for the client.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_entry() {
        let proxies = |a: IpAddr| a.to_string().starts_with("10.");
        let proxy = ip("10.0.0.2");
        // A proxy chain: client, then two proxies of ours.
        assert_eq!(client_of(proxy, &headers(&["203.0.113.9, 10.0.0.1"]), proxies), ip("203.0.113.9"));
        // What the client wrote itself sits left of what our proxy appended.
        assert_eq!(client_of(proxy, &headers(&["1.2.3.4, 203.0.113.9"]), proxies), ip("203.0.113.9"));
        // Several header lines are one list.
        assert_eq!(client_of(proxy, &headers(&["1.2.3.4", "203.0.113.9", "10.0.0.1"]), proxies), ip("203.0.113.9"));
        // An untrusted peer's header is ignored.
        assert_eq!(client_of(ip("198.51.100.7"), &headers(&["1.2.3.4"]), proxies), ip("198.51.100.7"));
        // Nothing forwarded, or only proxies: the nearest hop.
        assert_eq!(client_of(proxy, &headers(&[]), proxies), proxy);
        assert_eq!(client_of(proxy, &headers(&["10.0.0.7"]), proxies), ip("10.0.0.7"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(client_of(proxy, &headers(&["1.2.3.4, nonsense, 10.0.0.1"]), proxies), ip("10.0.0.1"));
    }

    #[test]
    fn pages_files_and_calls_count_against_their_own_quota() {
        assert_eq!(quota(&Method::GET, "/w/demo"), Quota::Pages);
        assert_eq!(quota(&Method::GET, "/"), Quota::Pages);
        assert_eq!(quota(&Method::POST, "/api/claim_key123"), Quota::Requests);
        assert_eq!(quota(&Method::GET, "/auth/login/google"), Quota::Requests);
        assert_eq!(quota(&Method::GET, "/pkg/minter.abc.wasm"), Quota::None);
        assert_eq!(quota(&Method::GET, "/favicon.svg"), Quota::None);
        assert_eq!(quota(&Method::GET, "/healthz"), Quota::None);
        assert_eq!(quota(&Method::GET, "/no-such-page.svg"), Quota::Pages, "a 404 is a rendered page");
    }
}
