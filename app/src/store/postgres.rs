//! Postgres backend. Money is NUMERIC, times are TIMESTAMPTZ.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use super::*;

pub struct PgStore {
    pool: PgPool,
}

/// The Postgres schema, as this binary knows it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Deletes the attendee's `reserved` row (only if reserved before `reserved_before`, when
    /// given) and gives its slot back to the pool, in one transaction; whether a row went.
    async fn release_reserved(
        &self,
        user_id: &str,
        workshop_slug: &str,
        reserved_before: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM workshop_attendance
             WHERE user_id = $1 AND workshop_slug = $2 AND status = 'reserved'
               AND ($3::timestamptz IS NULL OR reserved_at < $3)",
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
    }
}

/// The advisory lock key of the background work (any constant shared by all replicas).
const BACKGROUND_LOCK: i64 = 0x6d69_6e74_6572; // "minter"

const ATTENDEE_COLUMNS: &str = "user_id, email, email_normalized, display_name, auth_provider, marketing_opted_in, \
     marketing_opted_in_at, marketing_opted_in_workshop, first_seen_at, last_seen_at";

fn profile_from_row(row: &PgRow) -> StoreResult<AttendeeProfile> {
    Ok(AttendeeProfile {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        email_normalized: row.try_get("email_normalized")?,
        display_name: row.try_get("display_name")?,
        auth_provider: row.try_get("auth_provider")?,
    })
}

fn attendee_from_row(row: &PgRow) -> StoreResult<Attendee> {
    Ok(Attendee {
        profile: profile_from_row(row)?,
        marketing_opted_in: row.try_get("marketing_opted_in")?,
        marketing_opted_in_at: row.try_get("marketing_opted_in_at")?,
        marketing_opted_in_workshop: row.try_get("marketing_opted_in_workshop")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

fn attendance_from_row(row: &PgRow) -> StoreResult<Attendance> {
    Ok(Attendance {
        user_id: row.try_get("user_id")?,
        workshop_slug: row.try_get("workshop_slug")?,
        status: ClaimStatus::parse(row.try_get("status")?)?,
        reserved_at: row.try_get("reserved_at")?,
        or_key_hash: row.try_get("or_key_hash")?,
        or_key_plaintext: row.try_get("or_key_plaintext")?,
        key_label: row.try_get("key_label")?,
        limit_usd: row.try_get("limit_usd")?,
        expires_at: row.try_get("expires_at")?,
        or_guardrail_id: row.try_get("or_guardrail_id")?,
        guardrail_attached_at: row.try_get("guardrail_attached_at")?,
        usage_usd: row.try_get("usage_usd")?,
        usage_synced_at: row.try_get("usage_synced_at")?,
        attended_at: row.try_get("attended_at")?,
        disabled_at: row.try_get("disabled_at")?,
        bind_attempts: row.try_get::<i32, _>("bind_attempts")?.try_into().unwrap_or(0),
        next_bind_at: row.try_get("next_bind_at")?,
        retired_usage_usd: row.try_get("retired_usage_usd")?,
    })
}

const SELECT_ATTENDANCE: &str = "SELECT * FROM workshop_attendance WHERE user_id = $1 AND workshop_slug = $2";

#[async_trait]
impl Store for PgStore {
    async fn upsert_attendee(&self, p: &AttendeeProfile, now: DateTime<Utc>) -> StoreResult<Attendee> {
        let row = sqlx::query(&format!(
            "INSERT INTO attendees (user_id, email, email_normalized, display_name, auth_provider, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, email_normalized = EXCLUDED.email_normalized,
                 display_name = EXCLUDED.display_name, auth_provider = EXCLUDED.auth_provider, last_seen_at = EXCLUDED.last_seen_at
             RETURNING {ATTENDEE_COLUMNS}"
        ))
        .bind(&p.user_id)
        .bind(&p.email)
        .bind(&p.email_normalized)
        .bind(&p.display_name)
        .bind(&p.auth_provider)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        attendee_from_row(&row)
    }

    async fn attendee(&self, user_id: &str) -> StoreResult<Option<Attendee>> {
        let row = sqlx::query(&format!("SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE user_id = $1"))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(attendee_from_row).transpose()
    }

    async fn record_marketing_consent(
        &self,
        user_id: &str,
        workshop_slug: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // One attendee's consents change one request at a time.
        sqlx::query("SELECT 1 FROM attendees WHERE user_id = $1 FOR UPDATE").bind(user_id).execute(&mut *tx).await?;
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
    }

    async fn withdraw_marketing_consent(
        &self,
        user_id: &str,
        workshop_slug: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT 1 FROM attendees WHERE user_id = $1 FOR UPDATE").bind(user_id).execute(&mut *tx).await?;
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
    }

    async fn marketing_consent(&self, user_id: &str, workshop_slug: &str) -> StoreResult<Option<MarketingConsent>> {
        let row: Option<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT workshop_slug, given_at, withdrawn_at FROM marketing_consents
             WHERE user_id = $1 AND workshop_slug = $2 ORDER BY given_at DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(workshop_slug)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(workshop_slug, given_at, withdrawn_at)| MarketingConsent {
            workshop_slug,
            given_at,
            withdrawn_at,
        }))
    }

    async fn workshop_leads(&self, workshop_slug: &str) -> StoreResult<Vec<(AttendeeProfile, MarketingConsent)>> {
        let rows = sqlx::query(
            "SELECT a.user_id, a.email, a.email_normalized, a.display_name, a.auth_provider, c.given_at
             FROM marketing_consents c JOIN attendees a ON a.user_id = c.user_id
             WHERE c.workshop_slug = $1 AND c.withdrawn_at IS NULL
             ORDER BY c.given_at, a.user_id",
        )
        .bind(workshop_slug)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    profile_from_row(row)?,
                    MarketingConsent {
                        workshop_slug: workshop_slug.to_string(),
                        given_at: row.try_get("given_at")?,
                        withdrawn_at: None,
                    },
                ))
            })
            .collect()
    }

    async fn reserve_claim(
        &self,
        r: &NewReservation,
        pool_size: u32,
        stale_after: chrono::Duration,
    ) -> StoreResult<Reservation> {
        // Every claim of a workshop queues on its pool row until commit, so a commit that waited
        // for the disk (3-4 ms here) would cap a burst at a few hundred claims a second. This
        // transaction commits without waiting: a database crash may forget the last moment's
        // reservations, slot and row together (the pool stays exact); such a claim then finds no
        // reservation to save its key in, deletes the key and says so. The key itself is saved
        // with a durable commit.
        let mut tx = self.pool.begin_with("BEGIN; SET LOCAL synchronous_commit = off").await?;
        if let Some(row) = sqlx::query(&format!("{SELECT_ATTENDANCE} FOR UPDATE"))
            .bind(&r.user_id)
            .bind(&r.workshop_slug)
            .fetch_optional(&mut *tx)
            .await?
        {
            let existing = attendance_from_row(&row)?;
            let outcome = take_over_if_stale(&mut tx, existing, r.now, stale_after).await?;
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
        if let Some(auth_provider) = sqlx::query_scalar::<_, String>(
            "SELECT a.auth_provider FROM workshop_attendance w JOIN attendees a ON a.user_id = w.user_id
             WHERE w.workshop_slug = $1 AND w.user_id <> $2
               AND a.email_normalized = (SELECT email_normalized FROM attendees WHERE user_id = $2)
             LIMIT 1",
        )
        .bind(&r.workshop_slug)
        .bind(&r.user_id)
        .fetch_optional(&mut *tx)
        .await?
        {
            tx.rollback().await?;
            return Ok(Reservation::ClaimedWithOtherSignIn { auth_provider });
        }
        // A parallel request of the same attendee got here first (it held the address lock until
        // its commit, or the primary key makes this wait for it): nothing is inserted, theirs is
        // the claim.
        let inserted = sqlx::query(
            "INSERT INTO workshop_attendance (user_id, workshop_slug, status, reserved_at, key_label, limit_usd, expires_at, attended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $4) ON CONFLICT DO NOTHING RETURNING *",
        )
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
            let existing = sqlx::query(SELECT_ATTENDANCE)
                .bind(&r.user_id)
                .bind(&r.workshop_slug)
                .fetch_optional(&self.pool)
                .await?;
            return match existing {
                Some(existing) => Ok(Reservation::Existing(attendance_from_row(&existing)?)),
                // That claim failed meanwhile and gave its slot back: this one starts over.
                None => self.reserve_claim(r, pool_size, stale_after).await,
            };
        };
        // The slot last: every claim of the workshop queues on this row's lock, so it is held
        // for this one statement and the commit only. Postgres checks `claimed < $2` on the row's
        // latest version once it holds the lock: no claim past the pool.
        let took_slot = pool_size > 0
            && sqlx::query(
                "INSERT INTO workshop_pool (workshop_slug, claimed) VALUES ($1, 1)
                 ON CONFLICT (workshop_slug) DO UPDATE SET claimed = workshop_pool.claimed + 1
                 WHERE workshop_pool.claimed < $2",
            )
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
        Ok(Reservation::Reserved(attendance_from_row(&row)?))
    }

    async fn save_minted_key(&self, user_id: &str, workshop_slug: &str, key: &MintedKey) -> StoreResult<()> {
        let saved = sqlx::query(
            "UPDATE workshop_attendance SET status = $3, or_key_hash = $4, or_key_plaintext = $5
             WHERE user_id = $1 AND workshop_slug = $2 AND status = 'reserved'",
        )
        .bind(user_id)
        .bind(workshop_slug)
        .bind(ClaimStatus::Minted.as_str())
        .bind(&key.hash)
        .bind(&key.plaintext)
        .execute(&self.pool)
        .await?;
        match saved.rows_affected() {
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
        sqlx::query(
            "UPDATE workshop_attendance SET or_guardrail_id = $3, guardrail_attached_at = $4
             WHERE user_id = $1 AND workshop_slug = $2",
        )
        .bind(user_id)
        .bind(workshop_slug)
        .bind(guardrail_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_claim(&self, user_id: &str, workshop_slug: &str) -> StoreResult<()> {
        self.release_reserved(user_id, workshop_slug, None).await.map(|_| ())
    }

    async fn attendance(&self, user_id: &str, workshop_slug: &str) -> StoreResult<Option<Attendance>> {
        let row = sqlx::query(SELECT_ATTENDANCE).bind(user_id).bind(workshop_slug).fetch_optional(&self.pool).await?;
        row.as_ref().map(attendance_from_row).transpose()
    }

    async fn claimed_count(&self, workshop_slug: &str) -> StoreResult<u32> {
        let claimed: Option<i32> = sqlx::query_scalar("SELECT claimed FROM workshop_pool WHERE workshop_slug = $1")
            .bind(workshop_slug)
            .fetch_optional(&self.pool)
            .await?;
        Ok(claimed.unwrap_or(0).try_into().unwrap_or(0))
    }

    async fn guardrail_id(&self, workshop_slug: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT guardrail_id FROM workshop_guardrails WHERE workshop_slug = $1")
            .bind(workshop_slug)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn save_guardrail_id(&self, workshop_slug: &str, guardrail_id: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO workshop_guardrails (workshop_slug, guardrail_id) VALUES ($1, $2)
             ON CONFLICT (workshop_slug) DO UPDATE SET guardrail_id = EXCLUDED.guardrail_id",
        )
        .bind(workshop_slug)
        .bind(guardrail_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn try_acquire_guardrail_lease(
        &self,
        workshop_slug: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let current: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT holder, expires_at FROM guardrail_leases WHERE workshop_slug = $1 FOR UPDATE")
                .bind(workshop_slug)
                .fetch_optional(&mut *tx)
                .await?;
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
    }

    async fn release_guardrail_lease(&self, workshop_slug: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM guardrail_leases WHERE workshop_slug = $1 AND holder = $2")
            .bind(workshop_slug)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_usage(&self, usage: &[(String, Decimal)], now: DateTime<Utc>) -> StoreResult<u64> {
        let (hashes, amounts): (Vec<&str>, Vec<Decimal>) = usage.iter().map(|(h, u)| (h.as_str(), *u)).unzip();
        // One statement for a whole page of keys.
        let updated = sqlx::query(
            "UPDATE workshop_attendance w SET usage_usd = u.usage, usage_synced_at = $3
             FROM UNNEST($1::text[], $2::numeric[]) AS u(hash, usage) WHERE w.or_key_hash = u.hash",
        )
        .bind(&hashes)
        .bind(&amounts)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected())
    }

    async fn workshop_attendance(&self, workshop_slug: &str) -> StoreResult<Vec<(Attendee, Attendance)>> {
        let rows = sqlx::query(
            "SELECT w.*, a.email, a.email_normalized, a.display_name, a.auth_provider, a.marketing_opted_in,
                    a.marketing_opted_in_at, a.marketing_opted_in_workshop, a.first_seen_at, a.last_seen_at
             FROM workshop_attendance w JOIN attendees a USING (user_id)
             WHERE w.workshop_slug = $1 ORDER BY w.reserved_at, w.user_id",
        )
        .bind(workshop_slug)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((attendee_from_row(row)?, attendance_from_row(row)?))).collect()
    }

    async fn mark_disabled(&self, user_id: &str, workshop_slug: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE workshop_attendance SET disabled_at = COALESCE(disabled_at, $3)
             WHERE user_id = $1 AND workshop_slug = $2",
        )
        .bind(user_id)
        .bind(workshop_slug)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn rotate_key(&self, r: &KeyRotation) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE workshop_attendance SET or_key_hash = $4, or_key_plaintext = $5, key_label = $6, limit_usd = $7,
                 usage_usd = 0, usage_synced_at = NULL, or_guardrail_id = NULL, guardrail_attached_at = NULL,
                 disabled_at = NULL, bind_attempts = 0, next_bind_at = NULL,
                 retired_usage_usd = retired_usage_usd + $8
             WHERE user_id = $1 AND workshop_slug = $2 AND or_key_hash = $3",
        )
        .bind(&r.user_id)
        .bind(&r.workshop_slug)
        .bind(&r.old_hash)
        .bind(&r.new_key.hash)
        .bind(&r.new_key.plaintext)
        .bind(&r.new_label)
        .bind(r.new_limit_usd)
        .bind(r.old_usage_usd)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO retired_keys (or_key_hash, user_id, workshop_slug, key_label, usage_usd, retired_at, retired_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.old_hash)
        .bind(&r.user_id)
        .bind(&r.workshop_slug)
        .bind(&r.old_label)
        .bind(r.old_usage_usd)
        .bind(r.now)
        .bind(&r.retired_by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn retired_key_hashes(&self, workshop_slug: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT or_key_hash FROM retired_keys WHERE workshop_slug = $1")
            .bind(workshop_slug)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn known_key_hashes(&self) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT or_key_hash FROM workshop_attendance WHERE or_key_hash IS NOT NULL
             UNION SELECT or_key_hash FROM retired_keys",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_claims_paused(
        &self,
        workshop_slug: &str,
        paused_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO workshop_controls (workshop_slug, claims_paused_at, claims_paused_by) VALUES ($1, $2, $3)
             ON CONFLICT (workshop_slug) DO UPDATE
                 SET claims_paused_at = EXCLUDED.claims_paused_at, claims_paused_by = EXCLUDED.claims_paused_by",
        )
        .bind(workshop_slug)
        .bind(paused_by.map(|_| now))
        .bind(paused_by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claims_pauses(&self, workshop_slug: &str) -> StoreResult<Vec<ClaimsPause>> {
        let rows: Vec<(String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
            "SELECT workshop_slug, claims_paused_at, claims_paused_by FROM workshop_controls
             WHERE workshop_slug IN ($1, $2) AND claims_paused_at IS NOT NULL
             ORDER BY workshop_slug = $2 DESC",
        )
        .bind(workshop_slug)
        .bind(EVERY_WORKSHOP)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(slug, paused_at, by)| ClaimsPause {
                paused_at,
                paused_by: by.unwrap_or_default(),
                everywhere: slug == EVERY_WORKSHOP,
            })
            .collect())
    }

    async fn unbound_keys_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<Attendance>> {
        let rows = sqlx::query(
            "SELECT * FROM workshop_attendance
             WHERE status = 'minted' AND guardrail_attached_at IS NULL AND disabled_at IS NULL
               AND (next_bind_at IS NULL OR next_bind_at <= $1)
             ORDER BY reserved_at",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attendance_from_row).collect()
    }

    async fn record_bind_failure(&self, user_id: &str, workshop_slug: &str, next_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE workshop_attendance SET bind_attempts = bind_attempts + 1, next_bind_at = $3
             WHERE user_id = $1 AND workshop_slug = $2",
        )
        .bind(user_id)
        .bind(workshop_slug)
        .bind(next_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_unbound(&self, user_id: &str, workshop_slug: &str, next_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE workshop_attendance SET or_guardrail_id = NULL, guardrail_attached_at = NULL, next_bind_at = $3
             WHERE user_id = $1 AND workshop_slug = $2",
        )
        .bind(user_id)
        .bind(workshop_slug)
        .bind(next_at)
        .execute(&self.pool)
        .await?;
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
        let inserted = sqlx::query(
            "INSERT INTO orphan_keys (or_key_hash, workshop_slug, key_label, disabled_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(hash)
        .bind(workshop_slug)
        .bind(key_label)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn orphans_fixed(&self, workshop_slug: &str) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orphan_keys WHERE workshop_slug = $1")
            .bind(workshop_slug)
            .fetch_one(&self.pool)
            .await?;
        Ok(n.try_into().unwrap_or(u32::MAX))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn try_lead(&self) -> StoreResult<Option<Leadership>> {
        // A connection of its own, outside the pool: the lock lives as long as its session.
        let mut connection = self.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(BACKGROUND_LOCK)
            .fetch_one(&mut connection)
            .await?;
        Ok(locked.then(|| Leadership::postgres(connection)))
    }

    async fn consume_login_state(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool> {
        sqlx::query("DELETE FROM used_login_states WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        let inserted =
            sqlx::query("INSERT INTO used_login_states (id, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(expires_at)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(inserted == 1)
    }

    async fn revoke_session(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("DELETE FROM revoked_sessions WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        sqlx::query("INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_revoked(&self, id: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM revoked_sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

/// A row whose minting request died long ago is handed to this request; otherwise it is reported.
async fn take_over_if_stale(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
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
