//! SQLite, the embedded default: what it does differently from Postgres (see `sql.rs` for
//! everything shared). Money is decimal TEXT (exact), times are UTC TEXT. SQLite has one writer
//! at a time, so the store writes through one connection of its own ([`Pools::writer`]) and
//! reads through the others; `BEGIN IMMEDIATE` takes the write lock up front so that a
//! transaction never has to upgrade a read lock (which could fail with SQLITE_BUSY).

use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::common::{attendance_columns, AttendanceRow, Dialect, Money, PauseRow, CLAIMS_PAUSES};
use super::*;

/// The SQLite schema, as this binary knows it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Opens a SQLite store (`connect` is in `sql.rs`).
pub struct SqliteStore;

/// The connections of a SQLite store.
pub(super) struct Pools {
    /// Every read.
    pub reads: SqlitePool,
    /// Every write: one connection, which writers wait for in the order they asked. With writers
    /// on several connections, all but one found the file locked and SQLite's busy handler
    /// retried them after sleeps of up to 100 ms, in no order (docs/benchmarks.md has the burst
    /// before and after).
    pub writer: SqlitePool,
}

/// The pools, the migrations applied.
pub(super) async fn connect(url: &str) -> StoreResult<Pools> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Writes are serialised, and with FULL each commit waited for the disk while holding the
        // write lock: three commits a claim made a 300-person burst queue on fsync. In WAL mode
        // NORMAL never corrupts the file and survives a crash of the process; a power loss may
        // forget the last commits. A forgotten reservation frees its slot with it (the pool stays
        // exact); a forgotten key is an orphan at OpenRouter, which the background sync disables,
        // and the attendee claims again. (Postgres: the reservation alone commits without waiting.)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(30))
        .foreign_keys(true);
    // A local file's connections do not drop: no ping before each use.
    let pool = |max| SqlitePoolOptions::new().max_connections(max).test_before_acquire(false);
    // An in-memory database exists per connection: one connection does everything.
    if url.contains(":memory:") || url.contains("mode=memory") {
        let only = pool(1).connect_with(options).await?;
        MIGRATOR.run(&only).await?;
        return Ok(Pools { reads: only.clone(), writer: only });
    }
    let writer = pool(1).connect_with(options.clone()).await?;
    MIGRATOR.run(&writer).await?;
    Ok(Pools { reads: pool(8).connect_with(options).await?, writer })
}

impl Dialect for Sqlite {
    // The write lock taken at BEGIN already excludes every other writer.
    const FOR_UPDATE: &'static str = "";

    async fn begin_write(pool: &SqlitePool) -> sqlx::Result<sqlx::Transaction<'static, Sqlite>> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn lock_attendee(_tx: &mut sqlx::Transaction<'static, Sqlite>, _user_id: &str) -> sqlx::Result<()> {
        Ok(())
    }
}

/// Whether another attendee with the same normalised email already has a row in the workshop
/// (`$1` the workshop, `$2` the attendee): their sign-in provider. It starts from the address
/// (nearly always no one else has it) and looks each one up by the row's key: starting from the
/// workshop's rows, as the planner chose for a join, every first claim read all the claims
/// before it, under the write lock.
const CLAIMED_WITH_OTHER_SIGN_IN: &str = "SELECT a.auth_provider FROM attendees a
     WHERE a.email_normalized = (SELECT b.email_normalized FROM attendees b WHERE b.user_id = $2)
       AND a.user_id <> $2
       AND EXISTS (SELECT 1 FROM workshop_attendance w WHERE w.user_id = a.user_id AND w.workshop_slug = $1)
     LIMIT 1";

/// Takes one slot of the workshop's pool (`$1`) if fewer than `$3` are taken, claims are not
/// paused (in the workshop or everywhere, `$4`), the attendee (`$2`) has no row in the workshop
/// and their address has none under another sign-in: one row changed. A first claim is then two
/// statements (this and the row's insert) under the write lock: each is a round trip to the
/// connection's thread, made while every other writer waits.
static TAKE_A_SLOT_IF_NEW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO workshop_pool (workshop_slug, claimed)
         SELECT $1, 1 WHERE NOT EXISTS (SELECT 1 FROM workshop_controls
                                        WHERE workshop_slug IN ($1, $4) AND claims_paused_at IS NOT NULL)
                        AND NOT EXISTS (SELECT 1 FROM workshop_attendance WHERE user_id = $2 AND workshop_slug = $1)
                        AND NOT EXISTS ({CLAIMED_WITH_OTHER_SIGN_IN})
         ON CONFLICT (workshop_slug) DO UPDATE SET claimed = workshop_pool.claimed + 1
         WHERE workshop_pool.claimed < $3"
    )
});

/// Reserves a pool slot and the attendee's row inside `tx`, which holds the write lock; the
/// caller commits (`group_commit.rs` commits several reservations at once).
pub(super) async fn reserve_in(
    tx: &mut SqliteConnection,
    r: &NewReservation,
    pool_size: u32,
    stale_after: chrono::Duration,
) -> StoreResult<Reservation> {
    let took_slot = pool_size > 0
        && sqlx::query(&TAKE_A_SLOT_IF_NEW)
            .bind(&r.workshop_slug)
            .bind(&r.user_id)
            .bind(i64::from(pool_size))
            .bind(EVERY_WORKSHOP)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if took_slot {
        let insert = format!(
            "INSERT INTO workshop_attendance (user_id, workshop_slug, status, reserved_at, key_label, limit_usd, expires_at, attended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $4) RETURNING {}",
            attendance_columns("")
        );
        let row: AttendanceRow = sqlx::query_as(&insert)
            .bind(&r.user_id)
            .bind(&r.workshop_slug)
            .bind(ClaimStatus::Reserved.as_str())
            .bind(r.now)
            .bind(&r.key_label)
            .bind(Money(r.limit_usd))
            .bind(r.expires_at)
            .fetch_one(&mut *tx)
            .await?;
        return Ok(Reservation::Reserved(row.try_into()?));
    }
    // No slot taken: claims are paused, or the attendee has a row, or their address has one
    // under another sign-in, or the pool is full. Asked in that order, under the same lock;
    // nothing else is written.
    let pause: Option<PauseRow> =
        sqlx::query_as(CLAIMS_PAUSES).bind(&r.workshop_slug).bind(EVERY_WORKSHOP).fetch_optional(&mut *tx).await?;
    if let Some(pause) = pause {
        return Ok(Reservation::Paused(ClaimsPause::from(pause).scope()));
    }
    let select =
        format!("SELECT {} FROM workshop_attendance WHERE user_id = $1 AND workshop_slug = $2", attendance_columns(""));
    let existing: Option<AttendanceRow> =
        sqlx::query_as(&select).bind(&r.user_id).bind(&r.workshop_slug).fetch_optional(&mut *tx).await?;
    if let Some(existing) = existing {
        let existing = Attendance::try_from(existing)?;
        if !existing.is_stale_reservation(r.now, stale_after) {
            return Ok(Reservation::Existing(existing));
        }
        sqlx::query("UPDATE workshop_attendance SET reserved_at = $3 WHERE user_id = $1 AND workshop_slug = $2")
            .bind(&r.user_id)
            .bind(&r.workshop_slug)
            .bind(r.now)
            .execute(&mut *tx)
            .await?;
        return Ok(Reservation::TakenOver(Attendance { reserved_at: r.now, ..existing }));
    }
    let other_sign_in = sqlx::query_scalar::<_, String>(CLAIMED_WITH_OTHER_SIGN_IN)
        .bind(&r.workshop_slug)
        .bind(&r.user_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(match other_sign_in {
        // One key per email address, whichever way its owner signs in.
        Some(auth_provider) => Reservation::ClaimedWithOtherSignIn { auth_provider },
        None => Reservation::PoolFull,
    })
}

/// A page of keys' usage, one statement per key in one transaction (SQLite has no arrays).
pub(super) async fn record_usage(
    pool: &SqlitePool,
    usage: &[(String, Decimal)],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let mut tx = pool.begin().await?;
    let mut updated = 0;
    for (hash, amount) in usage {
        updated +=
            sqlx::query("UPDATE workshop_attendance SET usage_usd = $2, usage_synced_at = $3 WHERE or_key_hash = $1")
                .bind(hash)
                .bind(Money(*amount))
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
    }
    tx.commit().await?;
    Ok(updated)
}
