//! Postgres: what it does differently from SQLite (see `sql.rs` for everything shared). Money
//! is NUMERIC, times are TIMESTAMPTZ.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};

use super::common::{attendance_columns, AttendanceRow, Dialect, CLAIMED_WITH_OTHER_SIGN_IN};
use super::*;

/// The Postgres schema, as this binary knows it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The advisory lock key of the background work (any constant shared by all replicas).
const BACKGROUND_LOCK: i64 = 0x6d69_6e74_6572; // "minter"

/// Opens a Postgres store (`connect` is in `sql.rs`).
pub struct PgStore;

/// The pool, its migrations applied.
pub(super) async fn connect(url: &str) -> StoreResult<PgPool> {
    let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
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

/// Takes one slot of the workshop's pool (`$1`) if fewer than `$2` are taken: one row changed.
/// The check runs on the row's latest version under its lock, so no claim goes past the pool.
const TAKE_A_SLOT: &str = "INSERT INTO workshop_pool (workshop_slug, claimed) VALUES ($1, 1)
     ON CONFLICT (workshop_slug) DO UPDATE SET claimed = workshop_pool.claimed + 1
     WHERE workshop_pool.claimed < $2";

/// Reserves a pool slot and the attendee's row. Every claim of a workshop queues on its pool row
/// until commit, so that row is taken last and held for one statement and the commit only.
pub(super) async fn reserve_claim(
    pool: &PgPool,
    r: &NewReservation,
    pool_size: u32,
    stale_after: chrono::Duration,
) -> StoreResult<Reservation> {
    // A commit that waited for the disk (3-4 ms here) would cap a burst at a few hundred claims a
    // second. This transaction commits without waiting: a database crash may forget the last
    // moment's reservations, slot and row together (the pool stays exact); such a claim then
    // finds no reservation to save its key in, deletes the key and says so. The key itself is
    // saved with a durable commit.
    let mut tx = pool.begin_with("BEGIN; SET LOCAL synchronous_commit = off").await?;
    let select = format!(
        "SELECT {} FROM workshop_attendance WHERE user_id = $1 AND workshop_slug = $2 FOR UPDATE",
        attendance_columns("")
    );
    let existing: Option<AttendanceRow> =
        sqlx::query_as(&select).bind(&r.user_id).bind(&r.workshop_slug).fetch_optional(&mut *tx).await?;
    if let Some(existing) = existing {
        let outcome = take_over_if_stale(&mut tx, existing.try_into()?, r.now, stale_after).await?;
        tx.commit().await?;
        return Ok(outcome);
    }
    // One key per email address, whichever way its owner signs in: claims under the same
    // address queue on this lock (only they do), so the check below sees the other's row.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || email_normalized, 0))
         FROM attendees WHERE user_id = $2",
    )
    .bind(&r.workshop_slug)
    .bind(&r.user_id)
    .execute(&mut *tx)
    .await?;
    if let Some(auth_provider) = sqlx::query_scalar::<_, String>(CLAIMED_WITH_OTHER_SIGN_IN)
        .bind(&r.workshop_slug)
        .bind(&r.user_id)
        .fetch_optional(&mut *tx)
        .await?
    {
        tx.rollback().await?;
        return Ok(Reservation::ClaimedWithOtherSignIn { auth_provider });
    }
    // A parallel request of the same attendee got here first (it held the address lock until
    // its commit, or the primary key makes this wait for it): nothing is inserted, theirs is the
    // claim.
    let insert = format!(
        "INSERT INTO workshop_attendance (user_id, workshop_slug, status, reserved_at, key_label, limit_usd, expires_at, attended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $4) ON CONFLICT DO NOTHING RETURNING {}",
        attendance_columns("")
    );
    let inserted: Option<AttendanceRow> = sqlx::query_as(&insert)
        .bind(&r.user_id)
        .bind(&r.workshop_slug)
        .bind(ClaimStatus::Reserved.as_str())
        .bind(r.now)
        .bind(&r.key_label)
        .bind(r.limit_usd)
        .bind(r.expires_at)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = inserted else {
        tx.rollback().await?;
        let select = format!(
            "SELECT {} FROM workshop_attendance WHERE user_id = $1 AND workshop_slug = $2",
            attendance_columns("")
        );
        let existing: Option<AttendanceRow> =
            sqlx::query_as(&select).bind(&r.user_id).bind(&r.workshop_slug).fetch_optional(pool).await?;
        return match existing {
            Some(existing) => Ok(Reservation::Existing(existing.try_into()?)),
            // That claim failed meanwhile and gave its slot back: this one starts over.
            None => Box::pin(reserve_claim(pool, r, pool_size, stale_after)).await,
        };
    };
    // The slot last. Postgres checks `claimed < $2` on the row's latest version once it holds the
    // lock: no claim past the pool.
    let took_slot = pool_size > 0
        && sqlx::query(TAKE_A_SLOT)
            .bind(&r.workshop_slug)
            .bind(i64::from(pool_size))
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if !took_slot {
        tx.rollback().await?;
        return Ok(Reservation::PoolFull);
    }
    tx.commit().await?;
    Ok(Reservation::Reserved(row.try_into()?))
}

/// A row whose minting request died long ago is handed to this request; otherwise it is reported.
async fn take_over_if_stale(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    existing: Attendance,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> StoreResult<Reservation> {
    if !existing.is_stale_reservation(now, stale_after) {
        return Ok(Reservation::Existing(existing));
    }
    sqlx::query("UPDATE workshop_attendance SET reserved_at = $3 WHERE user_id = $1 AND workshop_slug = $2")
        .bind(&existing.user_id)
        .bind(&existing.workshop_slug)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(Reservation::TakenOver(Attendance { reserved_at: now, ..existing }))
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
