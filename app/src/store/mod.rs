//! Storage: one interface ([`Store`]) and one implementation of it (`sql.rs`) for two databases,
//! Postgres in production and SQLite embedded; `postgres.rs` and `sqlite.rs` hold only where they
//! truly differ, and `common.rs` what both sides build on. Both pass the same contract tests (`app/tests/store_contract.rs`).

mod common;
mod group_commit;
pub mod inspect;
mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

pub use postgres::{PgStore, PING_IF_IDLE_FOR};
pub use sql::SqlStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported DATABASE_URL (expected postgres://… or sqlite:…)")]
    UnsupportedUrl,
    /// The TLS handshake with Postgres failed; the text says what to check.
    #[error("{0}")]
    Tls(String),
    /// The claim's row is not (or no longer) a reservation: released as stale, or lost to a crash.
    #[error("the claim is no longer reserved")]
    NotReserved,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Who signed in, as the identity provider told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeProfile {
    pub user_id: String,
    pub email: String,
    pub email_normalized: String,
    pub display_name: String,
    pub auth_provider: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attendee {
    pub profile: AttendeeProfile,
    pub marketing_opted_in: bool,
    pub marketing_opted_in_at: Option<DateTime<Utc>>,
    pub marketing_opted_in_workshop: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    /// A pool slot is held while the key is being minted.
    Reserved,
    Minted,
}

impl ClaimStatus {
    fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Reserved => "reserved",
            ClaimStatus::Minted => "minted",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "reserved" => Ok(ClaimStatus::Reserved),
            "minted" => Ok(ClaimStatus::Minted),
            other => Err(StoreError::Corrupt(format!("unknown claim status {other:?}"))),
        }
    }
}

/// One row of `workshop_attendance`.
#[derive(Clone, PartialEq)]
pub struct Attendance {
    pub user_id: String,
    pub workshop_slug: String,
    pub status: ClaimStatus,
    pub reserved_at: DateTime<Utc>,
    pub or_key_hash: Option<String>,
    pub or_key_plaintext: Option<String>,
    pub key_label: String,
    pub limit_usd: Decimal,
    pub expires_at: DateTime<Utc>,
    pub or_guardrail_id: Option<String>,
    pub guardrail_attached_at: Option<DateTime<Utc>>,
    pub usage_usd: Decimal,
    pub usage_synced_at: Option<DateTime<Utc>>,
    pub attended_at: Option<DateTime<Utc>>,
    /// An admin disabled the key.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Failed background attempts to bind the key to the guardrail, and when to try again.
    pub bind_attempts: u32,
    pub next_bind_at: Option<DateTime<Utc>>,
    /// What the attendee's rotated-away keys spent: their budget is `limit_usd` + this.
    pub retired_usage_usd: Decimal,
}

// By hand, so that the key plaintext never reaches a log line through `{:?}`.
impl std::fmt::Debug for Attendance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attendance")
            .field("user_id", &self.user_id)
            .field("workshop_slug", &self.workshop_slug)
            .field("status", &self.status)
            .field("key_label", &self.key_label)
            .field("or_key_plaintext", &self.or_key_plaintext.as_ref().map(|_| "<redacted>"))
            .field("limit_usd", &self.limit_usd)
            .field("expires_at", &self.expires_at)
            .field("or_guardrail_id", &self.or_guardrail_id)
            .field("guardrail_attached_at", &self.guardrail_attached_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

impl Attendance {
    /// A reservation held longer than `stale_after`: its minting request died.
    pub fn is_bound(&self) -> bool {
        self.guardrail_attached_at.is_some()
    }

    /// Spent by this attendee's keys, the current one and any rotated away.
    pub fn total_usage_usd(&self) -> Decimal {
        self.usage_usd + self.retired_usage_usd
    }

    /// The attendee's whole budget (the current key's limit is what is left of it).
    pub fn total_limit_usd(&self) -> Decimal {
        self.limit_usd + self.retired_usage_usd
    }

    pub fn is_stale_reservation(&self, now: DateTime<Utc>, stale_after: chrono::Duration) -> bool {
        self.status == ClaimStatus::Reserved && now - self.reserved_at >= stale_after
    }
}

/// What a claim reserves before any call to OpenRouter.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub user_id: String,
    pub workshop_slug: String,
    /// The key's unique name at OpenRouter, chosen now so a lost answer can be found again.
    pub key_label: String,
    pub limit_usd: Decimal,
    pub expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// Claims are paused in the workshop or everywhere (the site-wide pause wins); asked before
    /// anything else, so a paused claim writes nothing.
    Paused(crate::workshops::Pause),
    /// The caller holds the slot and must mint (or release) it.
    Reserved(Attendance),
    /// As `Reserved`, but the slot was held by a request that died: a key with the row's name
    /// may already exist at OpenRouter.
    TakenOver(Attendance),
    /// The attendee already has a row: minted, or being minted by another request.
    Existing(Attendance),
    /// No slot left in the workshop's pool.
    PoolFull,
    /// Another attendee with the same normalised email already holds this workshop's key
    /// (e.g. signed in with GitHub, now with Google, or a gmail dot/+tag variant).
    ClaimedWithOtherSignIn { auth_provider: String },
}

/// An admin's replacement of an attendee's key: the old one is disabled and retired.
#[derive(Clone)]
pub struct KeyRotation {
    pub user_id: String,
    pub workshop_slug: String,
    /// The key being replaced; the rotation only applies while the row still holds it.
    pub old_hash: String,
    pub old_label: String,
    /// What the old key spent, read after it was disabled.
    pub old_usage_usd: Decimal,
    pub new_key: MintedKey,
    pub new_label: String,
    /// The new key's limit: what is left of the attendee's budget.
    pub new_limit_usd: Decimal,
    pub retired_by: String,
    pub now: DateTime<Utc>,
}

/// Who paused a workshop's claims, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsPause {
    pub paused_at: DateTime<Utc>,
    pub paused_by: String,
    /// Paused in every workshop at once (the site-wide switch), not only in this one.
    pub everywhere: bool,
}

impl ClaimsPause {
    pub fn scope(&self) -> crate::workshops::Pause {
        if self.everywhere {
            crate::workshops::Pause::Everywhere
        } else {
            crate::workshops::Pause::ThisWorkshop
        }
    }
}

/// The `workshop_controls` key of the site-wide pause: never a workshop's slug.
pub const EVERY_WORKSHOP: &str = "*";

/// An opt-in to marketing email, given in one workshop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketingConsent {
    pub workshop_slug: String,
    pub given_at: DateTime<Utc>,
    /// Withdrawn by the attendee; the record stays.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// The key OpenRouter returned.
#[derive(Clone)]
pub struct MintedKey {
    pub hash: String,
    pub plaintext: String,
}

/// What the claim's assignment of its new key to the workshop's guardrail did, saved with the key.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// Assigned to `guardrail_id` at `at`.
    Bound { guardrail_id: String, at: DateTime<Utc> },
    /// Not assigned: the background tries again from `retry_at` (the claim was the first attempt).
    Failed { retry_at: DateTime<Utc> },
}

impl Binding {
    /// `or_guardrail_id` as saved.
    fn guardrail_id(&self) -> Option<&str> {
        match self {
            Binding::Bound { guardrail_id, .. } => Some(guardrail_id),
            Binding::Failed { .. } => None,
        }
    }

    /// `guardrail_attached_at` as saved.
    fn attached_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Binding::Bound { at, .. } => Some(*at),
            Binding::Failed { .. } => None,
        }
    }

    /// `bind_attempts` as saved: the claim's attempt counts only when it failed.
    fn failed_attempts(&self) -> u32 {
        match self {
            Binding::Bound { .. } => 0,
            Binding::Failed { .. } => 1,
        }
    }

    /// `next_bind_at` as saved.
    fn retry_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Binding::Bound { .. } => None,
            Binding::Failed { retry_at } => Some(*retry_at),
        }
    }
}

impl Attendance {
    /// This reserved row as [`Store::save_minted_key`] leaves it: built, not read back.
    pub fn minted(self, key: MintedKey, binding: &Binding) -> Attendance {
        Attendance {
            status: ClaimStatus::Minted,
            or_key_hash: Some(key.hash),
            or_key_plaintext: Some(key.plaintext),
            or_guardrail_id: binding.guardrail_id().map(str::to_string),
            guardrail_attached_at: binding.attached_at(),
            bind_attempts: binding.failed_attempts(),
            next_bind_at: binding.retry_at(),
            ..self
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// How many writes this process has finished through the store. Whatever was computed from
    /// reads that started after it returned `n` is current while it still returns `n` — as far
    /// as this process's writes go: other processes on the same database are not counted.
    fn changes(&self) -> u64;

    /// Creates the attendee or refreshes their profile and `last_seen_at`.
    async fn upsert_attendee(&self, profile: &AttendeeProfile, now: DateTime<Utc>) -> StoreResult<Attendee>;
    async fn attendee(&self, user_id: &str) -> StoreResult<Option<Attendee>>;
    /// Marketing consent given in `workshop_slug` now. A consent standing there already is kept
    /// as it was. The attendee's `marketing_opted_in*` columns become this opt-in.
    async fn record_marketing_consent(&self, user_id: &str, workshop_slug: &str, now: DateTime<Utc>)
        -> StoreResult<()>;
    /// Withdraws the consent standing in `workshop_slug` (recorded, not deleted) and points the
    /// attendee's columns at the latest consent still standing, if any; `false` when there was
    /// none to withdraw.
    async fn withdraw_marketing_consent(
        &self,
        user_id: &str,
        workshop_slug: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// The attendee's latest consent given in `workshop_slug`, withdrawn or not.
    async fn marketing_consent(&self, user_id: &str, workshop_slug: &str) -> StoreResult<Option<MarketingConsent>>;
    /// Who opted in at `workshop_slug` and has not withdrawn, in the order they opted in.
    async fn workshop_leads(&self, workshop_slug: &str) -> StoreResult<Vec<(AttendeeProfile, MarketingConsent)>>;

    /// Takes one slot of a pool of `pool_size`, atomically, or reports why not (claims paused
    /// first). A `Reserved` row older than `stale_after` (its minting request died) is handed to
    /// the caller: `TakenOver`.
    async fn reserve_claim(
        &self,
        reservation: &NewReservation,
        pool_size: u32,
        stale_after: chrono::Duration,
    ) -> StoreResult<Reservation>;
    /// Fills the claim's reservation with its key and the outcome of its assignment, in one write;
    /// `NotReserved` when there is no reserved row to fill, so the caller deletes a key nobody
    /// will be shown.
    async fn save_minted_key(
        &self,
        user_id: &str,
        workshop_slug: &str,
        key: &MintedKey,
        binding: &Binding,
    ) -> StoreResult<()>;
    /// A saved key was assigned to the workshop's guardrail (a retry, or a rotated key).
    async fn mark_bound(
        &self,
        user_id: &str,
        workshop_slug: &str,
        guardrail_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Gives a reserved (never minted) slot back to the pool.
    async fn release_claim(&self, user_id: &str, workshop_slug: &str) -> StoreResult<()>;
    async fn attendance(&self, user_id: &str, workshop_slug: &str) -> StoreResult<Option<Attendance>>;
    /// Slots taken in the pool (reserved or minted).
    async fn claimed_count(&self, workshop_slug: &str) -> StoreResult<u32>;

    async fn guardrail_id(&self, workshop_slug: &str) -> StoreResult<Option<String>>;
    async fn save_guardrail_id(&self, workshop_slug: &str, guardrail_id: &str) -> StoreResult<()>;

    /// Takes the workshop's guardrail lease for `ttl` if it is free, expired, or already
    /// `holder`'s. Only the holder looks up or creates the guardrail at OpenRouter.
    async fn try_acquire_guardrail_lease(
        &self,
        workshop_slug: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreResult<bool>;
    async fn release_guardrail_lease(&self, workshop_slug: &str, holder: &str) -> StoreResult<()>;

    /// Stores the usage OpenRouter reports, by key hash; hashes without a row are ignored.
    /// Returns how many rows it updated.
    async fn record_usage(&self, usage: &[(String, Decimal)], now: DateTime<Utc>) -> StoreResult<u64>;

    // ---- admin -------------------------------------------------------------------------------

    /// Every row of a workshop with its attendee, in claim order.
    async fn workshop_attendance(&self, workshop_slug: &str) -> StoreResult<Vec<(Attendee, Attendance)>>;
    async fn mark_disabled(&self, user_id: &str, workshop_slug: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Applies a rotation: the old key moves to `retired_keys`, the row takes the new key
    /// (unbound, usage 0). `false`, changing nothing, when the row no longer holds `old_hash`.
    async fn rotate_key(&self, rotation: &KeyRotation) -> StoreResult<bool>;
    /// Hashes of a workshop's rotated-away keys.
    async fn retired_key_hashes(&self, workshop_slug: &str) -> StoreResult<Vec<String>>;
    /// Every key hash any row holds or held, in every workshop.
    async fn known_key_hashes(&self) -> StoreResult<Vec<String>>;
    /// Pauses (`Some(admin)`) or resumes (`None`) a workshop's claims.
    async fn set_claims_paused(
        &self,
        workshop_slug: &str,
        paused_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The pauses that stop claims in `workshop_slug`: the site-wide one ([`EVERY_WORKSHOP`])
    /// first, then the workshop's own; empty when claims run.
    async fn claims_pauses(&self, workshop_slug: &str) -> StoreResult<Vec<ClaimsPause>>;
    /// Why claims in `workshop_slug` are paused (the site-wide pause wins); `None` when they run.
    async fn claims_pause(&self, workshop_slug: &str) -> StoreResult<Option<ClaimsPause>> {
        Ok(self.claims_pauses(workshop_slug).await?.into_iter().next())
    }

    /// Minted, enabled keys not bound to their guardrail whose next bind attempt is due.
    async fn unbound_keys_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<Attendance>>;
    /// A bind attempt failed: count it and wait until `next_at` before the next.
    async fn record_bind_failure(&self, user_id: &str, workshop_slug: &str, next_at: DateTime<Utc>) -> StoreResult<()>;
    /// Demo fault: the row is unbound again, as if its assignment had failed, retried at `next_at`.
    async fn mark_unbound(&self, user_id: &str, workshop_slug: &str, next_at: DateTime<Utc>) -> StoreResult<()>;
    /// Gives back a reservation whose request died before `reserved_before` (no key was saved).
    async fn release_stale_claim(
        &self,
        user_id: &str,
        workshop_slug: &str,
        reserved_before: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records an orphaned key that was disabled; `false` if it was already recorded.
    async fn record_orphan(
        &self,
        workshop_slug: &str,
        hash: &str,
        key_label: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn orphans_fixed(&self, workshop_slug: &str) -> StoreResult<u32>;

    /// The database answers (for `/healthz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Becomes the one process (of all replicas on this database) that runs the background work,
    /// if no other holds that role: a Postgres advisory lock held by a dedicated connection; on
    /// SQLite, whose database has one process, always.
    async fn try_lead(&self) -> StoreResult<Option<Leadership>>;

    /// Marks a sign-in attempt (the login cookie's id) as completed; `false` when it already was,
    /// i.e. the callback is a replay. Forgets attempts that expired before `now`.
    async fn consume_login_state(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Signs a session out everywhere: its id is refused until `expires_at`, when the token
    /// expires anyway. Forgets ids that expired before `now`.
    async fn revoke_session(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()>;
    /// Whether the session with this id was signed out.
    async fn session_revoked(&self, id: &str) -> StoreResult<bool>;
}

/// Proof that this process runs the background work; dropping it gives the role up.
pub struct Leadership {
    /// Postgres: the connection whose session holds the advisory lock (closed on drop, which
    /// releases it). `None` on SQLite.
    connection: Option<sqlx::PgConnection>,
}

impl Leadership {
    fn postgres(connection: sqlx::PgConnection) -> Self {
        Self { connection: Some(connection) }
    }

    fn sqlite() -> Self {
        Self { connection: None }
    }

    /// Whether the role is still ours: false once the lock's connection is gone.
    pub async fn still_held(&mut self) -> bool {
        match &mut self.connection {
            Some(connection) => sqlx::Connection::ping(connection).await.is_ok(),
            None => true,
        }
    }
}

/// Opens the database named by a `DATABASE_URL` and applies the migrations. Postgres honours the
/// URL's `sslmode` (`disable`, `prefer` (the default), `require`, `verify-ca`, `verify-full`) and
/// `sslrootcert` (the CA file for the verify modes; without it, the built-in web PKI roots).
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if is_postgres(url) {
        let store = PgStore::connect(url).await.map_err(|e| explain_tls(url, e))?;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A failed TLS handshake, in words an operator can act on at start-up.
pub fn explain_tls(url: &str, error: StoreError) -> StoreError {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};

    // sqlx reports a certificate rustls refused as an I/O error around the rustls error.
    let cause: &dyn std::fmt::Display = match &error {
        StoreError::Database(sqlx::Error::Tls(cause)) => cause,
        StoreError::Database(sqlx::Error::Io(io)) => {
            match io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(cause) => cause,
                None => return error,
            }
        }
        _ => return error,
    };
    let Ok(options) = url.parse::<PgConnectOptions>() else { return error };
    let host = options.get_host();
    let (mode, advice) = match options.get_ssl_mode() {
        PgSslMode::VerifyFull => (
            "verify-full",
            format!(
                "check that sslrootcert= names the CA that signed the server's certificate, and that the host \
                 in DATABASE_URL ({host}) is a name the certificate is for"
            ),
        ),
        PgSslMode::VerifyCa => {
            ("verify-ca", "check that sslrootcert= names the CA that signed the server's certificate".to_string())
        }
        PgSslMode::Require => ("require", "the server's TLS is broken".to_string()),
        PgSslMode::Prefer => ("prefer", "the server's TLS is broken; sslmode=disable skips it".to_string()),
        PgSslMode::Allow | PgSslMode::Disable => ("disable", String::new()),
    };
    StoreError::Tls(format!("the TLS handshake with Postgres at {host} failed (sslmode={mode}): {cause}; {advice}"))
}
