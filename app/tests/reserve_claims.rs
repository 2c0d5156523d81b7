//! Postgres's `reserve_claims` (migrations/postgres/0008): a group is answered exactly as
//! `reserve_claim` answers its members one after another, whichever path it takes, and the
//! common case (fresh claims, room for all) takes the set-wide path without `reserve_claim`.
//! Each group runs on one fresh database and, one member at a time, on a twin of it; the answers
//! and the tables after must be the same.
#![cfg(feature = "ssr")]

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection, Row};

use app::store::{AttendeeProfile, Binding, MintedKey, NewReservation, Reservation, Store, EVERY_WORKSHOP};
use support::db::postgres_store;

const STALE_AFTER: Duration = Duration::minutes(2);

fn profile(id: &str, provider: &str, address: &str) -> AttendeeProfile {
    AttendeeProfile {
        user_id: format!("{provider}|{id}"),
        email: address.into(),
        email_normalized: address.into(),
        display_name: format!("Person {id}"),
        auth_provider: provider.into(),
    }
}

fn attendee(id: &str) -> AttendeeProfile {
    profile(id, "dev", &format!("{id}@example.org"))
}

/// One member of a group: whose claim, in which workshop, with which pool.
#[derive(Clone)]
struct Member {
    user_id: String,
    slug: String,
    pool_size: i64,
}

fn member(id: &str, slug: &str, pool_size: i64) -> Member {
    Member { user_id: attendee(id).user_id, slug: slug.into(), pool_size }
}

fn crowd(prefix: &str, n: usize, slug: &str, pool_size: i64) -> Vec<Member> {
    (0..n).map(|i| member(&format!("{prefix}-{i}"), slug, pool_size)).collect()
}

/// The same world on both databases: attendees, and the rows and pauses the groups meet.
async fn prepare(store: &Arc<dyn Store>, now: DateTime<Utc>) {
    let mut people: Vec<AttendeeProfile> = ["crowd", "pool", "fit", "none", "fresh", "mixed"]
        .iter()
        .flat_map(|prefix| (0..32).map(move |i| attendee(&format!("{prefix}-{i}"))))
        .collect();
    people.extend(["reserved", "minted", "stale", "dup", "paused-1", "paused-2"].map(attendee));
    // Two sign-ins of one address each: the twins claim together, `held` has claimed before.
    people.extend([
        profile("twin", "github", "twin@example.org"),
        profile("twin", "google", "twin@example.org"),
        profile("held", "github", "held@example.org"),
        profile("held", "google", "held@example.org"),
    ]);
    for p in &people {
        store.upsert_attendee(p, now).await.unwrap();
    }
    let reserve = |id: &AttendeeProfile, slug: &str, at: DateTime<Utc>| NewReservation {
        user_id: id.user_id.clone(),
        workshop_slug: slug.into(),
        key_label: format!("before-{}", id.user_id),
        limit_usd: Decimal::new(200, 2),
        expires_at: at + Duration::hours(3),
        now: at,
    };
    for (who, slug, at) in [
        (attendee("reserved"), "w-existing", now),
        (attendee("minted"), "w-existing", now),
        (attendee("stale"), "w-stale", now - Duration::hours(1)),
        (profile("held", "github", "held@example.org"), "w-held", now),
    ] {
        let reserved = store.reserve_claim(&reserve(&who, slug, at), 10, STALE_AFTER).await.unwrap();
        assert!(matches!(reserved, Reservation::Reserved(_)), "{reserved:?}");
    }
    let key = MintedKey { hash: "hash-minted".into(), plaintext: "sk-or-v1-minted".into() };
    let binding = Binding::Failed { retry_at: now };
    store.save_minted_key(&attendee("minted").user_id, "w-existing", &key, &binding).await.unwrap();
    store.set_claims_paused("w-paused", Some("admin@example.org"), now).await.unwrap();
}

/// What a reservation answered, as text: outcome, other sign-in, row.
type Answers = Result<Vec<String>, String>;

const COLUMNS: &str =
    "r.outcome || '|' || coalesce(r.other_auth_provider, '-') || '|' || coalesce((r.attendance)::text, '-')";

/// The group in one call of `reserve_claims`, and how often it called `reserve_claim`.
async fn reserve_group(conn: &mut PgConnection, group: &[Member], now: DateTime<Utc>) -> (Answers, i64) {
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SET LOCAL track_functions = 'pl'").execute(&mut *tx).await.unwrap();
    // What it reads can still hold the calls of earlier transactions not yet flushed to the
    // statistics: the difference is this call's.
    const CALLS: &str = "SELECT coalesce(pg_stat_get_xact_function_calls('reserve_claim'::regproc), 0)";
    let calls_before: i64 = sqlx::query_scalar(CALLS).fetch_one(&mut *tx).await.unwrap();
    let column = |value: fn(&Member) -> String| group.iter().map(value).collect::<Vec<_>>();
    let n = group.len();
    let answers = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM reserve_claims($1, $2, $3, $4, $5, $6, $7, $8, $9) r ORDER BY r.i"
    ))
    .bind(column(|m| m.user_id.clone()))
    .bind(column(|m| m.slug.clone()))
    .bind(column(|m| format!("label-{}", m.user_id)))
    .bind(vec![Decimal::new(250, 2); n])
    .bind(vec![now + Duration::hours(3); n])
    .bind(vec![now; n])
    .bind(group.iter().map(|m| m.pool_size).collect::<Vec<_>>())
    .bind(vec![STALE_AFTER; n])
    .bind(EVERY_WORKSHOP)
    .fetch_all(&mut *tx)
    .await;
    let answers = match answers {
        Ok(rows) => rows.iter().map(|row| row.get::<String, _>(0)).collect(),
        Err(e) => return (Err(e.to_string()), 0),
    };
    let calls: i64 = sqlx::query_scalar(CALLS).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    (Ok(answers), calls - calls_before)
}

/// The group's members one after another, each in a call of `reserve_claim` of its own.
async fn reserve_one_by_one(conn: &mut PgConnection, group: &[Member], now: DateTime<Utc>) -> Vec<Answers> {
    let mut answers = Vec::new();
    for m in group {
        let answer = sqlx::query(&format!("SELECT {COLUMNS} FROM reserve_claim($1, $2, $3, $4, $5, $6, $7, $8, $9) r"))
            .bind(&m.user_id)
            .bind(&m.slug)
            .bind(format!("label-{}", m.user_id))
            .bind(Decimal::new(250, 2))
            .bind(now + Duration::hours(3))
            .bind(now)
            .bind(m.pool_size)
            .bind(STALE_AFTER)
            .bind(EVERY_WORKSHOP)
            .fetch_all(&mut *conn)
            .await;
        answers.push(
            answer.map(|rows| rows.iter().map(|row| row.get::<String, _>(0)).collect()).map_err(|e| e.to_string()),
        );
    }
    answers
}

/// Every row of the tables a reservation writes, as text.
async fn tables(conn: &mut PgConnection) -> String {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT string_agg(w::text, E'\\n' ORDER BY w.workshop_slug, w.user_id) FROM workshop_attendance w), '')
             || E'\\n--\\n' || coalesce((SELECT string_agg(p::text, E'\\n' ORDER BY p.workshop_slug) FROM workshop_pool p), '')",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_group_answers_as_its_members_would_one_by_one() {
    let (grouped, grouped_db) = postgres_store().await;
    let (alone, alone_db) = postgres_store().await;
    let now = Utc::now();
    prepare(&grouped, now).await;
    prepare(&alone, now).await;
    let mut grouped = PgConnection::connect(&grouped_db.url()).await.unwrap();
    let mut alone = PgConnection::connect(&alone_db.url()).await.unwrap();

    let mut existing = vec![member("fresh-0", "w-existing", 10), member("reserved", "w-existing", 10)];
    existing.extend([member("minted", "w-existing", 10), member("fresh-1", "w-existing", 10)]);
    let twins = ["github|twin", "google|twin"].map(|user_id| Member {
        user_id: user_id.into(),
        slug: "w-twins".into(),
        pool_size: 10,
    });
    let held = Member { user_id: "google|held".into(), slug: "w-held".into(), pool_size: 10 };
    let nobody = Member { user_id: "dev|never-signed-in".into(), slug: "w-unknown".into(), pool_size: 10 };
    // (what, the group, whether it takes the set-wide path)
    let groups: Vec<(&str, Vec<Member>, bool)> = vec![
        ("a crowd of fresh claims", crowd("crowd", 32, "w-crowd", 300), true),
        ("room for all, exactly", crowd("fit", 4, "w-fit", 4), true),
        ("a pool of none", crowd("none", 5, "w-none", 0), false),
        ("room for 5 of 8", crowd("pool", 8, "w-pool", 5), false),
        ("the pool already full", crowd("pool", 8, "w-pool", 5)[5..].to_vec(), false),
        ("rows already there", existing, false),
        ("a stale reservation", vec![member("stale", "w-stale", 10), member("fresh-2", "w-stale", 10)], false),
        (
            "one attendee twice",
            vec![member("dup", "w-dup", 10), member("fresh-3", "w-dup", 10), member("dup", "w-dup", 10)],
            false,
        ),
        ("two sign-ins of one address", twins.to_vec(), false),
        ("an address that claimed with another sign-in", vec![held, member("fresh-4", "w-held", 10)], false),
        ("a paused workshop", vec![member("paused-1", "w-paused", 10), member("paused-2", "w-paused", 10)], false),
        ("two workshops", vec![member("mixed-0", "w-mixed-a", 10), member("mixed-1", "w-mixed-b", 10)], false),
        ("pool sizes that differ", vec![member("mixed-2", "w-mixed-c", 10), member("mixed-3", "w-mixed-c", 20)], false),
    ];
    for (what, group, set_wide) in groups {
        let (answers, calls) = reserve_group(&mut grouped, &group, now).await;
        let answers = answers.unwrap_or_else(|e| panic!("{what}: {e}"));
        let expected: Vec<String> = reserve_one_by_one(&mut alone, &group, now)
            .await
            .into_iter()
            .map(|a| a.unwrap_or_else(|e| panic!("{what}, one by one: {e}")).concat())
            .collect();
        assert_eq!(answers, expected, "{what}");
        assert_eq!(calls, if set_wide { 0 } else { group.len() as i64 }, "{what}: calls of reserve_claim");
        assert_eq!(tables(&mut grouped).await, tables(&mut alone).await, "{what}: the tables after");
    }
    // A member the database refuses (never signed in): the whole group fails and writes nothing;
    // the server then reserves each one alone.
    let group = vec![member("fresh-5", "w-unknown", 10), nobody];
    let before = tables(&mut grouped).await;
    let (answers, _) = reserve_group(&mut grouped, &group, now).await;
    assert!(answers.is_err(), "{answers:?}");
    assert_eq!(tables(&mut grouped).await, before, "a failed group changes nothing");
    let one_by_one =
        [reserve_one_by_one(&mut grouped, &group, now).await, reserve_one_by_one(&mut alone, &group, now).await];
    assert!(one_by_one[0][0].is_ok() && one_by_one[0][1].is_err(), "{:?}", one_by_one[0]);
    assert_eq!(one_by_one[0], one_by_one[1]);
    assert_eq!(tables(&mut grouped).await, tables(&mut alone).await);
}

/// Two groups at once, from two connections (two replicas), for a pool with room for fewer than
/// both: the second one's slots are refused by the pool row itself, it falls back, and the pool
/// ends exactly full.
#[tokio::test]
async fn two_groups_at_once_fill_the_pool_exactly() {
    let (store, db) = postgres_store().await;
    for i in 0..64 {
        store.upsert_attendee(&attendee(&format!("race-{i}")), Utc::now()).await.unwrap();
    }
    for round in 0..5 {
        let slug = format!("w-race-{round}");
        let members = crowd("race", 64, &slug, 40);
        let (first, second) = members.split_at(32);
        let mut a = PgConnection::connect(&db.url()).await.unwrap();
        let mut b = PgConnection::connect(&db.url()).await.unwrap();
        let now = Utc::now();
        let ((a, _), (b, _)) = tokio::join!(reserve_group(&mut a, first, now), reserve_group(&mut b, second, now));
        let answers: Vec<String> = a.unwrap().into_iter().chain(b.unwrap()).collect();
        let reserved = answers.iter().filter(|a| a.starts_with("reserved|")).count();
        let full = answers.iter().filter(|a| a.starts_with("pool_full|")).count();
        assert_eq!((reserved, full), (40, 24), "round {round}");
        assert_eq!(store.claimed_count(&slug).await.unwrap(), 40, "round {round}");
    }
}
