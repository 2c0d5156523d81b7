//! Hostile input against the boundary: cross-site POSTs to every server function and route,
//! oversized bodies, and the per-person and per-address limits behind a trusted proxy. The
//! machinery is `support::hostile`.

mod support;

use std::time::Duration;

use leptos::server_fn::ServerFn;

use app::admin::{
    DisableKey, LoadAdminOverview, LoadAdminWorkshop, MintForSomeone, PauseAllClaims, PauseClaims, RetryBinding,
    RotateKey, SyncNow,
};
use app::claim::{CheckMyKey, ClaimKey, LoadWorkshopPage, WithdrawConsent};
use app::site::{ListWorkshops, LoadSiteInfo};
use support::hostile::*;
use support::raw_http::{Body, RawRequest};

#[tokio::test]
async fn hostile_requests_meet_the_headers_and_limits_and_write_nothing() {
    let mut report = Report::default();
    let (world, people, start) = demo_world().await;
    let mut cases = Vec::new();
    cross_site_cases(&mut cases, &people.root, &people.eve);
    oversized_cases(&mut cases, &people.eve, &people.root);
    world.run(cases, &mut report).await;
    finish_demo(&world, &people, &start, &mut report).await;
    // One test server at a time (`support::one_server_at_a_time`): the demo site goes first.
    drop(world);
    rate_limited_site(&mut report).await;
    report.finish();
}

/// A form POST: the path, its fields, and the session cookie it is sent with.
type Post<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// Every server function and every other POST route, called from another site with a valid
/// session (the admin's, or eve's for her own key) and arguments that would work.
fn cross_site_cases(cases: &mut Vec<Case>, root: &str, eve: &str) {
    let mut functions: Vec<&'static str> = leptos::server_fn::axum::server_fn_paths()
        .filter(|(_, method)| *method == axum::http::Method::POST)
        .map(|(path, _)| path)
        .collect();
    functions.sort();
    let known = [
        ClaimKey::PATH,
        CheckMyKey::PATH,
        LoadWorkshopPage::PATH,
        LoadSiteInfo::PATH,
        ListWorkshops::PATH,
        LoadAdminOverview::PATH,
        LoadAdminWorkshop::PATH,
        RetryBinding::PATH,
        DisableKey::PATH,
        RotateKey::PATH,
        PauseClaims::PATH,
        PauseAllClaims::PATH,
        MintForSomeone::PATH,
        SyncNow::PATH,
        WithdrawConsent::PATH,
    ];
    for path in known {
        assert!(functions.contains(&path), "{path} is registered");
    }
    assert!(functions.len() >= 14, "every #[server] fn, the projector's too: {functions:?}");
    let arguments = [
        ("slug", "demo"),
        ("user_id", EVE_ID),
        ("paused", "true"),
        ("email", "mallory@example.org"),
        ("name", "Mallory"),
        ("marketing_consent", "on"),
    ];
    let refused = || expect(403).says("Cross-site request refused.");
    for path in functions {
        cases.push(case(
            "cross-site POST",
            format!("{path} (Sec-Fetch-Site: cross-site)"),
            call(path, &arguments).cookie(Some(root)).header("sec-fetch-site", "cross-site"),
            refused(),
        ));
    }
    let routes: [Post; 3] = [
        ("/auth/dev", &[("email", "mallory@example.org"), ("name", "Mallory"), ("next", "/")], root),
        ("/auth/logout", &[], root),
        ("/demo/key-fault", &[("slug", "demo"), ("fault", "revoked")], eve),
    ];
    for (path, form, cookie) in routes {
        cases.push(case(
            "cross-site POST",
            format!("{path} (Sec-Fetch-Site: cross-site)"),
            post(path, form).cookie(Some(cookie)).header("sec-fetch-site", "cross-site"),
            refused(),
        ));
    }
    let variants: [(&str, &[(&str, &str)]); 5] = [
        ("Origin of another site", &[("origin", "https://evil.example")]),
        ("Origin null (sandboxed frame, data: URL)", &[("origin", "null")]),
        ("Sec-Fetch-Site: same-site (a sibling host)", &[("sec-fetch-site", "same-site")]),
        ("Origin whose host only starts like ours", &[("origin", "http://127.0.0.1.evil.example")]),
        (
            "our public origin, but labelled cross-site",
            &[("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "cross-site")],
        ),
    ];
    for (label, headers) in variants {
        let request =
            headers.iter().fold(call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(root)), |r, (name, value)| {
                r.header(name, value)
            });
        cases.push(case("cross-site POST", format!("claim: {label}"), request, refused()));
    }
}

/// What is sent too large: a label, the path, the form's fields and the session cookie.
type Oversized<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str);

fn oversized_cases(cases: &mut Vec<Case>, eve: &str, root: &str) {
    let huge = "x".repeat(server::MAX_REQUEST_BODY + 1);
    let too_large = || expect(413).says("length limit exceeded");
    let bodies: [Oversized; 5] = [
        ("claim", ClaimKey::PATH, vec![("slug", huge.as_str())], eve),
        ("demo sign-in", "/auth/dev", vec![("email", "big@example.org"), ("name", huge.as_str())], eve),
        (
            "admin mint for someone",
            MintForSomeone::PATH,
            vec![("slug", "demo"), ("email", "big@example.org"), ("name", huge.as_str())],
            root,
        ),
        ("demo key fault", "/demo/key-fault", vec![("slug", "demo"), ("fault", huge.as_str())], eve),
        ("sign out", "/auth/logout", vec![("x", huge.as_str())], eve),
    ];
    for (label, path, pairs, cookie) in bodies {
        cases.push(case(
            "oversized body",
            format!("{label}: 64 KiB + 1 with Content-Length"),
            post(path, &pairs).cookie(Some(cookie)).header("accept", "application/json"),
            too_large(),
        ));
    }
    let chunked = |path: &str, pairs: &[(&str, &str)]| {
        RawRequest::new("POST", path).body(Body::Chunked { content_type: FORM, bytes: form(pairs) })
    };
    let big = "y".repeat(256 * 1024);
    cases.push(case(
        "oversized body",
        "claim: 256 KiB chunked, no length up front",
        chunked(ClaimKey::PATH, &[("slug", "demo"), ("pad", big.as_str())])
            .cookie(Some(eve))
            .header("accept", "application/json"),
        too_large(),
    ));
    cases.push(case(
        "oversized body",
        "demo sign-in: 256 KiB chunked",
        chunked("/auth/dev", &[("email", "chunky@example.org"), ("name", "C"), ("pad", big.as_str())]),
        too_large(),
    ));
    cases.push(case(
        "oversized body",
        "claim: Content-Length of 10 GB, few bytes sent",
        RawRequest::new("POST", ClaimKey::PATH)
            .body(Body::Lying { content_type: FORM, declared: 10_000_000_000, bytes: b"slug=demo".to_vec() })
            .cookie(Some(eve)),
        too_large(),
    ));
}

async fn rate_limited_site(report: &mut Report) {
    let limits = [
        ("RATE_LIMIT_CLAIMS_PER_MINUTE", "2"),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "5"),
        ("RATE_LIMIT_PAGES_PER_MINUTE", "10"),
        ("TRUST_PROXY", "127.0.0.1"),
        ("SESSION_SECRET", SECRET),
    ];
    let world = World::start(true, &limits).await;
    let rita = sign_in(&world, "rita@example.org", "Rita").await;
    let sam = sign_in(&world, "sam@example.org", "Sam").await;
    let start = world.snapshot(Writes::Nothing).await;

    let category = "rate limit";
    let claim = |cookie: &str, from: &str| call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(cookie)).from(from);
    let too_many_claims = || expect(429).says("\"TooManyAttempts\"");
    let too_many_requests = || expect(429).says("Too many requests from your network").check(retry_after_a_minute);
    let cases = vec![
        Case {
            prep: Prep::ExhaustClaims { cookie: rita.clone(), from: "203.0.113.10" },
            ..case(
                category,
                "per person: claim after using up the claims, from another address",
                claim(&rita, "203.0.113.11"),
                too_many_claims(),
            )
        },
        Case {
            prep: Prep::ExhaustClaims { cookie: rita.clone(), from: "203.0.113.12" },
            ..case(
                category,
                "per person: a fresh session does not reset it",
                claim(&valid_session("rita@example.org", SECRET, Deployment::Demo), "203.0.113.13"),
                too_many_claims(),
            )
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(category, "per address: claim", claim(&sam, "203.0.113.20"), too_many_requests())
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(
                category,
                "per address: demo sign-in of someone new",
                post("/auth/dev", &[("email", "newbie@example.org"), ("name", "New")]).from("203.0.113.20"),
                too_many_requests(),
            )
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(
                category,
                "per address: a spoofed X-Forwarded-For entry before the proxy's",
                claim(&sam, "198.51.100.7, 203.0.113.20"),
                too_many_requests(),
            )
        },
        Case {
            prep: Prep::ExhaustPages("203.0.113.30"),
            ..case(
                category,
                "per address: a page view",
                get("/w/demo").from("203.0.113.30"),
                expect(429).says("Too many requests from your network").check(retry_after_a_minute),
            )
        },
        Case {
            prep: Prep::ExhaustPages("203.0.113.30"),
            ..case(
                category,
                "per address: a page view with a spoofed X-Forwarded-For entry before the proxy's",
                get("/w/demo").from("198.51.100.8, 203.0.113.30"),
                expect(429).says("Too many requests from your network"),
            )
        },
        Case {
            prep: Prep::ExhaustPages("203.0.113.30"),
            ..case(
                category,
                "per address: a page view over two X-Forwarded-For lines",
                get("/w/demo").from("198.51.100.9").from("203.0.113.30"),
                expect(429).says("Too many requests from your network"),
            )
        },
        Case {
            prep: Prep::ExhaustAddress("203.0.113.20"),
            ..case(
                category,
                "per address: any server function",
                call(LoadSiteInfo::PATH, &[]).from("203.0.113.20"),
                too_many_requests(),
            )
        },
    ];
    world.run(cases, report).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    report.invariant("the rate-limited site after all its cases", start.diff(&world.snapshot(Writes::Nothing).await));
    // The limits are per person and per address: someone else, elsewhere, still claims.
    let other = world.send(&claim(&sam, "203.0.113.99")).await;
    assert_eq!(other.status, 200, "{}", other.text());
}
