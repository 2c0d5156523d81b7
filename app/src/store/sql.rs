//! The one storage implementation: every statement where Postgres and SQLite agree is written
//! once here (with `$N` placeholders, which both accept), and every row is mapped once
//! ([`AttendanceRow`], [`AttendeeRow`]). The dialects (`postgres.rs`, `sqlite.rs`) hold only
//! what truly differs:
//!
//! - connecting: pool sizes (SQLite writes through one connection of its own), SQLite's WAL and
//!   busy timeout, each one's migrations;
//! - locking: SQLite takes its one write lock up front (`BEGIN IMMEDIATE`), Postgres locks the
//!   rows it reads (`FOR UPDATE`) and an attendee's row around consent changes;
//! - reserving a claim: on Postgres every claim of a workshop queues on one pool row, so the
//!   reservation is one call of a database function (`reserve_claim`, a migration) and the row
//!   is never locked while an answer travels; SQLite reserves in two statements under its one
//!   write lock. Both take several reservations to a transaction (`group_commit.rs`; on
//!   Postgres one call of `reserve_claims`);
//! - money: Postgres `NUMERIC`, SQLite exact decimal `TEXT` ([`Money`]); sums of money (a key
//!   rotation's retired usage) are done in Rust, as SQLite would add `TEXT` as floats;
//! - the usage sync: one `UNNEST` statement for a page of keys on Postgres, one `UPDATE` per key
//!   on SQLite (it has no arrays);
//! - the background's leader: a Postgres advisory lock; SQLite has one process by construction.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgPool;

use super::common::{attendance_columns, AttendanceRow, Dialect, Money, PauseRow, CLAIMS_PAUSES};
use super::group_commit::GroupCommit;
use super::postgres::{self, PgStore};
use super::sqlite::{self, SqliteStore};
use super::*;

/// The pools of one of the two databases.
enum Db {
    Postgres {
        pool: PgPool,
        /// Claim reservations, several to a call of `reserve_claims`, on a connection of their
        /// own.
        reservations: GroupCommit,
    },
    Sqlite {
        pools: sqlite::Pools,
        /// Claim reservations, several to a transaction on the writer.
        reservations: GroupCommit,
    },
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` reads with: the statement is written
/// once and compiled for each database.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Postgres { pool: $pool, .. } => $body,
            Db::Sqlite { pools: sqlite::Pools { reads: $pool, .. }, .. } => $body,
        }
    };
}

/// [`on_pool!`] for statements that write: on SQLite, its one writer connection.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Postgres { pool: $pool, .. } => $body,
            Db::Sqlite { pools: sqlite::Pools { writer: $pool, .. }, .. } => $body,
        }
    };
}

/// The SQL store. Built by `PgStore::connect` or `SqliteStore::connect`.
pub struct SqlStore {
    db: Db,
    /// Writes finished through this store: [`Store::changes`].
    changes: AtomicU64,
}

impl SqlStore {
    fn new(db: Db) -> SqlStore {
        SqlStore { db, changes: AtomicU64::new(0) }
    }

    /// Held by every method that writes: counts the write when the method ends (after its
    /// commit, failed or not), so that a reader who saw the count before reading never keeps a
    /// result older than the data.
    fn counting_write(&self) -> CountedWrite<'_> {
        CountedWrite(&self.changes)
    }
}

struct CountedWrite<'a>(&'a AtomicU64);

impl Drop for CountedWrite<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl PgStore {
    /// A store on the Postgres database of `url`, its migrations applied.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        let pools = postgres::connect(url).await?;
        let reservations = GroupCommit::start(pools.reservations);
        Ok(SqlStore::new(Db::Postgres { pool: pools.shared, reservations }))
    }
}

impl SqliteStore {
    /// A store on the SQLite database of `url` (created if missing), its migrations applied.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        let pools = sqlite::connect(url).await?;
        let reservations = GroupCommit::start(pools.writer.clone());
        Ok(SqlStore::new(Db::Sqlite { pools, reservations }))
    }
}

/// The columns of `attendees` as [`AttendeeRow`] reads them, each prefixed with `table`.
fn attendee_columns(table: &str) -> String {
    [
        "user_id",
        "email",
        "email_normalized",
        "display_name",
        "auth_provider",
        "marketing_opted_in",
        "marketing_opted_in_at",
        "marketing_opted_in_workshop",
        "first_seen_at",
        "last_seen_at",
    ]
    .iter()
    .map(|column| format!("{table}{column}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// One `attendees` row as both databases return it.
#[derive(sqlx::FromRow)]
struct AttendeeRow {
    user_id: String,
    email: String,
    email_normalized: String,
    display_name: String,
    auth_provider: String,
    marketing_opted_in: bool,
    marketing_opted_in_at: Option<DateTime<Utc>>,
    marketing_opted_in_workshop: Option<String>,
    first_seen_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

impl From<AttendeeRow> for Attendee {
    fn from(row: AttendeeRow) -> Attendee {
        Attendee {
            profile: AttendeeProfile {
                user_id: row.user_id,
                email: row.email,
                email_normalized: row.email_normalized,
                display_name: row.display_name,
                auth_provider: row.auth_provider,
            },
            marketing_opted_in: row.marketing_opted_in,
            marketing_opted_in_at: row.marketing_opted_in_at,
            marketing_opted_in_workshop: row.marketing_opted_in_workshop,
            first_seen_at: row.first_seen_at,
            last_seen_at: row.last_seen_at,
        }
    }
}

/// An attendee beside one of their attendance rows (the admin table); both read `user_id`.
#[derive(sqlx::FromRow)]
struct AttendeeAttendanceRow {
    #[sqlx(flatten)]
    attendee: AttendeeRow,
    #[sqlx(flatten)]
    attendance: AttendanceRow,
}

/// A lead: who opted in to marketing email in a workshop, and when.
#[derive(sqlx::FromRow)]
struct LeadRow {
    user_id: String,
    email: String,
    email_normalized: String,
    display_name: String,
    auth_provider: String,
    given_at: DateTime<Utc>,
}

fn attendances(rows: Vec<AttendanceRow>) -> StoreResult<Vec<Attendance>> {
    rows.into_iter().map(Attendance::try_from).collect()
}

impl SqlStore {
    /// Deletes the attendee's `reserved` row (only if reserved before `reserved_before`, when
    /// given) and gives its slot back to the pool, in one transaction; whether a row went.
    async fn release_reserved(
        &self,
        user_id: &str,
        workshop_slug: &str,
        reserved_before: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            let mut tx = Dialect::begin_write(pool).await?;
            let deleted = sqlx::query(
                "DELETE FROM workshop_attendance
                 WHERE user_id = $1 AND workshop_slug = $2 AND status = 'reserved'
                   AND ($3 IS NULL OR reserved_at < $3)",
            )
            .bind(user_id)
            .bind(workshop_slug)
            .bind(reserved_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted == 1 {
                sqlx::query("UPDATE workshop_pool SET claimed = claimed - 1 WHERE workshop_slug = $1")
                    .bind(workshop_slug)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(deleted == 1)
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    async fn upsert_attendee(&self, p: &AttendeeProfile, now: DateTime<Utc>) -> StoreResult<Attendee> {
        let _counted = self.counting_write();
        let sql = format!(
            "INSERT INTO attendees (user_id, email, email_normalized, display_name, auth_provider, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, email_normalized = excluded.email_normalized,
                 display_name = excluded.display_name, auth_provider = excluded.auth_provider, last_seen_at = excluded.last_seen_at
             RETURNING {}",
            attendee_columns("")
        );
        let row: AttendeeRow = on_writer!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(&p.user_id)
                .bind(&p.email)
                .bind(&p.email_normalized)
                .bind(&p.display_name)
                .bind(&p.auth_provider)
                .bind(now)
                .fetch_one(pool)
                .await?
        });
        Ok(row.into())
    }

    async fn attendee(&self, user_id: &str) -> StoreResult<Option<Attendee>> {
        let sql = format!("SELECT {} FROM attendees WHERE user_id = $1", attendee_columns(""));
        let row: Option<AttendeeRow> =
            on_pool!(&self.db, pool => sqlx::query_as(&sql).bind(user_id).fetch_optional(pool).await?);
        Ok(row.map(Attendee::from))
    }

    async fn record_marketing_consent(
        &self,
        user_id: &str,
        workshop_slug: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            let mut tx = Dialect::begin_write(pool).await?;
            Dialect::lock_attendee(&mut tx, user_id).await?;
            let given = sqlx::query(
                "INSERT INTO marketing_consents (user_id, workshop_slug, given_at)
                 SELECT $1, $2, $3 WHERE NOT EXISTS (
                     SELECT 1 FROM marketing_consents WHERE user_id = $1 AND workshop_slug = $2 AND withdrawn_at IS NULL)",
            )
            .bind(user_id)
            .bind(workshop_slug)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if given == 1 {
                sqlx::query(
                    "UPDATE attendees SET marketing_opted_in = TRUE, marketing_opted_in_at = $2, marketing_opted_in_workshop = $3
                     WHERE user_id = $1",
                )
                .bind(user_id)
                .bind(now)
                .bind(workshop_slug)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn withdraw_marketing_consent(
        &self,
        user_id: &str,
        workshop_slug: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            let mut tx = Dialect::begin_write(pool).await?;
            Dialect::lock_attendee(&mut tx, user_id).await?;
            let withdrawn = sqlx::query(
                "UPDATE marketing_consents SET withdrawn_at = $3
                 WHERE user_id = $1 AND workshop_slug = $2 AND withdrawn_at IS NULL",
            )
            .bind(user_id)
            .bind(workshop_slug)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if withdrawn > 0 {
                // The attendee's columns keep meaning "latest opt-in still standing".
                let latest: Option<(String, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT workshop_slug, given_at FROM marketing_consents WHERE user_id = $1 AND withdrawn_at IS NULL
                     ORDER BY given_at DESC LIMIT 1",
                )
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE attendees SET marketing_opted_in = $2, marketing_opted_in_at = $3, marketing_opted_in_workshop = $4
                     WHERE user_id = $1",
                )
                .bind(user_id)
                .bind(latest.is_some())
                .bind(latest.as_ref().map(|(_, at)| *at))
                .bind(latest.as_ref().map(|(slug, _)| slug.as_str()))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(withdrawn > 0)
        })
    }

    async fn marketing_consent(&self, user_id: &str, workshop_slug: &str) -> StoreResult<Option<MarketingConsent>> {
        let sql = "SELECT workshop_slug, given_at, withdrawn_at FROM marketing_consents
                   WHERE user_id = $1 AND workshop_slug = $2 ORDER BY given_at DESC LIMIT 1";
        let row: Option<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(user_id).bind(workshop_slug).fetch_optional(pool).await?
        });
        Ok(row.map(|(workshop_slug, given_at, withdrawn_at)| MarketingConsent {
            workshop_slug,
            given_at,
            withdrawn_at,
        }))
    }

    async fn workshop_leads(&self, workshop_slug: &str) -> StoreResult<Vec<(AttendeeProfile, MarketingConsent)>> {
        let sql = "SELECT a.user_id, a.email, a.email_normalized, a.display_name, a.auth_provider, c.given_at
                   FROM marketing_consents c JOIN attendees a ON a.user_id = c.user_id
                   WHERE c.workshop_slug = $1 AND c.withdrawn_at IS NULL
                   ORDER BY c.given_at, a.user_id";
        let rows: Vec<LeadRow> =
            on_pool!(&self.db, pool => sqlx::query_as(sql).bind(workshop_slug).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|row| {
                let profile = AttendeeProfile {
                    user_id: row.user_id,
                    email: row.email,
                    email_normalized: row.email_normalized,
                    display_name: row.display_name,
                    auth_provider: row.auth_provider,
                };
                let consent = MarketingConsent {
                    workshop_slug: workshop_slug.to_string(),
                    given_at: row.given_at,
                    withdrawn_at: None,
                };
                (profile, consent)
            })
            .collect())
    }

    async fn reserve_claim(
        &self,
        r: &NewReservation,
        pool_size: u32,
        stale_after: chrono::Duration,
    ) -> StoreResult<Reservation> {
        let _counted = self.counting_write();
        let (Db::Postgres { reservations, .. } | Db::Sqlite { reservations, .. }) = &self.db;
        reservations.reserve(r, pool_size, stale_after).await
    }

    async fn save_minted_key(
        &self,
        user_id: &str,
        workshop_slug: &str,
        key: &MintedKey,
        binding: &Binding,
    ) -> StoreResult<()> {
        let _counted = self.counting_write();
        let saved = on_writer!(&self.db, pool => {
            sqlx::query(
                "UPDATE workshop_attendance SET status = $3, or_key_hash = $4, or_key_plaintext = $5,
                   or_guardrail_id = $6, guardrail_attached_at = $7, bind_attempts = $8, next_bind_at = $9
                 WHERE user_id = $1 AND workshop_slug = $2 AND status = 'reserved'",
            )
            .bind(user_id)
            .bind(workshop_slug)
            .bind(ClaimStatus::Minted.as_str())
            .bind(&key.hash)
            .bind(&key.plaintext)
            .bind(binding.guardrail_id())
            .bind(binding.attached_at())
            .bind(binding.failed_attempts() as i32)
            .bind(binding.retry_at())
            .execute(pool)
            .await?
            .rows_affected()
        });
        match saved {
            1 => Ok(()),
            _ => Err(StoreError::NotReserved),
        }
    }

    async fn mark_bound(
        &self,
        user_id: &str,
        workshop_slug: &str,
        guardrail_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            sqlx::query(
                "UPDATE workshop_attendance SET or_guardrail_id = $3, guardrail_attached_at = $4
                 WHERE user_id = $1 AND workshop_slug = $2",
            )
            .bind(user_id)
            .bind(workshop_slug)
            .bind(guardrail_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    async fn release_claim(&self, user_id: &str, workshop_slug: &str) -> StoreResult<()> {
        self.release_reserved(user_id, workshop_slug, None).await.map(|_| ())
    }

    async fn attendance(&self, user_id: &str, workshop_slug: &str) -> StoreResult<Option<Attendance>> {
        let sql = format!(
            "SELECT {} FROM workshop_attendance WHERE user_id = $1 AND workshop_slug = $2",
            attendance_columns("")
        );
        let row: Option<AttendanceRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(user_id).bind(workshop_slug).fetch_optional(pool).await?
        });
        row.map(Attendance::try_from).transpose()
    }

    async fn claimed_count(&self, workshop_slug: &str) -> StoreResult<u32> {
        let sql = "SELECT CAST(claimed AS BIGINT) FROM workshop_pool WHERE workshop_slug = $1";
        let claimed: Option<i64> =
            on_pool!(&self.db, pool => sqlx::query_scalar(sql).bind(workshop_slug).fetch_optional(pool).await?);
        Ok(claimed.unwrap_or(0).try_into().unwrap_or(0))
    }

    async fn guardrail_id(&self, workshop_slug: &str) -> StoreResult<Option<String>> {
        let sql = "SELECT guardrail_id FROM workshop_guardrails WHERE workshop_slug = $1";
        Ok(on_pool!(&self.db, pool => sqlx::query_scalar(sql).bind(workshop_slug).fetch_optional(pool).await?))
    }

    async fn save_guardrail_id(&self, workshop_slug: &str, guardrail_id: &str) -> StoreResult<()> {
        let _counted = self.counting_write();
        let sql = "INSERT INTO workshop_guardrails (workshop_slug, guardrail_id) VALUES ($1, $2)
                   ON CONFLICT (workshop_slug) DO UPDATE SET guardrail_id = excluded.guardrail_id";
        on_writer!(&self.db, pool => sqlx::query(sql).bind(workshop_slug).bind(guardrail_id).execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn try_acquire_guardrail_lease(
        &self,
        workshop_slug: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreResult<bool> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            let mut tx = Dialect::begin_write(pool).await?;
            let select = format!(
                "SELECT holder, expires_at FROM guardrail_leases WHERE workshop_slug = $1{}",
                for_update(pool)
            );
            let current: Option<(String, DateTime<Utc>)> =
                sqlx::query_as(&select).bind(workshop_slug).fetch_optional(&mut *tx).await?;
            let taken = match current {
                Some((current, expires_at)) if current != holder && expires_at > now => false,
                Some(_) => {
                    sqlx::query("UPDATE guardrail_leases SET holder = $2, expires_at = $3 WHERE workshop_slug = $1")
                        .bind(workshop_slug)
                        .bind(holder)
                        .bind(now + ttl)
                        .execute(&mut *tx)
                        .await?;
                    true
                }
                // A parallel insert wins the conflict and this one takes nothing.
                None => {
                    sqlx::query(
                        "INSERT INTO guardrail_leases (workshop_slug, holder, expires_at) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(workshop_slug)
                    .bind(holder)
                    .bind(now + ttl)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                }
            };
            tx.commit().await?;
            Ok(taken)
        })
    }

    async fn release_guardrail_lease(&self, workshop_slug: &str, holder: &str) -> StoreResult<()> {
        let _counted = self.counting_write();
        let sql = "DELETE FROM guardrail_leases WHERE workshop_slug = $1 AND holder = $2";
        on_writer!(&self.db, pool => sqlx::query(sql).bind(workshop_slug).bind(holder).execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn record_usage(&self, usage: &[(String, Decimal)], now: DateTime<Utc>) -> StoreResult<u64> {
        let _counted = self.counting_write();
        match &self.db {
            Db::Postgres { pool, .. } => postgres::record_usage(pool, usage, now).await,
            Db::Sqlite { pools, .. } => sqlite::record_usage(&pools.writer, usage, now).await,
        }
    }

    async fn workshop_attendance(&self, workshop_slug: &str) -> StoreResult<Vec<(Attendee, Attendance)>> {
        let sql = format!(
            "SELECT {}, a.email, a.email_normalized, a.display_name, a.auth_provider, a.marketing_opted_in,
                    a.marketing_opted_in_at, a.marketing_opted_in_workshop, a.first_seen_at, a.last_seen_at
             FROM workshop_attendance w JOIN attendees a ON a.user_id = w.user_id
             WHERE w.workshop_slug = $1 ORDER BY w.reserved_at, w.user_id",
            attendance_columns("w.")
        );
        let rows: Vec<AttendeeAttendanceRow> =
            on_pool!(&self.db, pool => sqlx::query_as(&sql).bind(workshop_slug).fetch_all(pool).await?);
        rows.into_iter().map(|row| Ok((row.attendee.into(), row.attendance.try_into()?))).collect()
    }

    async fn mark_disabled(&self, user_id: &str, workshop_slug: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let _counted = self.counting_write();
        let sql = "UPDATE workshop_attendance SET disabled_at = COALESCE(disabled_at, $3)
                   WHERE user_id = $1 AND workshop_slug = $2";
        on_writer!(&self.db, pool => sqlx::query(sql).bind(user_id).bind(workshop_slug).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn rotate_key(&self, r: &KeyRotation) -> StoreResult<bool> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            let mut tx = Dialect::begin_write(pool).await?;
            // Read and locked first: the retired usage is added in Rust, exactly (SQLite would add
            // its TEXT money as floats).
            let select = format!(
                "SELECT {} FROM workshop_attendance WHERE user_id = $1 AND workshop_slug = $2 AND or_key_hash = $3{}",
                attendance_columns(""),
                for_update(pool)
            );
            let row: Option<AttendanceRow> = sqlx::query_as(&select)
                .bind(&r.user_id)
                .bind(&r.workshop_slug)
                .bind(&r.old_hash)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                tx.rollback().await?;
                return Ok(false);
            };
            let retired = Attendance::try_from(row)?.retired_usage_usd + r.old_usage_usd;
            sqlx::query(
                "UPDATE workshop_attendance SET or_key_hash = $3, or_key_plaintext = $4, key_label = $5, limit_usd = $6,
                     usage_usd = $7, usage_synced_at = NULL, or_guardrail_id = NULL, guardrail_attached_at = NULL,
                     disabled_at = NULL, bind_attempts = 0, next_bind_at = NULL, retired_usage_usd = $8
                 WHERE user_id = $1 AND workshop_slug = $2",
            )
            .bind(&r.user_id)
            .bind(&r.workshop_slug)
            .bind(&r.new_key.hash)
            .bind(&r.new_key.plaintext)
            .bind(&r.new_label)
            .bind(Money(r.new_limit_usd))
            .bind(Money(Decimal::ZERO))
            .bind(Money(retired))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO retired_keys (or_key_hash, user_id, workshop_slug, key_label, usage_usd, retired_at, retired_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&r.old_hash)
            .bind(&r.user_id)
            .bind(&r.workshop_slug)
            .bind(&r.old_label)
            .bind(Money(r.old_usage_usd))
            .bind(r.now)
            .bind(&r.retired_by)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn retired_key_hashes(&self, workshop_slug: &str) -> StoreResult<Vec<String>> {
        let sql = "SELECT or_key_hash FROM retired_keys WHERE workshop_slug = $1";
        Ok(on_pool!(&self.db, pool => sqlx::query_scalar(sql).bind(workshop_slug).fetch_all(pool).await?))
    }

    async fn known_key_hashes(&self) -> StoreResult<Vec<String>> {
        let sql = "SELECT or_key_hash FROM workshop_attendance WHERE or_key_hash IS NOT NULL
                   UNION SELECT or_key_hash FROM retired_keys";
        Ok(on_pool!(&self.db, pool => sqlx::query_scalar(sql).fetch_all(pool).await?))
    }

    async fn set_claims_paused(
        &self,
        workshop_slug: &str,
        paused_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _counted = self.counting_write();
        let sql =
            "INSERT INTO workshop_controls (workshop_slug, claims_paused_at, claims_paused_by) VALUES ($1, $2, $3)
                   ON CONFLICT (workshop_slug) DO UPDATE
                       SET claims_paused_at = excluded.claims_paused_at, claims_paused_by = excluded.claims_paused_by";
        on_writer!(&self.db, pool => {
            sqlx::query(sql).bind(workshop_slug).bind(paused_by.map(|_| now)).bind(paused_by).execute(pool).await?.rows_affected()
        });
        Ok(())
    }

    async fn claims_pauses(&self, workshop_slug: &str) -> StoreResult<Vec<ClaimsPause>> {
        let rows: Vec<PauseRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(CLAIMS_PAUSES).bind(workshop_slug).bind(EVERY_WORKSHOP).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(ClaimsPause::from).collect())
    }

    async fn unbound_keys_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<Attendance>> {
        let sql = format!(
            "SELECT {} FROM workshop_attendance
             WHERE status = 'minted' AND guardrail_attached_at IS NULL AND disabled_at IS NULL
               AND (next_bind_at IS NULL OR next_bind_at <= $1)
             ORDER BY reserved_at",
            attendance_columns("")
        );
        let rows: Vec<AttendanceRow> =
            on_pool!(&self.db, pool => sqlx::query_as(&sql).bind(now).fetch_all(pool).await?);
        attendances(rows)
    }

    async fn record_bind_failure(&self, user_id: &str, workshop_slug: &str, next_at: DateTime<Utc>) -> StoreResult<()> {
        let _counted = self.counting_write();
        let sql = "UPDATE workshop_attendance SET bind_attempts = bind_attempts + 1, next_bind_at = $3
                   WHERE user_id = $1 AND workshop_slug = $2";
        on_writer!(&self.db, pool => sqlx::query(sql).bind(user_id).bind(workshop_slug).bind(next_at).execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn mark_unbound(&self, user_id: &str, workshop_slug: &str, next_at: DateTime<Utc>) -> StoreResult<()> {
        let _counted = self.counting_write();
        let sql =
            "UPDATE workshop_attendance SET or_guardrail_id = NULL, guardrail_attached_at = NULL, next_bind_at = $3
                   WHERE user_id = $1 AND workshop_slug = $2";
        on_writer!(&self.db, pool => sqlx::query(sql).bind(user_id).bind(workshop_slug).bind(next_at).execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn release_stale_claim(
        &self,
        user_id: &str,
        workshop_slug: &str,
        reserved_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.release_reserved(user_id, workshop_slug, Some(reserved_before)).await
    }

    async fn record_orphan(
        &self,
        workshop_slug: &str,
        hash: &str,
        key_label: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let _counted = self.counting_write();
        let sql = "INSERT INTO orphan_keys (or_key_hash, workshop_slug, key_label, disabled_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT DO NOTHING";
        let inserted = on_writer!(&self.db, pool => {
            sqlx::query(sql).bind(hash).bind(workshop_slug).bind(key_label).bind(now).execute(pool).await?.rows_affected()
        });
        Ok(inserted == 1)
    }

    async fn orphans_fixed(&self, workshop_slug: &str) -> StoreResult<u32> {
        let sql = "SELECT COUNT(*) FROM orphan_keys WHERE workshop_slug = $1";
        let n: i64 = on_pool!(&self.db, pool => sqlx::query_scalar(sql).bind(workshop_slug).fetch_one(pool).await?);
        Ok(n.try_into().unwrap_or(u32::MAX))
    }

    async fn ping(&self) -> StoreResult<()> {
        on_pool!(&self.db, pool => sqlx::query("SELECT 1").execute(pool).await?.rows_affected());
        Ok(())
    }

    async fn try_lead(&self) -> StoreResult<Option<Leadership>> {
        match &self.db {
            Db::Postgres { pool, .. } => postgres::try_lead(pool).await,
            // One process writes a SQLite file: it leads.
            Db::Sqlite { .. } => Ok(Some(Leadership::sqlite())),
        }
    }

    async fn consume_login_state(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool> {
        let _counted = self.counting_write();
        let inserted = on_writer!(&self.db, pool => {
            sqlx::query("DELETE FROM used_login_states WHERE expires_at < $1").bind(now).execute(pool).await?;
            sqlx::query("INSERT INTO used_login_states (id, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(inserted == 1)
    }

    async fn revoke_session(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()> {
        let _counted = self.counting_write();
        on_writer!(&self.db, pool => {
            sqlx::query("DELETE FROM revoked_sessions WHERE expires_at < $1").bind(now).execute(pool).await?;
            sqlx::query("INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    async fn session_revoked(&self, id: &str) -> StoreResult<bool> {
        let sql = "SELECT 1 FROM revoked_sessions WHERE id = $1";
        let found: Option<i32> =
            on_pool!(&self.db, pool => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await?);
        Ok(found.is_some())
    }
}

/// The dialect's `FOR UPDATE` for a query on `pool` (chosen by the pool's type).
fn for_update<DB: Dialect>(_pool: &sqlx::Pool<DB>) -> &'static str {
    DB::FOR_UPDATE
}
