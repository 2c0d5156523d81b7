//! A real server process killed (SIGKILL) between "key created at OpenRouter" and "row saved",
//! then restarted on the same database, on SQLite and on Postgres. OpenRouter is the simulator,
//! served by this test process so that it outlives the server and can be inspected.
//!
//! Afterwards, with reconciliation done: every attendee who was shown a key holds it, working;
//! nobody was shown a key they do not hold; no enabled key named like the workshop's is left
//! that no row holds; the pool counter matches the rows.

mod support;

use std::time::Duration;

use chrono::Utc;

use app::background::orphans::{is_key_name_of, GRACE};
use app::claim::mint::STALE_RESERVATION;
use app::claim::MyKey;
use app::store::{ClaimStatus, Store};
use openrouter::Simulator;
use support::process::{claim_at, eventually, Answer, Server};

const MGMT_KEY: &str = "sk-or-v1-crash-test-management-key";
const SLUG: &str = "demo";

/// Settings of every server process here: demo sign-in, the test's simulator as OpenRouter, a
/// fixed session secret (sessions survive the restart, as in production), the background round
/// every second, and rate limits out of the way.
fn settings(base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OPENROUTER_MANAGEMENT_KEY", MGMT_KEY.into()),
        ("OPENROUTER_BASE_URL", base_url.into()),
        ("SESSION_SECRET", "crash-test-session-secret-32-bytes-or-more".into()),
        ("RATE_LIMIT_CLAIMS_PER_MINUTE", "1000".into()),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "100000".into()),
    ]
}

fn as_refs<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

fn user_id(email: &str) -> String {
    format!("dev|{email}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_key_created_and_row_saved_is_reconciled_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/crash.db", dir.path().display());
    let (postgres, _db) = support::fresh_postgres().await;
    for url in [sqlite, postgres] {
        killed_and_reconciled(&url).await;
    }
}

async fn killed_and_reconciled(url: &str) {
    let db = url.split(':').next().unwrap().to_string();
    let spawned = Simulator::new(MGMT_KEY).spawn().await.unwrap();
    let sim = spawned.simulator.clone();
    let settings = settings(&spawned.base_url);
    let mut first = Server::start(url, &as_refs(&settings)).await;

    // Someone claims before the crash: their key must come through all of it untouched.
    let early_cookie = first.sign_in("early@example.org").await;
    let early = first.claim(&early_cookie, SLUG).await.key();

    // Ada's and Bob's keys are created at OpenRouter, but one creation's answer never comes
    // back, and the other key's assignment (made before the save) never answers...
    sim.hang_next_after_apply("POST ^/keys$", 1);
    sim.hang_next_after_apply("/assignments/keys$", 1);
    let ada_cookie = first.sign_in("ada@example.org").await;
    let bob_cookie = first.sign_in("bob@example.org").await;
    let in_flight: Vec<_> = [&ada_cookie, &bob_cookie]
        .into_iter()
        .map(|cookie| {
            let (port, cookie) = (first.port, cookie.clone());
            tokio::spawn(async move { claim_at(port, &cookie, SLUG).await })
        })
        .collect();
    eventually("OpenRouter holds Ada's and Bob's new keys, one being assigned", Duration::from_secs(10), || {
        let sim = sim.clone();
        async move { sim.key_count() == 3 && sim.requests_matching("POST", "/assignments/keys") == 2 }
    })
    .await;
    // ... so the server is between "key created" and "row saved": both rows are reservations
    // without a key, each naming a key that exists.
    let store = app::store::connect(url).await.unwrap();
    let mut orphans = Vec::new();
    for email in ["ada@example.org", "bob@example.org"] {
        let row = store.attendance(&user_id(email), SLUG).await.unwrap().unwrap();
        assert_eq!((row.status, row.or_key_hash.as_deref()), (ClaimStatus::Reserved, None), "{db}: {email}");
        let key = sim.keys().into_iter().find(|k| k.info.name == row.key_label).expect("the created key");
        assert!(!key.info.disabled);
        orphans.push(key.info.hash);
    }
    let (ada_orphan, bob_orphan) = (orphans[0].clone(), orphans[1].clone());

    // A real kill of the real process, mid-request.
    first.kill().await;
    for claim in in_flight {
        match claim.await.unwrap() {
            Answer::ConnectionBroke(_) => {}
            other => panic!("{db}: a killed server told the attendee something: {other:?}"),
        }
    }

    // Time moves on, simulated by ageing the timestamps rather than waiting: both reservations
    // past STALE_RESERVATION (2 min; the row's reserved_at in the database), and Bob's key past
    // the orphan check's GRACE (10 min; its created_at at OpenRouter). Ada's key stays young, so
    // the background leaves it to her own next claim.
    for email in ["ada@example.org", "bob@example.org"] {
        age_reservation(url, &store, &user_id(email), STALE_RESERVATION + chrono::Duration::minutes(1)).await;
    }
    assert!(sim.set_key_created_at(&bob_orphan, Utc::now() - GRACE - chrono::Duration::minutes(1)));

    let mut second = Server::start(url, &as_refs(&settings)).await;

    // (b) Bob never comes back: the background round disables his orphan and gives his slot back.
    eventually("the background disables Bob's orphan and releases his slot", Duration::from_secs(20), || {
        let (sim, store, bob_orphan) = (sim.clone(), store.clone(), bob_orphan.clone());
        async move {
            let disabled = sim.keys().iter().any(|k| k.info.hash == bob_orphan && k.info.disabled);
            disabled && store.attendance(&user_id("bob@example.org"), SLUG).await.unwrap().is_none()
        }
    })
    .await;
    assert_eq!(store.orphans_fixed(SLUG).await.unwrap(), 1, "{db}: recorded for the admins");

    // (a) Ada comes back (reloads, claims again): her stale reservation is taken over, the
    // orphan deleted, and she gets exactly one working key.
    let ada = second.claim(&ada_cookie, SLUG).await.key();
    let keys = sim.keys();
    assert!(!keys.iter().any(|k| k.info.hash == ada_orphan), "{db}: Ada's orphan is deleted");
    let ada_row = store.attendance(&user_id("ada@example.org"), SLUG).await.unwrap().unwrap();
    let ada_keys: Vec<_> = keys.iter().filter(|k| k.info.name == ada_row.key_label).collect();
    assert_eq!(ada_keys.len(), 1, "{db}: one key for Ada");
    assert_eq!(ada_row.or_key_hash.as_deref(), Some(ada_keys[0].info.hash.as_str()), "{db}");
    assert!(ada.bound, "{db}");
    // Early's key went through it all.
    assert_eq!(second.claim(&early_cookie, SLUG).await.key().key, early.key, "{db}");
    for key in [&early, &ada] {
        assert_eq!(chat_status(&spawned.base_url, &key.key).await, 200, "{db}: the key works");
    }

    assert_reconciled(
        &db,
        store.as_ref(),
        &sim,
        &[(user_id("early@example.org"), early), (user_id("ada@example.org"), ada)],
    )
    .await;
    second.kill().await;
}

/// The invariants after reconciliation. `told`: every attendee who was shown a key, and the key.
async fn assert_reconciled(db: &str, store: &dyn Store, sim: &Simulator, told: &[(String, MyKey)]) {
    let rows: Vec<_> = store.workshop_attendance(SLUG).await.unwrap().into_iter().map(|(_, row)| row).collect();
    let keys = sim.keys();
    for row in &rows {
        assert_eq!(row.status, ClaimStatus::Minted, "{db}: no reservation is left: {row:?}");
        let hash = row.or_key_hash.as_deref().unwrap();
        let key = keys.iter().find(|k| k.info.hash == hash);
        assert!(key.is_some_and(|k| !k.info.disabled), "{db}: a minted row's key exists, enabled: {row:?}");
    }
    for key in keys.iter().filter(|k| !k.info.disabled && is_key_name_of(SLUG, &k.info.name)) {
        assert!(
            rows.iter().any(|row| row.or_key_hash.as_deref() == Some(key.info.hash.as_str())),
            "{db}: enabled key {} is no row's",
            key.info.name
        );
    }
    for (user_id, shown) in told {
        let row =
            rows.iter().find(|row| &row.user_id == user_id).unwrap_or_else(|| panic!("{db}: {user_id} has no row"));
        assert_eq!(row.or_key_plaintext.as_deref(), Some(shown.key.as_str()), "{db}: {user_id} holds the key shown");
    }
    assert_eq!(rows.len(), told.len(), "{db}: nobody else holds a key");
    assert_eq!(store.claimed_count(SLUG).await.unwrap() as usize, rows.len(), "{db}: the pool counter matches");
}

/// Moves a reservation's `reserved_at` back by `by`, as if that much time had passed.
async fn age_reservation(url: &str, store: &std::sync::Arc<dyn Store>, user_id: &str, by: chrono::Duration) {
    use sqlx::Connection;
    let row = store.attendance(user_id, SLUG).await.unwrap().unwrap();
    let reserved_at = row.reserved_at - by;
    // Bound as the stores bind it, so each dialect stores it in its own format.
    let updated = if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("UPDATE workshop_attendance SET reserved_at = $1 WHERE user_id = $2 AND workshop_slug = $3")
            .bind(reserved_at)
            .bind(user_id)
            .bind(SLUG)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query("UPDATE workshop_attendance SET reserved_at = ?1 WHERE user_id = ?2 AND workshop_slug = ?3")
            .bind(reserved_at)
            .bind(user_id)
            .bind(SLUG)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected()
    };
    assert_eq!(updated, 1);
    assert_eq!(store.attendance(user_id, SLUG).await.unwrap().unwrap().reserved_at, reserved_at);
}

/// Status of a minimal chat completion made with an attendee's key, on the workshop's model.
pub async fn chat_status(base_url: &str, key: &str) -> u16 {
    let body = serde_json::json!({
        "model": "meta-llama/llama-3.1-8b-instruct",
        "messages": [{"role": "user", "content": "hi"}],
    });
    let response = support::process::client()
        .post(format!("{base_url}/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await;
    response.unwrap().status().as_u16()
}
