//! Hostile input at sign-in: forged, tampered, foreign and signed-out session cookies, open
//! redirects through `next`, and on a production configuration the demo-only routes and forged
//! login cookies. The machinery is `support::hostile`.

mod support;

use std::time::Duration;

use leptos::server_fn::ServerFn;
use serde_json::{json, Value};

use app::admin::LoadAdminOverview;
use app::claim::ClaimKey;
use app::site::LoadSiteInfo;
use support::app_server::PRODUCTION_SECRET;
use support::hostile::*;

#[tokio::test]
async fn hostile_sign_in_is_refused_with_a_clear_status_and_writes_nothing() {
    let mut report = Report::default();
    let (world, people, start) = demo_world().await;
    let mut cases = Vec::new();
    session_cookie_cases(&mut cases, &people.eve, &people.login_token, SECRET);
    open_redirect_cases(&mut cases);
    world.run(cases, &mut report).await;
    finish_demo(&world, &people, &start, &mut report).await;
    // One test server at a time (`support::one_server_at_a_time`): the demo site goes first.
    drop(world);
    production_site(&mut report).await;
    report.finish();
}

/// Forged, tampered, expired and foreign sessions, each claiming to be the admin, against a
/// claim (which would mint), the admin overview and the attendance export (which would leak).
fn session_cookie_cases(cases: &mut Vec<Case>, eve: &str, login_token: &str, secret: &str) {
    let admin = session_claims(ADMIN, Deployment::Demo);
    let eve_token = eve.strip_prefix("minter_session=").unwrap();
    let (eve_head, eve_signature) = (eve_token.split('.').next().unwrap(), eve_token.rsplit('.').next().unwrap());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = admin.clone();
        change(&mut claims);
        claims
    };
    let tokens: Vec<(&str, Vec<u8>)> = vec![
        ("not a JWT", b"not-a-jwt".to_vec()),
        ("empty", Vec::new()),
        (
            "eve's token with the admin's claims",
            format!("{eve_head}.{}.{eve_signature}", b64(admin.to_string().as_bytes())).into_bytes(),
        ),
        (
            "signed with another secret",
            jwt(hs256(), &admin, Sign::Hs256("another-secret-of-32-bytes-or-more!!")).into(),
        ),
        (
            "expired a minute ago",
            jwt(hs256(), &with(&|c: &mut Value| c["exp"] = json!(now() - 60)), Sign::Hs256(secret)).into_bytes(),
        ),
        ("alg none", jwt(json!({"alg": "none", "typ": "JWT"}), &admin, Sign::None).into_bytes()),
        ("HS512 with the right secret", jwt(json!({"alg": "HS512", "typ": "JWT"}), &admin, Sign::Hs512(secret)).into()),
        (
            "audience minter-login",
            jwt(hs256(), &with(&|c: &mut Value| c["aud"] = json!("minter-login")), Sign::Hs256(secret)).into_bytes(),
        ),
        (
            "no expiry",
            jwt(hs256(), &with(&|c: &mut Value| drop(c.as_object_mut().unwrap().remove("exp"))), Sign::Hs256(secret))
                .into_bytes(),
        ),
        ("signature stripped", {
            let token = jwt(hs256(), &admin, Sign::Hs256(secret));
            format!("{}.", &token[..token.rfind('.').unwrap()]).into_bytes()
        }),
        ("bytes that are not UTF-8", b"\xff\xfe\xfd".to_vec()),
        ("this server's own login cookie", login_token.as_bytes().to_vec()),
        (
            "issued by another deployment with the same secret",
            jwt(hs256(), &with(&|c: &mut Value| c["iss"] = json!("https://staging.example.org")), Sign::Hs256(secret))
                .into_bytes(),
        ),
        (
            "without a session id",
            jwt(hs256(), &with(&|c: &mut Value| drop(c.as_object_mut().unwrap().remove("jti"))), Sign::Hs256(secret))
                .into_bytes(),
        ),
    ];
    for (label, token) in tokens {
        let cookie = [b"minter_session=".as_slice(), &token].concat();
        cases.push(case(
            "session cookie",
            format!("{label}: claim"),
            call(ClaimKey::PATH, &[("slug", "demo")]).header("cookie", &cookie),
            expect(401).says("\"NotSignedIn\""),
        ));
        cases.push(case(
            "session cookie",
            format!("{label}: admin overview"),
            call(LoadAdminOverview::PATH, &[]).header("cookie", &cookie),
            expect(404).says("\"NotFound\""),
        ));
        cases.push(case(
            "session cookie",
            format!("{label}: attendance export"),
            get("/admin/w/demo/attendance.csv").header("cookie", &cookie),
            expect(404).says("Not found").never("eve@example.org"),
        ));
    }
}

fn open_redirect_cases(cases: &mut Vec<Case>) {
    for (label, wire) in FOREIGN_NEXT {
        cases.push(case(
            "next open redirect",
            format!("demo sign-in POST, next={label}"),
            post_bytes("/auth/dev", format!("email=eve%40example.org&name=Eve&next={wire}").into_bytes()),
            expect(303).location("/").sets("minter_session").writes(Writes::LastSeen),
        ));
        cases.push(case(
            "next open redirect",
            format!("GitHub login, next={label}"),
            get(format!("/auth/login/github?next={wire}")),
            expect(303).sets("minter_login").check(login_returns_home),
        ));
        cases.push(case(
            "next open redirect",
            format!("demo sign-in form, next={label}"),
            get(format!("/auth/dev?next={wire}")),
            expect(200).says(r#"name="next" value="/""#).never("evil.example"),
        ));
    }
    cases.push(case(
        "next open redirect",
        "unknown provider's refusal page, next=//evil.example",
        get("/auth/login/nope?next=%2F%2Fevil.example"),
        expect(404).says("Sign-in failed").says(r#"<a href="/">Back</a>"#).never("evil.example"),
    ));
}

async fn production_site(report: &mut Report) {
    let world = World::start(false, &[]).await;
    assert!(world.https, "PUBLIC_URL=https://keys.example.org");
    let someone = valid_session("someone@example.org", PRODUCTION_SECRET, Deployment::Production);
    let accepted = world.send(&call(LoadSiteInfo::PATH, &[]).cookie(Some(&someone))).await;
    assert!(accepted.text().contains("someone@example.org"), "calibration: {}", accepted.text());
    let start = world.snapshot(Writes::Nothing).await;

    let category = "production mode";
    let huge = "z".repeat(server::MAX_REQUEST_BODY + 1);
    let mut cases = vec![
        case("production mode", "GET /auth/dev (demo only)", get("/auth/dev?next=/"), expect(404).says("Not found")),
        case(
            category,
            "POST /auth/dev (demo only)",
            post("/auth/dev", &[("email", "mallory@example.org"), ("name", "M")]),
            expect(404).says("Not found"),
        ),
        case(
            category,
            "POST /demo/key-fault (demo only)",
            post("/demo/key-fault", &[("slug", "demo"), ("fault", "revoked")]).cookie(Some(&someone)),
            expect(404).says("Not found"),
        ),
        case(category, "GET /w/demo-upcoming (demo only)", get("/w/demo-upcoming"), expect(404).says("Not found")),
        case(
            category,
            "claim demo-closed (demo only)",
            call(ClaimKey::PATH, &[("slug", "demo-closed")]).cookie(Some(&someone)),
            expect(404).says("\"UnknownWorkshop\""),
        ),
        case(
            category,
            "oversized claim on https",
            post(ClaimKey::PATH, &[("slug", huge.as_str())]).cookie(Some(&someone)),
            expect(413).says("length limit exceeded"),
        ),
    ];
    // Only PUBLIC_URL's origin is this site: not a host that starts like it, not plain http.
    for origin in ["https://keys.example.org.evil.example", "http://keys.example.org"] {
        cases.push(case(
            category,
            format!("cross-site claim, Origin {origin}"),
            call(ClaimKey::PATH, &[("slug", "demo")]).cookie(Some(&someone)).header("origin", origin),
            expect(403).says("Cross-site request refused."),
        ));
    }
    for (label, wire) in &FOREIGN_NEXT[..4] {
        cases.push(case(
            category,
            format!("GitHub login, next={label}"),
            get(format!("/auth/login/github?next={wire}")),
            expect(303).sets("__Host-minter_login").check(login_returns_home),
        ));
    }
    // A login cookie forged with the right secret whose `next` leaves the site: the callback
    // reduces it to a path again (the refusal page's Back link), and burns nothing.
    let login = json!({
        "jti": "hostile-jti", "provider": "github", "state": "s1", "pkce_verifier": "v", "nonce": "",
        "next": "//evil.example", "aud": "minter-login", "exp": now() + 600,
    });
    let login_cookie = format!("__Host-minter_login={}", jwt(hs256(), &login, Sign::Hs256(PRODUCTION_SECRET)));
    cases.push(case(
        category,
        "callback with a forged login cookie whose next is //evil.example",
        get("/auth/callback/github?state=s1&error=access_denied").cookie(Some(&login_cookie)),
        expect(403)
            .says("Sign-in failed")
            .says(r#"<a href="/">Back</a>"#)
            .never("evil.example")
            .sets("__Host-minter_login"),
    ));
    cases.push(case(
        category,
        "callback with a login cookie signed with another secret",
        get("/auth/callback/github?state=s1&code=c1").cookie(Some(&format!(
            "__Host-minter_login={}",
            jwt(hs256(), &login, Sign::Hs256("another-secret-of-32-bytes-or-more!!"))
        ))),
        expect(400).says("Sign-in failed").never("evil.example").sets("__Host-minter_login"),
    ));
    world.run(cases, report).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    report.invariant("the production site after all its cases", start.diff(&world.snapshot(Writes::Nothing).await));
}
