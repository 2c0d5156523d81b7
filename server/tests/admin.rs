//! The admin side over real HTTP: who gets a 404 (every page, every server function, every
//! export), what an organiser sees, and the CSV exports as a browser downloads them.

mod support;

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::StatusCode;

use app::admin::{
    AdminPoll, AdminWorkshop, DisableKey, LoadAdminOverview, LoadAdminWorkshop, MintForSomeone, PauseAllClaims,
    PauseClaims, PollAdminWorkshop, RetryBinding, RotateKey, SyncNow,
};
use app::claim::ClaimKey;
use support::app_server::{client, sign_in_as, start_with, TestServer};

const ADMIN: &str = "root@example.org";
const ORGANISER: &str = "organiser@example.com"; // in workshops/demo/demo-small.yaml

async fn start() -> TestServer {
    start_with(true, &[("ADMIN_EMAILS", ADMIN)]).await
}

async fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = client().get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn call(server: &TestServer, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = client().post(server.url(path)).header(ACCEPT, "application/json").form(form);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Every admin server function with arguments that would work for an admin.
fn admin_functions(victim: &str) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let slug = ("slug", "demo".to_string());
    let row = || vec![slug.clone(), ("user_id", victim.to_string())];
    vec![
        (LoadAdminOverview::PATH, vec![]),
        (LoadAdminWorkshop::PATH, vec![slug.clone()]),
        (PollAdminWorkshop::PATH, vec![slug.clone()]),
        (RetryBinding::PATH, row()),
        (DisableKey::PATH, row()),
        (RotateKey::PATH, row()),
        (PauseClaims::PATH, vec![slug.clone(), ("paused", "true".into())]),
        (PauseAllClaims::PATH, vec![("paused", "true".into())]),
        (MintForSomeone::PATH, vec![slug.clone(), ("email", "mallory@example.org".into()), ("name", "M".into())]),
        (SyncNow::PATH, vec![slug]),
    ]
}

async fn admin_view(server: &TestServer, cookie: &str) -> AdminWorkshop {
    let (status, body) = call(server, LoadAdminWorkshop::PATH, &[("slug", "demo")], Some(cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn everyone_but_admins_gets_404_from_every_admin_page_and_function_and_changes_nothing() {
    let server = start().await;
    let eve = sign_in_as(&server, "eve@example.org", "Eve").await;
    let (status, _) = call(&server, ClaimKey::PATH, &[("slug", "demo")], Some(&eve)).await;
    assert_eq!(status, StatusCode::OK, "eve has a key, so every row action has a target");
    let victim = "dev|eve@example.org";
    let forged = "minter_session=eyJhbGciOiJIUzI1NiJ9.e30.bad";

    for cookie in [None, Some(eve.as_str()), Some(forged)] {
        for path in ["/admin", "/admin/w/demo", "/admin/w/demo-small", "/admin/w/nope"] {
            let (status, body) = get(&server, path, cookie).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} as {cookie:?}");
            assert!(
                body.contains("Not found") && !body.contains("admin-table") && !body.contains("Claimed / max"),
                "{path}: no data"
            );
        }
        for path in ["/admin/w/demo/attendance.csv", "/admin/w/demo/leads.csv", "/admin/w/nope/leads.csv"] {
            let (status, body) = get(&server, path, cookie).await;
            assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "Not found"), "{path} as {cookie:?}");
        }
        for (path, form) in admin_functions(victim) {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = call(&server, path, &form, cookie).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} as {cookie:?}: {body}");
            assert_eq!(body, "\"NotFound\"", "{path}: an error and no data");
        }
    }

    // Nothing happened: the admin sees eve's key enabled and bound, claims open, no extra row.
    let root = sign_in_as(&server, ADMIN, "Root").await;
    let view = admin_view(&server, &root).await;
    assert_eq!(view.summary.paused_by, None);
    assert_eq!(view.rows.len(), 1);
    assert!(view.rows[0].bound && !view.rows[0].disabled);
    assert_eq!(view.rows[0].email, "eve@example.org");
    let (status, _) = get(&server, "/admin", Some(&root)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_organiser_sees_only_their_workshop() {
    let server = start().await;
    let organiser = sign_in_as(&server, ORGANISER, "Olga").await;
    let (status, overview) = get(&server, "/admin", Some(&organiser)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(overview.contains("overview-demo-small"), "their workshop is listed");
    assert!(!overview.contains("overview-demo\""), "no other workshop is");
    assert_eq!(get(&server, "/admin/w/demo-small", Some(&organiser)).await.0, StatusCode::OK);
    assert_eq!(get(&server, "/admin/w/demo", Some(&organiser)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&server, "/admin/w/demo/leads.csv", Some(&organiser)).await.0, StatusCode::NOT_FOUND);
    let (status, body) = call(&server, LoadAdminWorkshop::PATH, &[("slug", "demo")], Some(&organiser)).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "\"NotFound\""));
    let (status, _) =
        call(&server, PauseClaims::PATH, &[("slug", "demo-small"), ("paused", "true")], Some(&organiser)).await;
    assert_eq!(status, StatusCode::OK, "and may run it");

    // The admin sees every workshop.
    let root = sign_in_as(&server, ADMIN, "Root").await;
    let (_, overview) = get(&server, "/admin", Some(&root)).await;
    assert!(overview.contains("overview-demo\"") && overview.contains("overview-demo-small"));
}

#[tokio::test]
async fn csv_exports_download_escaped_rows_and_only_opted_in_leads() {
    let server = start().await;
    let hostile = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let mallory = sign_in_as(&server, "mallory@example.org", hostile).await;
    let (status, _) =
        call(&server, ClaimKey::PATH, &[("slug", "demo"), ("marketing_consent", "on")], Some(&mallory)).await;
    assert_eq!(status, StatusCode::OK);
    let quiet = sign_in_as(&server, "quiet@example.org", "Quiet, \"Q\"").await;
    assert_eq!(call(&server, ClaimKey::PATH, &[("slug", "demo")], Some(&quiet)).await.0, StatusCode::OK);

    let root = sign_in_as(&server, ADMIN, "Root").await;
    let response =
        client().get(server.url("/admin/w/demo/attendance.csv")).header("cookie", &root).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(response.headers()[CONTENT_DISPOSITION], "attachment; filename=\"demo-attendance.csv\"");
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store, private");
    let attendance = response.text().await.unwrap();
    let lines: Vec<&str> = attendance.lines().collect();
    assert_eq!(lines.len(), 3, "{attendance}");
    assert!(lines[0].starts_with("name,email,provider,claimed_at,status,usage_usd,limit_usd"));
    assert!(lines[1].starts_with("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",mallory@example.org,dev,"));
    assert!(lines[2].starts_with("\"Quiet, \"\"Q\"\"\",quiet@example.org,dev,"), "{}", lines[2]);
    assert!(!attendance.contains("sk-or-v1-"), "keys are never exported");

    let (status, leads) = get(&server, "/admin/w/demo/leads.csv", Some(&root)).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = leads.lines().collect();
    assert_eq!(lines[0], "email,name,opted_in_at,workshop");
    assert_eq!(lines.len(), 2, "only the attendee who ticked consent: {leads}");
    assert!(lines[1].starts_with("mallory@example.org,\"'=HYPERLINK("), "{}", lines[1]);
    assert!(lines[1].ends_with(",demo"), "{}", lines[1]);
}

/// Admin actions that cannot be done now answer with a status that says why, and change nothing:
/// 503 while OpenRouter is busy, 502 when it refuses, 409 while the key is still being created.
#[tokio::test]
async fn admin_refusals_answer_with_their_status_and_change_nothing() {
    let (server, state) = support::app_server::start_with_state(true, &[("ADMIN_EMAILS", ADMIN)]).await;
    let simulator = state.simulator.as_ref().unwrap();
    let root = sign_in_as(&server, ADMIN, "Root").await;
    let eve = sign_in_as(&server, "eve@example.org", "Eve").await;
    let (status, _) = call(&server, ClaimKey::PATH, &[("slug", "demo")], Some(&eve)).await;
    assert_eq!(status, StatusCode::OK);
    let disable = |user_id: &'static str| [("slug", "demo"), ("user_id", user_id)];

    simulator.fail_next("PATCH ^/keys/", 503, 10);
    let (status, body) = call(&server, DisableKey::PATH, &disable("dev|eve@example.org"), Some(&root)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("OpenRouter is busy; disabling the key did not happen"), "{body}");
    simulator.clear_faults();

    simulator.fail_next("PATCH ^/keys/", 400, 1);
    let (status, body) = call(&server, DisableKey::PATH, &disable("dev|eve@example.org"), Some(&root)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("OpenRouter refused: disabling the key did not happen"), "{body}");

    // Ann's claim holds a slot while OpenRouter creates her key.
    sign_in_as(&server, "ann@example.org", "Ann").await;
    let reservation = app::store::NewReservation {
        user_id: "dev|ann@example.org".into(),
        workshop_slug: "demo".into(),
        key_label: "demo-annreserved".into(),
        limit_usd: 2.into(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(3),
        now: chrono::Utc::now(),
    };
    state.store.reserve_claim(&reservation, 300, chrono::Duration::minutes(2)).await.unwrap();
    for path in [DisableKey::PATH, RotateKey::PATH, RetryBinding::PATH] {
        let (status, body) = call(&server, path, &disable("dev|ann@example.org"), Some(&root)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert!(body.contains("This attendee's key is still being created."), "{path}: {body}");
    }

    let view = admin_view(&server, &root).await;
    let eve_row = view.rows.iter().find(|r| r.email == "eve@example.org").unwrap();
    assert!(eve_row.bound && !eve_row.disabled, "eve's key is untouched");
    assert!(simulator.keys().iter().all(|k| !k.info.disabled));
    assert_eq!(simulator.key_count(), 1, "no key for ann was made by an admin action");
}

#[tokio::test]
async fn the_admin_poll_sends_rows_only_when_they_changed() {
    let server = start().await;
    let root = sign_in_as(&server, ADMIN, "Root").await;
    let poll = |since: Option<String>| {
        let (server, root) = (&server, root.clone());
        async move {
            let mut form = vec![("slug", "demo".to_string())];
            if let Some(since) = since {
                form.push(("since", since));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = call(server, PollAdminWorkshop::PATH, &form, Some(&root)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            (serde_json::from_str::<AdminPoll>(&body).unwrap(), body.len())
        }
    };
    let (first, _) = poll(None).await;
    let AdminPoll::Changed { version, data } = first else { panic!("the first poll has the rows") };
    assert!(data.rows.is_empty());
    let (again, bytes) = poll(Some(version.clone())).await;
    assert_eq!(again, AdminPoll::Unchanged);
    assert!(bytes < 20, "an unchanged poll is a few bytes: {bytes}");
    // A claim changes the rows: the next poll sends them.
    let ada = sign_in_as(&server, "ada@example.org", "Ada").await;
    assert_eq!(call(&server, ClaimKey::PATH, &[("slug", "demo")], Some(&ada)).await.0, StatusCode::OK);
    let (changed, _) = poll(Some(version.clone())).await;
    let AdminPoll::Changed { version: newer, data } = changed else { panic!("a claim is a change") };
    assert_ne!(newer, version);
    assert_eq!(data.rows.len(), 1);
    assert_eq!(data.rows[0].email, "ada@example.org");
    // Compact on the wire: one-letter field names, times in seconds.
    let (_, body) = call(&server, PollAdminWorkshop::PATH, &[("slug", "demo")], Some(&root)).await;
    assert!(body.contains("\"e\":\"ada@example.org\"") && !body.contains("\"email\""), "{body}");
}
