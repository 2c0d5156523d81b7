//! Postgres: what it does differently from SQLite (see `sql.rs` for everything shared). Money
//! is NUMERIC, times are TIMESTAMPTZ.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};
use sqlx::{FromRow, Row};

use super::common::{attendance_columns, AttendanceRow, Dialect};
use super::group_commit::{Request, ReserveTogether};
use super::*;
use crate::workshops::Pause;

/// The Postgres schema, as this binary knows it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The advisory lock key of the background work (any constant shared by all replicas).
const BACKGROUND_LOCK: i64 = 0x6d69_6e74_6572; // "minter"

/// Opens a Postgres store (`connect` is in `sql.rs`).
pub struct PgStore;

/// A pooled connection used this recently is handed out without a ping first (as HikariCP's
/// `aliveBypassWindowMs` does): in a burst every connection is reused within milliseconds, and a
/// ping before each statement doubled the round trips of a claim.
pub const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// The store's connections to Postgres.
pub(super) struct Pools {
    /// Every statement but the reservations.
    pub shared: PgPool,
    /// One connection for the reservations' groups (`group_commit.rs`), which go one at a time:
    /// in a burst the group waited for a pooled connection behind the sign-in checks of the
    /// same requests, while every claim waited for the group.
    pub reservations: PgPool,
}

/// Connections in [`Pools::shared`].
const SHARED_CONNECTIONS: u32 = 16;

/// The pools, the migrations applied.
pub(super) async fn connect(url: &str) -> StoreResult<Pools> {
    let shared = pool_options(SHARED_CONNECTIONS).connect(url).await?;
    MIGRATOR.run(&shared).await?;
    let reservations = pool_options(1).connect(url).await?;
    Ok(Pools { shared, reservations })
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        // sqlx pings every connection it hands out; only one that sat idle can have been closed
        // by the server or a proxy in between, and a failed ping makes the pool open another.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl Dialect for Postgres {
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    async fn begin_write(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, Postgres>> {
        pool.begin().await
    }

    async fn lock_attendee(tx: &mut sqlx::Transaction<'static, Postgres>, user_id: &str) -> sqlx::Result<()> {
        sqlx::query("SELECT 1 FROM attendees WHERE user_id = $1 FOR UPDATE").bind(user_id).execute(&mut **tx).await?;
        Ok(())
    }
}

/// Reserves a pool slot and the attendee's row in one call of the `reserve_claim` function
/// (migrations/postgres/0006_reserve_claim.sql), made outside a transaction: every claim of a
/// workshop queues on its pool row, which Postgres then holds only while it finishes the
/// function and commits, never while an answer travels between it and this process.
async fn reserve_claim(
    pool: &PgPool,
    r: &NewReservation,
    pool_size: u32,
    stale_after: chrono::Duration,
) -> StoreResult<Reservation> {
    static RESERVE_CLAIM: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT r.outcome, r.other_auth_provider, {} FROM reserve_claim($1, $2, $3, $4, $5, $6, $7, $8, $9) r",
            attendance_columns("(r.attendance).")
        )
    });
    let answer = sqlx::query(&RESERVE_CLAIM)
        .bind(&r.user_id)
        .bind(&r.workshop_slug)
        .bind(&r.key_label)
        .bind(r.limit_usd)
        .bind(r.expires_at)
        .bind(r.now)
        .bind(i64::from(pool_size))
        .bind(stale_after)
        .bind(EVERY_WORKSHOP)
        .fetch_one(pool)
        .await?;
    reservation(&answer)
}

/// Several reservations in one call of `reserve_claims` (migrations/postgres/0007_reserve_claims.sql),
/// one transaction: `reserve_claim` for each, in order. A group of one is that call itself.
#[async_trait::async_trait]
impl ReserveTogether for PgPool {
    async fn reserve_together(&self, group: &[Request]) -> StoreResult<Vec<Reservation>> {
        if let [one] = group {
            return Ok(vec![reserve_claim(self, &one.reservation, one.pool_size, one.stale_after).await?]);
        }
        static RESERVE_CLAIMS: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT r.outcome, r.other_auth_provider, {}
                   FROM reserve_claims($1, $2, $3, $4, $5, $6, $7, $8, $9) r ORDER BY r.i",
                attendance_columns("(r.attendance).")
            )
        });
        // One array per parameter of `reserve_claim`, in the group's order.
        fn column<'a, T>(group: &'a [Request], value: impl Fn(&'a Request) -> T) -> Vec<T> {
            group.iter().map(value).collect()
        }
        let answers = sqlx::query(&RESERVE_CLAIMS)
            .bind(column(group, |r| r.reservation.user_id.as_str()))
            .bind(column(group, |r| r.reservation.workshop_slug.as_str()))
            .bind(column(group, |r| r.reservation.key_label.as_str()))
            .bind(column(group, |r| r.reservation.limit_usd))
            .bind(column(group, |r| r.reservation.expires_at))
            .bind(column(group, |r| r.reservation.now))
            .bind(column(group, |r| i64::from(r.pool_size)))
            .bind(column(group, |r| r.stale_after))
            .bind(EVERY_WORKSHOP)
            .fetch_all(self)
            .await?;
        if answers.len() != group.len() {
            return Err(StoreError::Corrupt(format!("reserve_claims answered {} of {}", answers.len(), group.len())));
        }
        answers.iter().map(reservation).collect()
    }
}

/// A reservation from a row of `reserve_claim` or `reserve_claims`.
fn reservation(answer: &sqlx::postgres::PgRow) -> StoreResult<Reservation> {
    let attendance = || -> StoreResult<Attendance> { AttendanceRow::from_row(answer)?.try_into() };
    Ok(match answer.try_get::<&str, _>("outcome")? {
        "paused_everywhere" => Reservation::Paused(Pause::Everywhere),
        "paused" => Reservation::Paused(Pause::ThisWorkshop),
        "reserved" => Reservation::Reserved(attendance()?),
        "taken_over" => Reservation::TakenOver(attendance()?),
        "existing" => Reservation::Existing(attendance()?),
        "pool_full" => Reservation::PoolFull,
        "claimed_with_other_sign_in" => {
            Reservation::ClaimedWithOtherSignIn { auth_provider: answer.try_get("other_auth_provider")? }
        }
        other => return Err(StoreError::Corrupt(format!("reserve_claim answered {other:?}"))),
    })
}

/// A whole page of keys' usage in one statement.
pub(super) async fn record_usage(pool: &PgPool, usage: &[(String, Decimal)], now: DateTime<Utc>) -> StoreResult<u64> {
    let (hashes, amounts): (Vec<&str>, Vec<Decimal>) = usage.iter().map(|(h, u)| (h.as_str(), *u)).unzip();
    let updated = sqlx::query(
        "UPDATE workshop_attendance w SET usage_usd = u.usage, usage_synced_at = $3
         FROM UNNEST($1::text[], $2::numeric[]) AS u(hash, usage) WHERE w.or_key_hash = u.hash",
    )
    .bind(&hashes)
    .bind(&amounts)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected())
}

/// The background's role, held by an advisory lock on a connection of its own, outside the pool:
/// the lock lives as long as its session.
pub(super) async fn try_lead(pool: &PgPool) -> StoreResult<Option<Leadership>> {
    let mut connection = pool.acquire().await?.detach();
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(BACKGROUND_LOCK).fetch_one(&mut connection).await?;
    Ok(locked.then(|| Leadership::postgres(connection)))
}
