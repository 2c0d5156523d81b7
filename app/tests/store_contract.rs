//! One contract, two backends: every test runs against real SQLite (a temp file) and real
//! Postgres (a fresh database on TEST_POSTGRES_URL, default 127.0.0.1:5432).
#![cfg(feature = "ssr")]

mod support;

use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use rust_decimal::Decimal;

use app::store::{
    AttendeeProfile, Binding, ClaimStatus, MintedKey, NewReservation, Reservation, Store, StoreError, EVERY_WORKSHOP,
};
use app::workshops::Pause;
use support::db::{postgres_store, sqlite_store};

fn profile(id: &str) -> AttendeeProfile {
    AttendeeProfile {
        user_id: format!("dev|{id}@example.org"),
        email: format!("{id}@Example.org"),
        email_normalized: format!("{id}@example.org"),
        display_name: format!("Person {id}"),
        auth_provider: "dev".into(),
    }
}

fn reservation(user: &AttendeeProfile, slug: &str) -> NewReservation {
    NewReservation {
        user_id: user.user_id.clone(),
        workshop_slug: slug.into(),
        key_label: format!("test-{}", user.user_id.len()),
        limit_usd: Decimal::new(250, 2),
        expires_at: Utc::now() + Duration::hours(3),
        now: Utc::now(),
    }
}

const FRESH: Duration = Duration::minutes(2);

/// A claim's binding that failed, with its retry due now.
fn unbound() -> Binding {
    Binding::Failed { retry_at: Utc::now() }
}

/// Runs one contract test body against both backends.
macro_rules! contract {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let (store, _guard) = sqlite_store().await;
                ($body)(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (store, _guard) = postgres_store().await;
                ($body)(store).await;
            }
        }
    };
}

contract!(attendee_upsert_keeps_first_seen, |store: Arc<dyn Store>| async move {
    let p = profile("ada");
    let t0 = Utc::now() - Duration::hours(1);
    let first = store.upsert_attendee(&p, t0).await.unwrap();
    assert_eq!(first.profile, p);
    assert!(!first.marketing_opted_in);

    let renamed = AttendeeProfile { display_name: "Ada L.".into(), ..p.clone() };
    let t1 = Utc::now();
    let second = store.upsert_attendee(&renamed, t1).await.unwrap();
    assert_eq!(second.profile.display_name, "Ada L.");
    assert_eq!(second.first_seen_at.timestamp_millis(), t0.timestamp_millis());
    assert_eq!(second.last_seen_at.timestamp_millis(), t1.timestamp_millis());
    assert_eq!(store.attendee(&p.user_id).await.unwrap().unwrap(), second);
    assert!(store.attendee("nobody").await.unwrap().is_none());
});

contract!(marketing_consent_records_time_and_workshop, |store: Arc<dyn Store>| async move {
    let p = profile("grace");
    store.upsert_attendee(&p, Utc::now()).await.unwrap();
    let at = Utc::now();
    store.record_marketing_consent(&p.user_id, "demo", at).await.unwrap();
    let a = store.attendee(&p.user_id).await.unwrap().unwrap();
    assert!(a.marketing_opted_in);
    assert_eq!(a.marketing_opted_in_workshop.as_deref(), Some("demo"));
    assert_eq!(a.marketing_opted_in_at.unwrap().timestamp_millis(), at.timestamp_millis());
});

contract!(reserve_mint_bind_round_trip, |store: Arc<dyn Store>| async move {
    let p = profile("alan");
    store.upsert_attendee(&p, Utc::now()).await.unwrap();
    let r = reservation(&p, "demo");
    let Reservation::Reserved(row) = store.reserve_claim(&r, 10, FRESH).await.unwrap() else { panic!("not reserved") };
    assert_eq!(row.status, ClaimStatus::Reserved);
    assert_eq!(row.limit_usd, Decimal::new(250, 2));
    assert_eq!(store.claimed_count("demo").await.unwrap(), 1);

    // A second request of the same attendee sees the reservation, not a new slot.
    let again = store.reserve_claim(&r, 10, FRESH).await.unwrap();
    assert!(matches!(again, Reservation::Existing(ref a) if a.status == ClaimStatus::Reserved), "{again:?}");
    assert_eq!(store.claimed_count("demo").await.unwrap(), 1);

    let key = MintedKey { hash: "h1".into(), plaintext: "sk-or-v1-abc".into() };
    // Microseconds: what both databases keep.
    let retry_at = Utc::now().trunc_subsecs(6) + Duration::seconds(30);
    let binding = Binding::Failed { retry_at };
    store.save_minted_key(&p.user_id, "demo", &key, &binding).await.unwrap();
    let minted = store.attendance(&p.user_id, "demo").await.unwrap().unwrap();
    assert_eq!(minted, row.clone().minted(key, &binding), "the row the claim builds is the row saved");
    assert_eq!(minted.status, ClaimStatus::Minted);
    assert_eq!(minted.or_key_plaintext.as_deref(), Some("sk-or-v1-abc"));
    assert!(minted.guardrail_attached_at.is_none(), "unbound until assigned");
    assert_eq!((minted.bind_attempts, minted.next_bind_at), (1, Some(retry_at)));

    store.mark_bound(&p.user_id, "demo", "gr-1", Utc::now()).await.unwrap();
    let bound = store.attendance(&p.user_id, "demo").await.unwrap().unwrap();
    assert_eq!(bound.or_guardrail_id.as_deref(), Some("gr-1"));
    assert!(bound.guardrail_attached_at.is_some());
    assert!(!format!("{bound:?}").contains("sk-or-v1-abc"), "Debug must not print the key");

    // Releasing a minted row does nothing: only reservations go back to the pool.
    store.release_claim(&p.user_id, "demo").await.unwrap();
    assert!(store.attendance(&p.user_id, "demo").await.unwrap().is_some());
    assert_eq!(store.claimed_count("demo").await.unwrap(), 1);
});

contract!(a_key_fills_only_a_reservation, |store: Arc<dyn Store>| async move {
    let p = profile("late");
    store.upsert_attendee(&p, Utc::now()).await.unwrap();
    let key = |hash: &str| MintedKey { hash: hash.into(), plaintext: format!("sk-or-v1-{hash}") };
    // No reservation (never made, or released as stale while the key was being created).
    let err = store.save_minted_key(&p.user_id, "w", &key("h0"), &unbound()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotReserved), "{err:?}");
    assert!(store.attendance(&p.user_id, "w").await.unwrap().is_none(), "no row is created");

    let Reservation::Reserved(reserved) = store.reserve_claim(&reservation(&p, "w"), 10, FRESH).await.unwrap() else {
        panic!("not reserved")
    };
    let bound = Binding::Bound { guardrail_id: "gr-1".into(), at: Utc::now().trunc_subsecs(6) };
    store.save_minted_key(&p.user_id, "w", &key("h1"), &bound).await.unwrap();
    // A second key for the same claim does not replace the one the attendee was shown.
    let err = store.save_minted_key(&p.user_id, "w", &key("h2"), &unbound()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotReserved), "{err:?}");
    let row = store.attendance(&p.user_id, "w").await.unwrap().unwrap();
    assert_eq!(row, reserved.minted(key("h1"), &bound), "saved bound, as built");
    assert!(row.is_bound() && row.next_bind_at.is_none() && row.bind_attempts == 0);
    assert_eq!(row.or_key_hash.as_deref(), Some("h1"));
    assert_eq!(row.or_key_plaintext.as_deref(), Some("sk-or-v1-h1"));
});

contract!(parallel_reservations_take_one_slot_per_person, |store: Arc<dyn Store>| async move {
    // One attendee submitting twenty times at once: one reservation, the rest see it.
    let ada = profile("ada");
    store.upsert_attendee(&ada, Utc::now()).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, r) = (store.clone(), reservation(&ada, "w"));
            tokio::spawn(async move { store.reserve_claim(&r, 10, FRESH).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let reserved = outcomes.iter().filter(|o| matches!(o, Reservation::Reserved(_))).count();
    let existing = outcomes.iter().filter(|o| matches!(o, Reservation::Existing(_))).count();
    assert_eq!((reserved, existing), (1, 19), "{outcomes:?}");
    assert_eq!(store.claimed_count("w").await.unwrap(), 1);

    // One person signed in twice (GitHub and Google, one address) claiming with both at once,
    // in ten workshops: each workshop gets exactly one of them, the other is told why.
    let twin = |id: &str, provider: &str| AttendeeProfile {
        user_id: format!("{provider}|{id}"),
        auth_provider: provider.into(),
        ..profile("grace")
    };
    let (github, google) = (twin("1", "github"), twin("2", "google"));
    for p in [&github, &google] {
        store.upsert_attendee(p, Utc::now()).await.unwrap();
    }
    for n in 0..10 {
        let slug = format!("twins-{n}");
        let (ra, rb) = (reservation(&github, &slug), reservation(&google, &slug));
        let (a, b) = tokio::join!(store.reserve_claim(&ra, 10, FRESH), store.reserve_claim(&rb, 10, FRESH));
        let mut outcomes = [a.unwrap(), b.unwrap()].map(|o| match o {
            Reservation::Reserved(_) => "reserved".to_string(),
            Reservation::ClaimedWithOtherSignIn { auth_provider } => format!("refused: {auth_provider}"),
            other => format!("{other:?}"),
        });
        outcomes.sort();
        assert!(outcomes[0] == "refused: github" || outcomes[0] == "refused: google", "{slug}: {outcomes:?}");
        assert_eq!(outcomes[1], "reserved", "{slug}");
        assert_eq!(store.claimed_count(&slug).await.unwrap(), 1, "{slug}");
    }
});

contract!(a_failing_reservation_fails_alone, |store: Arc<dyn Store>| async move {
    // Twenty attendees reserve at once (SQLite commits them in groups) beside one who never
    // signed in, whose row the database refuses: only that one fails, and takes no slot.
    let mut reservations = Vec::new();
    for i in 0..20 {
        let p = profile(&format!("crowd-{i}"));
        store.upsert_attendee(&p, Utc::now()).await.unwrap();
        reservations.push(reservation(&p, "w"));
    }
    reservations.insert(10, reservation(&profile("never-signed-in"), "w"));
    let tasks: Vec<_> = reservations
        .into_iter()
        .map(|r| {
            let store = store.clone();
            tokio::spawn(async move { (r.user_id.clone(), store.reserve_claim(&r, 50, FRESH).await) })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.unwrap() {
            (user_id, Err(_)) => assert_eq!(user_id, profile("never-signed-in").user_id),
            (user_id, Ok(Reservation::Reserved(row))) => {
                assert_eq!(row.user_id, user_id);
                reserved += 1;
            }
            (user_id, Ok(other)) => panic!("{user_id}: {other:?}"),
        }
    }
    assert_eq!(reserved, 20);
    assert_eq!(store.claimed_count("w").await.unwrap(), 20);
    assert!(store.attendance(&profile("never-signed-in").user_id, "w").await.unwrap().is_none());
});

contract!(paused_claims_reserve_nothing, |store: Arc<dyn Store>| async move {
    let (ada, bob) = (profile("paused-ada"), profile("paused-bob"));
    for p in [&ada, &bob] {
        store.upsert_attendee(p, Utc::now()).await.unwrap();
    }
    assert!(matches!(store.reserve_claim(&reservation(&ada, "w"), 5, FRESH).await.unwrap(), Reservation::Reserved(_)));
    store.set_claims_paused("w", Some("admin@example.org"), Utc::now()).await.unwrap();
    // Asked first: before the attendee's own row, and before the pool.
    for (who, pool) in [(&bob, 5), (&ada, 5), (&bob, 0)] {
        assert_eq!(
            store.reserve_claim(&reservation(who, "w"), pool, FRESH).await.unwrap(),
            Reservation::Paused(Pause::ThisWorkshop),
            "{} with a pool of {pool}",
            who.user_id
        );
    }
    assert!(matches!(store.reserve_claim(&reservation(&bob, "w2"), 5, FRESH).await.unwrap(), Reservation::Reserved(_)));
    // The site-wide pause wins, and stops every workshop.
    store.set_claims_paused(EVERY_WORKSHOP, Some("admin@example.org"), Utc::now()).await.unwrap();
    for slug in ["w", "w3"] {
        assert_eq!(
            store.reserve_claim(&reservation(&bob, slug), 5, FRESH).await.unwrap(),
            Reservation::Paused(Pause::Everywhere),
            "{slug}"
        );
    }
    store.set_claims_paused(EVERY_WORKSHOP, None, Utc::now()).await.unwrap();
    assert_eq!(
        store.reserve_claim(&reservation(&bob, "w"), 5, FRESH).await.unwrap(),
        Reservation::Paused(Pause::ThisWorkshop)
    );
    assert_eq!(store.claimed_count("w").await.unwrap(), 1, "nothing taken while paused");
    assert!(store.attendance(&bob.user_id, "w").await.unwrap().is_none());
    store.set_claims_paused("w", None, Utc::now()).await.unwrap();
    assert!(matches!(store.reserve_claim(&reservation(&bob, "w"), 5, FRESH).await.unwrap(), Reservation::Reserved(_)));
});

contract!(an_empty_pool_takes_no_one, |store: Arc<dyn Store>| async move {
    let p = profile("nobody-gets-in");
    store.upsert_attendee(&p, Utc::now()).await.unwrap();
    assert_eq!(store.reserve_claim(&reservation(&p, "w"), 0, FRESH).await.unwrap(), Reservation::PoolFull);
    assert!(store.attendance(&p.user_id, "w").await.unwrap().is_none());
    assert_eq!(store.claimed_count("w").await.unwrap(), 0);
});

contract!(release_gives_the_slot_back, |store: Arc<dyn Store>| async move {
    let (a, b) = (profile("a"), profile("b"));
    for p in [&a, &b] {
        store.upsert_attendee(p, Utc::now()).await.unwrap();
    }
    assert!(matches!(store.reserve_claim(&reservation(&a, "w"), 1, FRESH).await.unwrap(), Reservation::Reserved(_)));
    assert_eq!(store.reserve_claim(&reservation(&b, "w"), 1, FRESH).await.unwrap(), Reservation::PoolFull);
    store.release_claim(&a.user_id, "w").await.unwrap();
    assert_eq!(store.claimed_count("w").await.unwrap(), 0);
    assert!(store.attendance(&a.user_id, "w").await.unwrap().is_none());
    assert!(matches!(store.reserve_claim(&reservation(&b, "w"), 1, FRESH).await.unwrap(), Reservation::Reserved(_)));
});

contract!(stale_reservation_is_taken_over, |store: Arc<dyn Store>| async move {
    let p = profile("stale");
    store.upsert_attendee(&p, Utc::now()).await.unwrap();
    let old = NewReservation { now: Utc::now() - Duration::minutes(10), ..reservation(&p, "w") };
    assert!(matches!(store.reserve_claim(&old, 5, FRESH).await.unwrap(), Reservation::Reserved(_)));
    let now = reservation(&p, "w");
    let Reservation::TakenOver(row) = store.reserve_claim(&now, 5, FRESH).await.unwrap() else {
        panic!("not taken over")
    };
    assert_eq!(row.key_label, old.key_label, "same name, so a lost key can be found again");
    assert_eq!(store.claimed_count("w").await.unwrap(), 1);
});

contract!(pool_is_exact_under_concurrency, |store: Arc<dyn Store>| async move {
    const ATTENDEES: usize = 40;
    const POOL: u32 = 7;
    let mut profiles = Vec::new();
    for i in 0..ATTENDEES {
        let p = profile(&format!("p{i}"));
        store.upsert_attendee(&p, Utc::now()).await.unwrap();
        profiles.push(p);
    }
    let tasks: Vec<_> = profiles
        .iter()
        .flat_map(|p| [p.clone(), p.clone()]) // everyone double-clicks
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_claim(&reservation(&p, "rush"), POOL, FRESH).await.unwrap() })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        if let Reservation::Reserved(_) = task.await.unwrap() {
            reserved += 1;
        }
    }
    assert_eq!(reserved, POOL as usize);
    assert_eq!(store.claimed_count("rush").await.unwrap(), POOL);
});

contract!(one_key_per_email_whichever_sign_in, |store: Arc<dyn Store>| async move {
    // The same person three ways: Google, GitHub, and a gmail variant the normaliser folds.
    let same = |user_id: &str, email: &str, provider: &str| AttendeeProfile {
        user_id: user_id.into(),
        email: email.into(),
        email_normalized: "adalovelace@gmail.com".into(),
        display_name: "Ada".into(),
        auth_provider: provider.into(),
    };
    let people = [
        same("google|1", "ada.lovelace@gmail.com", "google"),
        same("github|2", "Ada.Lovelace+ai@gmail.com", "github"),
        same("dev|3", "adalovelace@googlemail.com", "dev"),
    ];
    for p in &people {
        store.upsert_attendee(p, Utc::now()).await.unwrap();
    }
    let other = profile("someone-else");
    store.upsert_attendee(&other, Utc::now()).await.unwrap();

    // All three race for the same workshop: exactly one slot is taken.
    let tasks: Vec<_> = people
        .iter()
        .cycle()
        .take(12)
        .map(|p| {
            let (store, r) = (store.clone(), reservation(p, "w"));
            tokio::spawn(async move { store.reserve_claim(&r, 10, FRESH).await.unwrap() })
        })
        .collect();
    let mut winners = std::collections::HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            Reservation::Reserved(row) | Reservation::Existing(row) => {
                winners.insert(row.user_id);
            }
            Reservation::ClaimedWithOtherSignIn { auth_provider } => {
                assert!(["google", "github", "dev"].contains(&auth_provider.as_str()))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "one attendee holds the key: {winners:?}");
    assert_eq!(store.claimed_count("w").await.unwrap(), 1, "refusals gave their slot back");

    let winner = people.iter().find(|p| winners.contains(&p.user_id)).unwrap();
    let loser = people.iter().find(|p| !winners.contains(&p.user_id)).unwrap();
    assert_eq!(
        store.reserve_claim(&reservation(loser, "w"), 10, FRESH).await.unwrap(),
        Reservation::ClaimedWithOtherSignIn { auth_provider: winner.auth_provider.clone() }
    );
    assert!(store.attendance(&loser.user_id, "w").await.unwrap().is_none(), "nothing written for the refused one");
    // Another workshop and another person are not affected.
    assert!(matches!(
        store.reserve_claim(&reservation(loser, "w2"), 10, FRESH).await.unwrap(),
        Reservation::Reserved(_)
    ));
    assert!(matches!(
        store.reserve_claim(&reservation(&other, "w"), 10, FRESH).await.unwrap(),
        Reservation::Reserved(_)
    ));
});

contract!(usage_is_recorded_by_key_hash, |store: Arc<dyn Store>| async move {
    let (a, b) = (profile("usage-a"), profile("usage-b"));
    for p in [&a, &b] {
        store.upsert_attendee(p, Utc::now()).await.unwrap();
        store.reserve_claim(&reservation(p, "w"), 10, FRESH).await.unwrap();
        let key = MintedKey { hash: format!("hash-{}", p.user_id), plaintext: "sk-or-v1-x".into() };
        store.save_minted_key(&p.user_id, "w", &key, &unbound()).await.unwrap();
    }
    let now = Utc::now();
    let usage = [
        (format!("hash-{}", a.user_id), Decimal::new(12345, 4)),
        ("hash-of-a-key-we-never-made".to_string(), Decimal::new(9, 0)),
    ];
    assert_eq!(store.record_usage(&usage, now).await.unwrap(), 1, "unknown hashes are ignored");
    let row = store.attendance(&a.user_id, "w").await.unwrap().unwrap();
    assert_eq!(row.usage_usd, Decimal::new(12345, 4));
    let synced = row.usage_synced_at.unwrap();
    assert!((synced - now).num_milliseconds().abs() < 1, "{synced} vs {now}");
    let untouched = store.attendance(&b.user_id, "w").await.unwrap().unwrap();
    assert_eq!((untouched.usage_usd, untouched.usage_synced_at), (Decimal::ZERO, None));
    assert_eq!(store.record_usage(&[], now).await.unwrap(), 0);
});

/// Two replicas on one Postgres database: one runs the background work, the other waits, and
/// takes over when the first goes away.
#[tokio::test]
async fn one_replica_leads_the_background_work() {
    let (first, guard) = postgres_store().await;
    let second = app::store::PgStore::connect(&guard.url()).await.unwrap();
    let mut lead = first.try_lead().await.unwrap().expect("the first replica leads");
    assert!(lead.still_held().await);
    assert!(second.try_lead().await.unwrap().is_none(), "only one leader");
    assert!(first.try_lead().await.unwrap().is_none(), "not even a second lead in the same process");
    drop(lead);
    let mut taken_over = None;
    for _ in 0..50 {
        // The lock goes with the first leader's connection, which closes in the background.
        taken_over = second.try_lead().await.unwrap();
        if taken_over.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(taken_over.is_some(), "the second replica takes over");
    // SQLite has one process: it always leads.
    let (sqlite, _dir) = sqlite_store().await;
    assert!(sqlite.try_lead().await.unwrap().is_some());
}

/// The other side of the pool handing out recently used Postgres connections unchecked: one
/// that sat idle is checked first, and one the server closed meanwhile (a restart, a failover,
/// a proxy's idle timeout) is replaced, not used.
#[tokio::test]
async fn a_postgres_connection_closed_while_idle_is_replaced_before_it_is_used() {
    use sqlx::Connection;

    let (store, guard) = postgres_store().await;
    store.upsert_attendee(&profile("a"), Utc::now()).await.unwrap();
    let database = guard.url().rsplit_once('/').unwrap().1.to_string();
    let mut admin = sqlx::PgConnection::connect(&testkit::postgres_admin_url()).await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1) t",
    )
    .bind(&database)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(closed >= 1, "the pool's connections were closed by the server");
    // Longer than the pool hands a connection out unchecked.
    tokio::time::sleep(app::store::PING_IF_IDLE_FOR + std::time::Duration::from_millis(100)).await;
    let b = profile("b");
    store.upsert_attendee(&b, Utc::now()).await.expect("a fresh connection");
    assert!(store.attendee(&b.user_id).await.unwrap().is_some());
}

/// Postgres reserves a crowd's claims together: twenty at once take a call or two of
/// `reserve_claims` instead of twenty of `reserve_claim` (counted on the wire), and each is
/// answered as it would be alone. (The outcomes of groups are the contract tests' above, run on
/// both databases: same attendee twice, two sign-ins of one address, a failing one among them.)
#[tokio::test]
async fn postgres_reserves_a_crowd_in_few_calls() {
    let (_direct, guard) = postgres_store().await;
    let wire = support::round_trips::RoundTrips::start(&guard.url()).await;
    let store: Arc<dyn Store> = Arc::new(app::store::PgStore::connect(wire.url()).await.unwrap());
    let crowd: Vec<_> = (0..20).map(|i| profile(&format!("crowd-{i}"))).collect();
    for p in &crowd {
        store.upsert_attendee(p, Utc::now()).await.unwrap();
    }
    wire.start_counting();
    let tasks: Vec<_> = crowd
        .iter()
        .map(|p| {
            let (store, r) = (store.clone(), reservation(p, "w"));
            tokio::spawn(async move { store.reserve_claim(&r, 15, FRESH).await.unwrap() })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.unwrap() {
            Reservation::Reserved(_) => reserved += 1,
            Reservation::PoolFull => {}
            other => panic!("{other:?}"),
        }
    }
    let round_trips = wire.stop();
    assert_eq!(reserved, 15, "the pool of 15, exactly");
    assert_eq!(store.claimed_count("w").await.unwrap(), 15);
    assert!(round_trips < 20, "twenty reservations in {round_trips} round trips");
}

/// On Postgres the reservations have a connection of their own: one goes through while every
/// pooled connection waits on something else (here twenty sign-in checks, held by a lock on the
/// table they read), as the sign-in checks of a burst's own requests would make it wait.
#[tokio::test]
async fn postgres_reserves_while_every_pooled_connection_is_busy() {
    use sqlx::{Connection, Row};
    let (store, db) = postgres_store().await;
    let ada = profile("ada");
    store.upsert_attendee(&ada, Utc::now()).await.unwrap();
    let mut locker = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE revoked_sessions IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.unwrap();
    let checks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.session_revoked(&format!("session-{i}")).await.unwrap() })
        })
        .collect();
    let waiting_on_the_lock =
        "SELECT count(*) FROM pg_locks WHERE relation = 'revoked_sessions'::regclass AND NOT granted";
    let mut waiting = 0;
    for _ in 0..1000 {
        waiting = sqlx::query(waiting_on_the_lock).fetch_one(&mut *lock).await.unwrap().get::<i64, _>(0);
        if waiting >= 16 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(waiting, 16, "every pooled connection waits on the lock, the other checks for a connection");
    // A hang, not a duration, is what fails here: without its own connection the reservation
    // waits until the lock is released, which happens only after this.
    let reserved = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        store.reserve_claim(&reservation(&ada, "w"), 15, FRESH),
    )
    .await
    .expect("the reservation waited for a pooled connection")
    .unwrap();
    assert!(matches!(reserved, Reservation::Reserved(_)), "{reserved:?}");
    lock.rollback().await.unwrap();
    for check in checks {
        assert!(!check.await.unwrap(), "no session was signed out");
    }
}

contract!(guardrail_id_is_remembered, |store: Arc<dyn Store>| async move {
    assert_eq!(store.guardrail_id("demo").await.unwrap(), None);
    store.save_guardrail_id("demo", "gr-1").await.unwrap();
    store.save_guardrail_id("demo", "gr-2").await.unwrap();
    assert_eq!(store.guardrail_id("demo").await.unwrap().as_deref(), Some("gr-2"));
});

contract!(guardrail_lease_is_exclusive_until_released_or_expired, |store: Arc<dyn Store>| async move {
    let ttl = Duration::seconds(30);
    let now = Utc::now();
    assert!(store.try_acquire_guardrail_lease("w", "a", now, ttl).await.unwrap());
    assert!(!store.try_acquire_guardrail_lease("w", "b", now, ttl).await.unwrap(), "held by a");
    assert!(store.try_acquire_guardrail_lease("w", "a", now, ttl).await.unwrap(), "re-entrant for its holder");
    assert!(store.try_acquire_guardrail_lease("other", "b", now, ttl).await.unwrap(), "per workshop");
    store.release_guardrail_lease("w", "b").await.unwrap();
    assert!(!store.try_acquire_guardrail_lease("w", "b", now, ttl).await.unwrap(), "only the holder releases");
    store.release_guardrail_lease("w", "a").await.unwrap();
    assert!(store.try_acquire_guardrail_lease("w", "b", now, ttl).await.unwrap());
    // A holder that died: its lease expires.
    assert!(store.try_acquire_guardrail_lease("w", "c", now + ttl + Duration::seconds(1), ttl).await.unwrap());
});

contract!(guardrail_lease_has_one_winner_under_concurrency, |store: Arc<dyn Store>| async move {
    let now = Utc::now();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.try_acquire_guardrail_lease("race", &format!("h{i}"), now, Duration::seconds(30)).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
});

contract!(login_state_is_single_use_and_forgotten_after_expiry, |store: Arc<dyn Store>| async move {
    let now = Utc::now();
    assert!(store.consume_login_state("attempt-1", now + Duration::minutes(10), now).await.unwrap());
    assert!(!store.consume_login_state("attempt-1", now + Duration::minutes(10), now).await.unwrap(), "replay");
    assert!(store.consume_login_state("attempt-2", now + Duration::minutes(10), now).await.unwrap());

    // Twenty copies of one callback racing: exactly one completes.
    let racers = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.consume_login_state("attempt-3", now + Duration::minutes(10), now).await })
    });
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap().unwrap());
    }
    assert_eq!(winners, 1);

    // Once expired the id is forgotten (its cookie is refused by its own expiry by then).
    let later = now + Duration::minutes(11);
    assert!(store.consume_login_state("attempt-1", later + Duration::minutes(10), later).await.unwrap());
});

/// A minted row of `id` in workshop `w` with key `h-<id>`.
async fn minted(store: &Arc<dyn Store>, id: &str) -> AttendeeProfile {
    let p = profile(id);
    store.upsert_attendee(&p, Utc::now()).await.unwrap();
    let r = NewReservation { key_label: format!("w-{id}"), ..reservation(&p, "w") };
    assert!(matches!(store.reserve_claim(&r, 10, FRESH).await.unwrap(), Reservation::Reserved(_)));
    let key = MintedKey { hash: format!("h-{id}"), plaintext: format!("sk-or-v1-{id}") };
    store.save_minted_key(&p.user_id, "w", &key, &unbound()).await.unwrap();
    p
}

contract!(admin_rows_disable_rotate_and_pause, |store: Arc<dyn Store>| async move {
    let ada = minted(&store, "ada").await;
    let bob = minted(&store, "bob").await;
    let rows = store.workshop_attendance("w").await.unwrap();
    assert_eq!(
        rows.iter().map(|(a, _)| a.profile.display_name.as_str()).collect::<Vec<_>>(),
        ["Person ada", "Person bob"]
    );
    assert_eq!(rows[0].1.key_label, "w-ada");

    let now = Utc::now();
    store.mark_disabled(&bob.user_id, "w", now).await.unwrap();
    let bob_row = store.attendance(&bob.user_id, "w").await.unwrap().unwrap();
    assert!(bob_row.disabled_at.is_some());

    store.record_usage(&[("h-ada".into(), Decimal::new(5, 1))], now).await.unwrap();
    let rotation = app::store::KeyRotation {
        user_id: ada.user_id.clone(),
        workshop_slug: "w".into(),
        old_hash: "h-ada".into(),
        old_label: "w-ada".into(),
        old_usage_usd: Decimal::new(5, 1),
        new_key: MintedKey { hash: "h-ada-2".into(), plaintext: "sk-or-v1-ada-2".into() },
        new_label: "w-ada2".into(),
        new_limit_usd: Decimal::new(2, 0),
        retired_by: "root@example.org".into(),
        now,
    };
    assert!(store.rotate_key(&rotation).await.unwrap());
    assert!(!store.rotate_key(&rotation).await.unwrap(), "the row no longer holds the old key: nothing changes");
    let ada_row = store.attendance(&ada.user_id, "w").await.unwrap().unwrap();
    assert_eq!(ada_row.or_key_hash.as_deref(), Some("h-ada-2"));
    assert_eq!((ada_row.usage_usd, ada_row.retired_usage_usd), (Decimal::ZERO, Decimal::new(5, 1)));
    assert_eq!(ada_row.total_limit_usd(), Decimal::new(25, 1));
    assert!(!ada_row.is_bound() && ada_row.usage_synced_at.is_none());
    assert_eq!(store.retired_key_hashes("w").await.unwrap(), ["h-ada"]);
    // A second rotation adds up exactly (SQLite keeps money as text, never floats).
    let again = app::store::KeyRotation {
        old_hash: "h-ada-2".into(),
        old_usage_usd: Decimal::new(1, 4),
        new_key: MintedKey { hash: "h-ada-3".into(), plaintext: "sk-or-v1-ada-3".into() },
        ..rotation.clone()
    };
    assert!(store.rotate_key(&again).await.unwrap());
    assert_eq!(store.attendance(&ada.user_id, "w").await.unwrap().unwrap().retired_usage_usd, Decimal::new(5001, 4));

    assert!(store.claims_pause("w").await.unwrap().is_none());
    store.set_claims_paused("w", Some("root@example.org"), now).await.unwrap();
    assert_eq!(store.claims_pause("w").await.unwrap().unwrap().paused_by, "root@example.org");
    assert!(store.claims_pause("other").await.unwrap().is_none());
    store.set_claims_paused("w", None, now).await.unwrap();
    assert!(store.claims_pause("w").await.unwrap().is_none());
});

contract!(unbound_keys_wait_for_their_retry, |store: Arc<dyn Store>| async move {
    let ada = minted(&store, "ada").await;
    let bob = minted(&store, "bob").await;
    let cy = minted(&store, "cy").await;
    let now = Utc::now();
    store.mark_bound(&cy.user_id, "w", "gr-1", now).await.unwrap();
    store.mark_disabled(&bob.user_id, "w", now).await.unwrap();
    let due = |at| {
        let store = store.clone();
        async move { store.unbound_keys_due(at).await.unwrap().into_iter().map(|r| r.user_id).collect::<Vec<_>>() }
    };
    assert_eq!(due(now).await, std::slice::from_ref(&ada.user_id), "bound and disabled rows are not retried");
    store.record_bind_failure(&ada.user_id, "w", now + Duration::seconds(30)).await.unwrap();
    assert!(due(now).await.is_empty());
    assert_eq!(due(now + Duration::seconds(30)).await, std::slice::from_ref(&ada.user_id));
    assert_eq!(store.attendance(&ada.user_id, "w").await.unwrap().unwrap().bind_attempts, 2, "the claim's, then this");

    // A bound row made unbound again (the demo's fault) waits for its retry like the others.
    store.mark_unbound(&cy.user_id, "w", now + Duration::seconds(30)).await.unwrap();
    let cy_row = store.attendance(&cy.user_id, "w").await.unwrap().unwrap();
    assert!(!cy_row.is_bound() && cy_row.or_guardrail_id.is_none());
    assert_eq!(due(now + Duration::seconds(30)).await, [ada.user_id.clone(), cy.user_id.clone()]);
});

contract!(orphans_and_stale_reservations, |store: Arc<dyn Store>| async move {
    let now = Utc::now();
    assert!(store.record_orphan("w", "h-x", "w-x", now).await.unwrap());
    assert!(!store.record_orphan("w", "h-x", "w-x", now).await.unwrap(), "recorded once");
    assert!(store.record_orphan("w", "h-y", "w-y", now).await.unwrap());
    assert_eq!((store.orphans_fixed("w").await.unwrap(), store.orphans_fixed("v").await.unwrap()), (2, 0));

    let p = profile("dan");
    store.upsert_attendee(&p, now).await.unwrap();
    let r = NewReservation { now: now - Duration::minutes(5), ..reservation(&p, "w") };
    store.reserve_claim(&r, 10, FRESH).await.unwrap();
    assert!(!store.release_stale_claim(&p.user_id, "w", now - Duration::minutes(6)).await.unwrap(), "not that old");
    assert!(store.release_stale_claim(&p.user_id, "w", now - Duration::minutes(2)).await.unwrap());
    assert_eq!(store.claimed_count("w").await.unwrap(), 0, "the slot is back");
    let ada = minted(&store, "ada").await;
    assert!(!store.release_stale_claim(&ada.user_id, "w", now + Duration::hours(1)).await.unwrap(), "minted rows stay");
});

contract!(consent_belongs_to_its_workshop_and_withdrawal_is_recorded, |store: Arc<dyn Store>| async move {
    let (ada, bo) = (profile("ada"), profile("bo"));
    let t0 = Utc::now() - Duration::minutes(10);
    for p in [&ada, &bo] {
        store.upsert_attendee(p, t0).await.unwrap();
    }
    store.record_marketing_consent(&ada.user_id, "a", t0).await.unwrap();
    store.record_marketing_consent(&bo.user_id, "b", t0).await.unwrap();
    store.record_marketing_consent(&ada.user_id, "b", t0 + Duration::minutes(1)).await.unwrap();
    // Opting in again where a consent stands keeps the first one.
    store.record_marketing_consent(&ada.user_id, "a", t0 + Duration::minutes(2)).await.unwrap();
    let emails = |leads: Vec<(AttendeeProfile, app::store::MarketingConsent)>| {
        leads.into_iter().map(|(p, c)| (p.user_id, c.given_at.timestamp())).collect::<Vec<_>>()
    };
    assert_eq!(emails(store.workshop_leads("a").await.unwrap()), [(ada.user_id.clone(), t0.timestamp())]);
    assert_eq!(
        emails(store.workshop_leads("b").await.unwrap()),
        [(bo.user_id.clone(), t0.timestamp()), (ada.user_id.clone(), (t0 + Duration::minutes(1)).timestamp())]
    );
    let latest = store.attendee(&ada.user_id).await.unwrap().unwrap();
    assert_eq!((latest.marketing_opted_in, latest.marketing_opted_in_workshop.as_deref()), (true, Some("b")));

    // Ada withdraws in b: recorded, and her latest standing opt-in is a's again.
    let t1 = t0 + Duration::minutes(3);
    assert!(store.withdraw_marketing_consent(&ada.user_id, "b", t1).await.unwrap());
    assert!(!store.withdraw_marketing_consent(&ada.user_id, "b", t1).await.unwrap(), "nothing left to withdraw");
    assert_eq!(emails(store.workshop_leads("b").await.unwrap()), [(bo.user_id.clone(), t0.timestamp())]);
    let withdrawn = store.marketing_consent(&ada.user_id, "b").await.unwrap().unwrap();
    assert_eq!(withdrawn.withdrawn_at.map(|t| t.timestamp()), Some(t1.timestamp()));
    let latest = store.attendee(&ada.user_id).await.unwrap().unwrap();
    assert_eq!(latest.marketing_opted_in_workshop.as_deref(), Some("a"));
    assert_eq!(latest.marketing_opted_in_at.map(|t| t.timestamp()), Some(t0.timestamp()));
    // And in a: nothing stands any more.
    assert!(store.withdraw_marketing_consent(&ada.user_id, "a", t1).await.unwrap());
    let latest = store.attendee(&ada.user_id).await.unwrap().unwrap();
    assert_eq!((latest.marketing_opted_in, latest.marketing_opted_in_at), (false, None));
    // A new opt-in after a withdrawal is a new record beside the old one.
    store.record_marketing_consent(&ada.user_id, "b", t1 + Duration::minutes(1)).await.unwrap();
    let again = store.marketing_consent(&ada.user_id, "b").await.unwrap().unwrap();
    assert_eq!((again.given_at.timestamp(), again.withdrawn_at), ((t1 + Duration::minutes(1)).timestamp(), None));
    assert_eq!(store.workshop_leads("b").await.unwrap().len(), 2);
    assert!(store.marketing_consent(&bo.user_id, "a").await.unwrap().is_none());
});

contract!(signed_out_sessions_are_refused_until_they_expire, |store: Arc<dyn Store>| async move {
    let now = Utc::now();
    assert!(!store.session_revoked("s1").await.unwrap());
    store.revoke_session("s1", now + Duration::hours(1), now).await.unwrap();
    store.revoke_session("s1", now + Duration::hours(1), now).await.unwrap();
    store.revoke_session("old", now - Duration::minutes(1), now - Duration::hours(1)).await.unwrap();
    assert!(store.session_revoked("s1").await.unwrap() && !store.session_revoked("s2").await.unwrap());
    // Expired ids are forgotten by the next sign-out: their tokens are refused anyway.
    store.revoke_session("s3", now + Duration::hours(1), now).await.unwrap();
    assert!(!store.session_revoked("old").await.unwrap());
});

contract!(the_site_wide_pause_comes_first, |store: Arc<dyn Store>| async move {
    use app::store::EVERY_WORKSHOP;
    let now = Utc::now();
    store.set_claims_paused("w", Some("organiser@example.org"), now).await.unwrap();
    store.set_claims_paused(EVERY_WORKSHOP, Some("root@example.org"), now).await.unwrap();
    let pauses = store.claims_pauses("w").await.unwrap();
    let seen: Vec<_> = pauses.iter().map(|p| (p.everywhere, p.paused_by.as_str())).collect();
    assert_eq!(seen, [(true, "root@example.org"), (false, "organiser@example.org")]);
    assert!(store.claims_pause("other").await.unwrap().unwrap().everywhere, "every workshop, not only w");
    store.set_claims_paused(EVERY_WORKSHOP, None, now).await.unwrap();
    assert!(!store.claims_pause("w").await.unwrap().unwrap().everywhere, "w's own pause stays");
    assert!(store.claims_pause("other").await.unwrap().is_none());
});
