//! Storage: one interface, two backends (Postgres in production, SQLite embedded).
//!
//! Both backends pass the same contract tests (`app/tests/store_contract.rs`).

mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

pub use postgres::PgStore;
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
            .finish_non_exhaustive()
    }
}

impl Attendance {
    /// A reservation held longer than `stale_after`: its minting request died.
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

/// The key OpenRouter returned.
#[derive(Clone)]
pub struct MintedKey {
    pub hash: String,
    pub plaintext: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the attendee or refreshes their profile and `last_seen_at`.
    async fn upsert_attendee(&self, profile: &AttendeeProfile, now: DateTime<Utc>) -> StoreResult<Attendee>;
    async fn attendee(&self, user_id: &str) -> StoreResult<Option<Attendee>>;
    /// Marketing consent, with when and in which workshop it was given.
    async fn record_marketing_consent(&self, user_id: &str, workshop_slug: &str, now: DateTime<Utc>)
        -> StoreResult<()>;

    /// Takes one slot of a pool of `pool_size`, atomically, or reports why not. A `Reserved` row
    /// older than `stale_after` (its minting request died) is handed to the caller: `TakenOver`.
    async fn reserve_claim(
        &self,
        reservation: &NewReservation,
        pool_size: u32,
        stale_after: chrono::Duration,
    ) -> StoreResult<Reservation>;
    async fn save_minted_key(&self, user_id: &str, workshop_slug: &str, key: &MintedKey) -> StoreResult<()>;
    /// The key was assigned to the workshop's guardrail.
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

    /// Becomes the one process (of all replicas on this database) that runs the background work,
    /// if no other holds that role: a Postgres advisory lock held by a dedicated connection; on
    /// SQLite, whose database has one process, always.
    async fn try_lead(&self) -> StoreResult<Option<Leadership>>;

    /// Marks a sign-in attempt (the login cookie's id) as completed; `false` when it already was,
    /// i.e. the callback is a replay. Forgets attempts that expired before `now`.
    async fn consume_login_state(&self, id: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool>;
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

/// Opens the database named by a `DATABASE_URL` and applies the migrations.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
