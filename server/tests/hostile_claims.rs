//! Hostile input around claims: unknown and odd slugs, the claim window, consent withdrawal,
//! text a page must not repeat from its address, request ids, and key tests. The machinery is
//! `support::hostile`.

mod support;

use leptos::server_fn::ServerFn;

use app::admin::{MintForSomeone, PauseClaims};
use app::claim::{CheckMyKey, ClaimKey, WithdrawConsent};
use support::hostile::*;

#[tokio::test]
async fn hostile_claims_are_refused_with_a_clear_status_and_write_nothing() {
    let mut report = Report::default();
    let (world, people, start) = demo_world().await;
    let mut cases = Vec::new();
    event_cases(&mut cases, &people.eve, &people.wendy, &people.signed_out, &people.tess);
    unknown_slug_cases(&mut cases, &people.eve, &people.root);
    window_cases(&mut cases, &people.wendy, &people.root);
    world.run(cases, &mut report).await;
    finish_demo(&world, &people, &start, &mut report).await;
    report.finish();
}

/// Issue #14 on the demo site: signed-out sessions, consent withdrawal, text from the URL, our
/// request ids, key tests.
fn event_cases(cases: &mut Vec<Case>, eve: &str, wendy: &str, signed_out: &str, tess: &str) {
    let category = "event safety";
    cases.push(case(
        category,
        "a signed-out session claims",
        call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(signed_out)),
        expect(401).says("\"NotSignedIn\""),
    ));
    cases.push(case(
        category,
        "a signed-out session reads the page",
        get("/w/demo").cookie(Some(signed_out)),
        expect(200).says("Get your key").never("gone@example.org"),
    ));
    cases.push(case(
        category,
        "a signed-out session withdraws consent",
        call(WithdrawConsent::PATH, &[("slug", "demo")]).cookie(Some(signed_out)),
        expect(401).says("\"NotSignedIn\""),
    ));
    cases.push(case(
        category,
        "withdraw consent signed out",
        call(WithdrawConsent::PATH, &[("slug", "demo")]),
        expect(401).says("\"NotSignedIn\""),
    ));
    for slug in ["no-such-workshop", "../demo", "*"] {
        cases.push(case(
            category,
            format!("withdraw consent in {slug:?}"),
            call(WithdrawConsent::PATH, &[("slug", slug)]).cookie(Some(eve)),
            expect(404).says("\"UnknownWorkshop\""),
        ));
    }
    cases.push(case(
        category,
        "withdraw consent without a slug",
        call(WithdrawConsent::PATH, &[]).cookie(Some(eve)),
        expect(400).says("Request"),
    ));
    for (label, query) in [
        ("a phone number as the other sign-in", "error=other-sign-in&via=Call%20555-0100%20now"),
        ("markup as the other sign-in", "error=other-sign-in&via=%3Cb%3E555-0100%3C%2Fb%3E"),
        ("a phone number as the reference", "error=error&ref=555-0100%20call"),
        ("a reference of the right length", "error=error&ref=555-0100-abc"),
    ] {
        cases.push(case(
            category,
            format!("the page repeats {label}"),
            get(format!("/w/demo?{query}")).cookie(Some(wendy)),
            expect(200).says("data-testid=\"claim-error\"").never("555-0100"),
        ));
    }
    cases.push(case(
        category,
        "a request id chosen by the client",
        get("/healthz").header("x-request-id", "<script>alert(1)</script>"),
        expect(200).says("ok").check(|response| match response.header("x-request-id") {
            Some(id) if app::request_id::is_valid(id) => Ok(()),
            other => Err(format!("X-Request-Id {other:?}")),
        }),
    ));
    cases.push(case(
        category,
        "a second key test within the minute (one a minute on this site)",
        call(CheckMyKey::PATH, &[("slug", "demo")]).cookie(Some(tess)),
        expect(429).says("\"TooManyAttempts\""),
    ));
}

fn unknown_slug_cases(cases: &mut Vec<Case>, eve: &str, root: &str) {
    let not_found_page = || expect(404).says("Not found");
    for path in [
        "/w/no-such-workshop",
        "/w/no-such-workshop/projector",
        "/w/DEMO",
        "/w/demo%00",
        "/w/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/w/..%2F..%2FCargo.toml",
    ] {
        cases.push(case(
            "unknown slug",
            format!("GET {path}"),
            get(path).cookie(Some(eve)),
            never_raw_markup(not_found_page()).never("[package]"),
        ));
    }
    for path in ["/pkg/..%2F..%2F..%2FCargo.toml", "/pkg/%2e%2e/%2e%2e/%2e%2e/Cargo.toml", "/..%2F..%2F.env"] {
        cases.push(case(
            "unknown slug",
            format!("static file traversal {path}"),
            get(path),
            not_found_page().never("[package]").never("[workspace]"),
        ));
    }
    for slug in ["no-such-workshop", "../demo", "DEMO"] {
        cases.push(case(
            "unknown slug",
            format!("claim {slug:?}"),
            call(ClaimKey::PATH, &[("slug", slug)]).cookie(Some(eve)),
            expect(404).says("\"UnknownWorkshop\""),
        ));
    }
    cases.push(case(
        "unknown slug",
        "test my key of no-such-workshop",
        call(CheckMyKey::PATH, &[("slug", "no-such-workshop")]).cookie(Some(eve)),
        expect(404).says("\"UnknownWorkshop\""),
    ));
    cases.push(case(
        "unknown slug",
        "admin: GET /admin/w/no-such-workshop",
        get("/admin/w/no-such-workshop").cookie(Some(root)),
        not_found_page(),
    ));
    cases.push(case(
        "unknown slug",
        "admin: export of no-such-workshop",
        get("/admin/w/no-such-workshop/leads.csv").cookie(Some(root)),
        not_found_page(),
    ));
    cases.push(case(
        "unknown slug",
        "admin: pause no-such-workshop",
        call(PauseClaims::PATH, &[("slug", "no-such-workshop"), ("paused", "true")]).cookie(Some(root)),
        expect(404).says("\"NotFound\""),
    ));
}

/// demo-upcoming opens in 2031, demo-closed closed long ago (workshops/demo/).
fn window_cases(cases: &mut Vec<Case>, wendy: &str, root: &str) {
    let claim = |slug| call(ClaimKey::PATH, &[("slug", slug), ("marketing_consent", "on")]).cookie(Some(wendy));
    cases.push(case("claim window", "claim before it opens", claim("demo-upcoming"), expect(403).says("NotOpenYet")));
    cases.push(case("claim window", "claim after it closed", claim("demo-closed"), expect(403).says("\"Closed\"")));
    for (slug, code) in [("demo-upcoming", "not-open"), ("demo-closed", "closed")] {
        cases.push(case(
            "claim window",
            format!("plain form claim of {slug}"),
            post(ClaimKey::PATH, &[("slug", slug)]).cookie(Some(wendy)).header("accept", "text/html"),
            expect(302).location(format!("/w/{slug}?error={code}")),
        ));
    }
    for (slug, says) in [("demo-upcoming", "Claims open at"), ("demo-closed", "Claims for this workshop are closed.")] {
        cases.push(case(
            "claim window",
            format!("admin mints for someone at {slug}"),
            call(MintForSomeone::PATH, &[("slug", slug), ("email", "late@example.org"), ("name", "Late")])
                .cookie(Some(root)),
            expect(403).says(says),
        ));
    }
}
