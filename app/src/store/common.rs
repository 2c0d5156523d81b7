//! What the shared statements (`sql.rs`) and the two dialects (`postgres.rs`, `sqlite.rs`) both
//! build on: the dialect trait, money as each database keeps it, the attendance row and its
//! columns, the pauses' query. It imports neither side.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::*;

/// What a dialect does its own way inside the shared statements.
pub(super) trait Dialect: sqlx::Database {
    /// Appended to a `SELECT` whose rows the transaction goes on to change.
    const FOR_UPDATE: &'static str;

    /// A transaction that will write.
    async fn begin_write(pool: &sqlx::Pool<Self>) -> sqlx::Result<sqlx::Transaction<'static, Self>>;

    /// Holds `user_id`'s attendee row until the transaction ends: one request at a time changes
    /// that attendee's consents.
    async fn lock_attendee(tx: &mut sqlx::Transaction<'static, Self>, user_id: &str) -> sqlx::Result<()>;
}

/// Money as each database keeps it: `NUMERIC` in Postgres, exact decimal `TEXT` in SQLite.
#[derive(Debug, Clone, Copy)]
pub(super) struct Money(pub Decimal);

mod money {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};
    use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
    use sqlx::{Decode, Encode, Type};

    use super::Money;

    impl Type<Postgres> for Money {
        fn type_info() -> PgTypeInfo {
            <Decimal as Type<Postgres>>::type_info()
        }
        fn compatible(ty: &PgTypeInfo) -> bool {
            <Decimal as Type<Postgres>>::compatible(ty)
        }
    }

    impl Decode<'_, Postgres> for Money {
        fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
            <Decimal as Decode<Postgres>>::decode(value).map(Money)
        }
    }

    impl Encode<'_, Postgres> for Money {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <Decimal as Encode<Postgres>>::encode_by_ref(&self.0, buf)
        }
    }

    impl Type<Sqlite> for Money {
        fn type_info() -> SqliteTypeInfo {
            <String as Type<Sqlite>>::type_info()
        }
        fn compatible(ty: &SqliteTypeInfo) -> bool {
            <String as Type<Sqlite>>::compatible(ty)
        }
    }

    impl<'r> Decode<'r, Sqlite> for Money {
        fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
            let text = <&str as Decode<Sqlite>>::decode(value)?;
            Ok(Money(Decimal::from_str(text)?))
        }
    }

    impl<'q> Encode<'q, Sqlite> for Money {
        fn encode_by_ref(&self, args: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
            <String as Encode<Sqlite>>::encode(self.0.to_string(), args)
        }
    }
}

/// The pauses that stop claims in workshop `$1` (`$2` is [`EVERY_WORKSHOP`]): the site-wide one
/// first, then the workshop's own. Rows are [`PauseRow`]s.
pub(super) const CLAIMS_PAUSES: &str = "SELECT workshop_slug, claims_paused_at, claims_paused_by FROM workshop_controls
     WHERE workshop_slug IN ($1, $2) AND claims_paused_at IS NOT NULL
     ORDER BY workshop_slug = $2 DESC";

/// One row of [`CLAIMS_PAUSES`]: the slug, when, by whom.
pub(super) type PauseRow = (String, DateTime<Utc>, Option<String>);

impl From<PauseRow> for ClaimsPause {
    fn from((slug, paused_at, by): PauseRow) -> ClaimsPause {
        ClaimsPause { paused_at, paused_by: by.unwrap_or_default(), everywhere: slug == EVERY_WORKSHOP }
    }
}

/// The columns of `workshop_attendance` as [`AttendanceRow`] reads them, each prefixed with
/// `table` (e.g. `"w."`, or `""`).
pub(super) fn attendance_columns(table: &str) -> String {
    [
        "user_id",
        "workshop_slug",
        "status",
        "reserved_at",
        "or_key_hash",
        "or_key_plaintext",
        "key_label",
        "limit_usd",
        "expires_at",
        "or_guardrail_id",
        "guardrail_attached_at",
        "usage_usd",
        "usage_synced_at",
        "attended_at",
        "disabled_at",
        // INTEGER is 4 bytes in Postgres and 8 in SQLite: read as 8 in both.
        "CAST({}bind_attempts AS BIGINT) AS bind_attempts",
        "next_bind_at",
        "retired_usage_usd",
    ]
    .iter()
    .map(|column| if column.contains("{}") { column.replace("{}", table) } else { format!("{table}{column}") })
    .collect::<Vec<_>>()
    .join(", ")
}

/// One `workshop_attendance` row as both databases return it.
#[derive(sqlx::FromRow)]
pub(super) struct AttendanceRow {
    user_id: String,
    workshop_slug: String,
    status: String,
    reserved_at: DateTime<Utc>,
    or_key_hash: Option<String>,
    or_key_plaintext: Option<String>,
    key_label: String,
    limit_usd: Money,
    expires_at: DateTime<Utc>,
    or_guardrail_id: Option<String>,
    guardrail_attached_at: Option<DateTime<Utc>>,
    usage_usd: Money,
    usage_synced_at: Option<DateTime<Utc>>,
    attended_at: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    bind_attempts: i64,
    next_bind_at: Option<DateTime<Utc>>,
    retired_usage_usd: Money,
}

impl TryFrom<AttendanceRow> for Attendance {
    type Error = StoreError;

    fn try_from(row: AttendanceRow) -> StoreResult<Attendance> {
        Ok(Attendance {
            user_id: row.user_id,
            workshop_slug: row.workshop_slug,
            status: ClaimStatus::parse(&row.status)?,
            reserved_at: row.reserved_at,
            or_key_hash: row.or_key_hash,
            or_key_plaintext: row.or_key_plaintext,
            key_label: row.key_label,
            limit_usd: row.limit_usd.0,
            expires_at: row.expires_at,
            or_guardrail_id: row.or_guardrail_id,
            guardrail_attached_at: row.guardrail_attached_at,
            usage_usd: row.usage_usd.0,
            usage_synced_at: row.usage_synced_at,
            attended_at: row.attended_at,
            disabled_at: row.disabled_at,
            bind_attempts: row.bind_attempts.try_into().unwrap_or(0),
            next_bind_at: row.next_bind_at,
            retired_usage_usd: row.retired_usage_usd.0,
        })
    }
}
