//! The real router over real HTTP on loopback: demo sign-in, pages, the claim server function.

mod support;

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;

use app::claim::{ClaimKey, MyKey};
use support::app_server::{client, sign_in, start, TestServer};

async fn claim(server: &TestServer, cookie: Option<&str>) -> reqwest::Response {
    let mut request =
        client().post(server.url(ClaimKey::PATH)).header(ACCEPT, "application/json").form(&[("slug", "demo")]);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn demo_sign_in_then_claim_then_same_key() {
    let server = start(true).await;
    let cookie = sign_in(&server, "ada@example.org").await;

    let first: MyKey = claim(&server, Some(&cookie)).await.json().await.unwrap();
    assert!(first.key.starts_with("sk-or-v1-"));
    assert!(first.bound);
    let second: MyKey = claim(&server, Some(&cookie)).await.json().await.unwrap();
    assert_eq!(first, second);

    // The page, rendered on the server, shows the key to its owner only.
    let page =
        client().get(server.url("/w/demo")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&first.key));
    let anonymous = server.page("/w/demo").await;
    assert!(!anonymous.contains(&first.key));
    assert!(anonymous.contains("Build with LLMs: demo workshop"));
}

#[tokio::test]
async fn claim_without_a_session_is_refused() {
    let server = start(true).await;
    let response = claim(&server, None).await;
    assert!(!response.status().is_success());
    assert!(response.text().await.unwrap().contains("NotSignedIn"));
    let forged = claim(&server, Some("minter_session=eyJhbGciOiJIUzI1NiJ9.e30.bad")).await;
    assert!(forged.text().await.unwrap().contains("NotSignedIn"));
}

#[tokio::test]
async fn plain_form_claim_redirects_back_with_an_error_code() {
    let server = start(true).await;
    let response = client()
        .post(server.url(ClaimKey::PATH))
        .header(ACCEPT, "text/html")
        .header("referer", server.url("/w/demo"))
        .form(&[("slug", "demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[LOCATION], "/w/demo?error=signed-out");
}

#[tokio::test]
async fn demo_sign_in_refuses_bad_input_and_foreign_next() {
    let server = start(true).await;
    let bad = client()
        .post(server.url("/auth/dev"))
        .form(&[("email", "not-an-email"), ("name", "Ada")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.headers().get(SET_COOKIE).is_none());
    assert!(bad.text().await.unwrap().contains("valid email"));

    for next in ["https://evil.example", "//evil.example", "/\\evil.example"] {
        let response = client()
            .post(server.url("/auth/dev"))
            .form(&[("email", "a@example.org"), ("name", "A"), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[LOCATION], "/", "{next}");
    }
}

#[tokio::test]
async fn demo_routes_do_not_exist_outside_demo_mode() {
    let server = start(false).await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = client().request(method.clone(), server.url("/auth/dev")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method}");
    }
    let page = server.page("/w/demo").await;
    assert!(!page.contains("demo-banner"));
    assert!(!page.contains("/auth/dev"), "no link to a route that does not exist");
    // Only GitHub is configured here: Google is not offered, and its login route is a 404.
    assert!(page.contains("Sign in with GitHub") && !page.contains("Sign in with Google"), "{page}");
    let response = client().get(server.url("/auth/login/google?next=/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The demo-only workshops and the key-fault control are not there either.
    for path in ["/w/demo-small", "/w/demo-upcoming/projector"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let home = server.page("/").await;
    assert!(home.contains("/w/demo\"") && !home.contains("demo-small"), "{home}");
    assert_eq!(server.expire_key_signed_out().await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn demo_mode_serves_the_demo_workshops_and_a_projector_page() {
    let server = start(true).await;
    let home = server.page("/").await;
    for slug in ["demo-small", "demo-upcoming", "demo-closed"] {
        assert!(home.contains(&format!("/w/{slug}\"")), "{slug} listed: {home}");
    }
    let page = server.page("/w/demo-upcoming").await;
    assert!(page.contains("Opens in ") && page.contains("role=\"timer\""), "{page}");
    let page = server.page("/w/demo-closed").await;
    assert!(page.contains("Claims are closed."), "{page}");

    let projector = client().get(server.url("/w/demo/projector")).send().await.unwrap();
    assert_eq!(projector.status(), StatusCode::OK);
    let projector = projector.text().await.unwrap();
    assert!(projector.contains("<svg") && projector.contains("QR code for http://"), "{projector}");
    assert!(projector.contains("data-testid=\"claimed-count\">0<"), "{projector}");
    // A key fault needs a signed-in attendee with a key.
    assert_eq!(server.expire_key_signed_out().await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_workshop_is_a_404_page() {
    let server = start(true).await;
    let response = client().get(server.url("/w/no-such-workshop")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Not found"));
}

#[tokio::test]
async fn responses_are_compressed_as_the_browser_accepts_and_healthz_answers() {
    let server = start(true).await;
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");

    let page = |encoding: Option<&'static str>| {
        let mut request = client().get(server.url("/w/demo"));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        async move {
            let response = request.send().await.unwrap();
            let used = response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
            (used, response.bytes().await.unwrap())
        }
    };
    let (identity, plain) = page(None).await;
    assert_eq!(identity, None);
    let (br, compressed) = page(Some("gzip, deflate, br, zstd")).await;
    assert_eq!(br.as_deref(), Some("br"));
    let (gzip, gzipped) = page(Some("gzip, br;q=0")).await;
    assert_eq!(gzip.as_deref(), Some("gzip"));
    let (plain_len, br_len, gzip_len) = (plain.len(), compressed.len(), gzipped.len());
    assert!(br_len * 2 < plain_len && gzip_len * 2 < plain_len, "{plain_len} → br {br_len}, gzip {gzip_len}");

    // The brotli stream names its window in its first bits (RFC 7932, 9.1): 256 KiB, not the
    // encoder's default 4 MiB, whose ring buffer each response used to allocate.
    assert_eq!(compressed[0] & 0x0f, 0b0011, "WBITS 18");
    let mut decoded = String::new();
    async_compression::tokio::bufread::BrotliDecoder::new(&compressed[..]).read_to_string(&mut decoded).await.unwrap();
    let page = String::from_utf8(plain.to_vec()).unwrap();
    assert!(decoded.contains("</html>") && decoded.len() == page.len(), "the same page, its nonce aside: {decoded}");
}

#[tokio::test]
async fn healthz_is_503_when_the_database_is_gone() {
    let (url, db) = support::fresh_postgres().await;
    let server = support::app_server::start_with(true, &[("DATABASE_URL", url.as_str())]).await;
    assert_eq!(client().get(server.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);

    // Dropped now, with the server's connections (testkit's DROP DATABASE … WITH (FORCE)).
    drop(db);
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.text().await.unwrap(), "database unreachable");
}

#[tokio::test]
async fn every_response_carries_security_headers_and_pages_a_fresh_script_nonce() {
    let server = start(true).await;
    let page = || async {
        let response = client().get(server.url("/w/demo")).send().await.unwrap();
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
        (response.headers().clone(), csp, response.text().await.unwrap())
    };
    let (headers, csp, html) = page().await;
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_string();
    assert!(csp.contains("script-src 'self' 'nonce-") && csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{csp}");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the inline hydration script carries the nonce");
    let inline_scripts = html.matches("<script").count();
    assert_eq!(
        inline_scripts,
        html.matches(&format!("<script type=\"module\" nonce=\"{nonce}\"")).count()
            + html.matches(&format!("<script nonce=\"{nonce}\"")).count(),
        "every script has the nonce: {html}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.get("strict-transport-security").is_none(), "http: no HSTS");
    let (_, second, _) = page().await;
    assert_ne!(second, csp, "a new nonce per response");

    // Responses that are not Leptos pages allow no script at all.
    for path in ["/healthz", "/auth/dev?next=/w/demo", "/admin/w/demo/leads.csv"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        let csp = response.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn https_sites_send_hsts() {
    let server = start(false).await; // PUBLIC_URL=https://keys.example.org
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
}

#[tokio::test]
async fn claims_per_person_and_requests_per_address_are_rate_limited() {
    let limits = [("RATE_LIMIT_CLAIMS_PER_MINUTE", "2"), ("RATE_LIMIT_REQUESTS_PER_MINUTE", "8")];
    let server = support::app_server::start_with(true, &limits).await;
    let cookie = sign_in(&server, "ada@example.org").await; // 1 request of the address's 8
    assert_eq!(claim(&server, Some(&cookie)).await.status(), StatusCode::OK);
    assert_eq!(claim(&server, Some(&cookie)).await.status(), StatusCode::OK, "a repeat shows the same key");
    let third = claim(&server, Some(&cookie)).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.text().await.unwrap(), "\"TooManyAttempts\"");

    // 4 of the address's 8 are used; 4 more sign-in attempts pass, the next is refused.
    let attempt = || client().post(server.url("/auth/dev")).form(&[("email", "x@example.org"), ("name", "X")]).send();
    for _ in 0..4 {
        assert_ne!(attempt().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let refused = attempt().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "60");
    // Page views are not limited.
    assert_eq!(client().get(server.url("/w/demo")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit() {
    let settings = [("RATE_LIMIT_REQUESTS_PER_MINUTE", "2"), ("TRUST_PROXY", "127.0.0.1")];
    let server = support::app_server::start_with(true, &settings).await;
    let from = |address: &'static str| {
        // A client may send its own X-Forwarded-For; the proxy appends the real address last.
        client().get(server.url("/auth/dev")).header("x-forwarded-for", format!("6.6.6.6, {address}")).send()
    };
    assert_eq!(from("203.0.113.1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(from("203.0.113.1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(from("203.0.113.1").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(from("203.0.113.2").await.unwrap().status(), StatusCode::OK, "another attendee's network");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_anything_reads_them() {
    let server = start(true).await;
    let cookie = sign_in(&server, "ada@example.org").await;
    let huge = "x".repeat(server::MAX_REQUEST_BODY + 1);
    for path in [ClaimKey::PATH, "/auth/dev"] {
        let response = client()
            .post(server.url(path))
            .header("cookie", &cookie)
            .header(ACCEPT, "application/json")
            .form(&[("slug", huge.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    // Nothing was claimed: the next (normal) claim is the first.
    assert_eq!(claim(&server, Some(&cookie)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn browsers_get_an_icon_and_crawlers_are_asked_to_stay_out() {
    let server = start(false).await;
    let icon = client().get(server.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/x-icon");
    assert_eq!(icon.headers()["cache-control"], "public, max-age=86400");
    let bytes = icon.bytes().await.unwrap();
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO file");
    let svg = client().get(server.url("/favicon.svg")).send().await.unwrap();
    assert_eq!((svg.status(), svg.headers()["content-type"].to_str().unwrap()), (StatusCode::OK, "image/svg+xml"));
    let robots = client().get(server.url("/robots.txt")).send().await.unwrap().text().await.unwrap();
    assert_eq!(robots, "User-agent: *\nDisallow: /\n");
}
