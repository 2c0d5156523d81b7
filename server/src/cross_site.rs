//! Refuses cross-site POSTs (CSRF) before they reach a server function or a sign-in route.
//! SameSite=Lax already keeps the session cookie off them; this also stops same-site sibling
//! hosts and requests that need no cookie at all (such as the demo sign-in form).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `scheme://host[:port]` of `PUBLIC_URL`.
#[derive(Clone)]
pub struct PublicOrigin(Arc<str>);

impl PublicOrigin {
    pub fn of(public_url: &str) -> Self {
        let origin = match public_url.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()),
            None => public_url.to_string(),
        };
        Self(origin.into())
    }
}

pub async fn refuse_cross_site_posts(State(public): State<PublicOrigin>, request: Request, next: Next) -> Response {
    let host =
        request.headers().get(HOST).and_then(|h| h.to_str().ok()).or(request.uri().authority().map(|a| a.as_str()));
    if !request.method().is_safe() && is_cross_site(request.headers(), &public.0, host) {
        tracing::warn!(method = %request.method(), path = request.uri().path(), "cross-site request refused");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(request).await
}

/// Browsers label every request with `Sec-Fetch-Site` (trustworthy origins) or at least `Origin`
/// (any unsafe method); a request with neither does not come from a web page.
fn is_cross_site(headers: &HeaderMap, public_origin: &str, host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user typed the address or used a bookmark.
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN) else { return false };
    let Ok(origin) = origin.to_str() else { return true };
    if origin == public_origin {
        return false;
    }
    // The host the browser sent the request to (the demo reached as localhost, say).
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    !(authority.is_some() && authority == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
    }

    const PUBLIC: &str = "https://keys.example.org";

    #[test]
    fn public_origin_drops_the_path() {
        assert_eq!(&*PublicOrigin::of("https://keys.example.org/minter").0, PUBLIC);
        assert_eq!(&*PublicOrigin::of("http://127.0.0.1:3000").0, "http://127.0.0.1:3000");
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let host = Some("keys.example.org");
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "same-origin")]), PUBLIC, host));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "none")]), PUBLIC, host));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")]), PUBLIC, host));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "same-site")]), PUBLIC, host));
        // A matching Origin does not rescue a cross-site label.
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site"), ("origin", PUBLIC)]), PUBLIC, host));
    }

    #[test]
    fn origin_decides_otherwise() {
        let host = Some("keys.example.org");
        assert!(!is_cross_site(&headers(&[("origin", PUBLIC)]), PUBLIC, host));
        assert!(is_cross_site(&headers(&[("origin", "https://evil.example")]), PUBLIC, host));
        assert!(is_cross_site(&headers(&[("origin", "null")]), PUBLIC, host));
        assert!(!is_cross_site(&headers(&[("origin", "http://localhost:3000")]), PUBLIC, Some("localhost:3000")));
        assert!(is_cross_site(&headers(&[("origin", "http://localhost:3001")]), PUBLIC, Some("localhost:3000")));
        // Not from a browser page (curl, a test client): nothing to judge.
        assert!(!is_cross_site(&headers(&[]), PUBLIC, host));
    }
}
