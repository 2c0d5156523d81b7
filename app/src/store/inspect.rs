//! What `server doctor` learns about a `DATABASE_URL` without writing anything: whether it
//! answers, whether the connection is encrypted, and which of this binary's migrations it has.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{explain_tls, is_postgres, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// e.g. `PostgreSQL 15.19` or `SQLite 3.46.0`.
    pub server: String,
    /// Whether this connection is encrypted (Postgres); `None` for SQLite (a local file).
    pub tls: Option<bool>,
    /// The SQLite file does not exist yet (the server creates it at start).
    pub missing_file: bool,
    pub migrations: Migrations,
}

/// This binary's migrations against the database's `_sqlx_migrations`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrations {
    pub known: usize,
    pub applied: usize,
    /// Not applied yet (the server applies them at start).
    pub pending: Vec<String>,
    /// Applied from a different file than this binary's (the schema may not be what the code expects).
    pub changed: Vec<String>,
    /// Started and failed.
    pub failed: Vec<String>,
    /// Applied by a newer version of the server.
    pub newer: Vec<i64>,
}

/// Connects once, read-only where the backend allows it, and reports.
pub async fn inspect(url: &str) -> StoreResult<Inspection> {
    if is_postgres(url) {
        inspect_postgres(url).await.map_err(|e| explain_tls(url, e))
    } else if url.starts_with("sqlite:") {
        inspect_sqlite(url).await
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

async fn inspect_postgres(url: &str) -> StoreResult<Inspection> {
    let options = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await?;
    let version: String = sqlx::query_scalar("SHOW server_version").fetch_one(&pool).await?;
    let tls: Option<bool> =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_optional(&pool).await?;
    let has_table: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&pool).await?;
    let applied: Applied = if has_table { sqlx::query_as(APPLIED).fetch_all(&pool).await? } else { Vec::new() };
    pool.close().await;
    Ok(Inspection {
        server: format!("PostgreSQL {}", version.split_whitespace().next().unwrap_or(&version)),
        tls: Some(tls.unwrap_or(false)),
        missing_file: false,
        migrations: compare(&super::postgres::MIGRATOR, &applied),
    })
}

async fn inspect_sqlite(url: &str) -> StoreResult<Inspection> {
    let options = SqliteConnectOptions::from_str(url)?;
    if !options.get_filename().exists() {
        return Ok(Inspection {
            server: "SQLite".into(),
            tls: None,
            missing_file: true,
            migrations: compare(&super::sqlite::MIGRATOR, &[]),
        });
    }
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.read_only(true)).await?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&pool).await?;
    let has_table: bool =
        sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_one(&pool)
            .await?;
    let applied: Applied = if has_table { sqlx::query_as(APPLIED).fetch_all(&pool).await? } else { Vec::new() };
    pool.close().await;
    Ok(Inspection {
        server: format!("SQLite {version}"),
        tls: None,
        missing_file: false,
        migrations: compare(&super::sqlite::MIGRATOR, &applied),
    })
}

/// (version, checksum, success) of every recorded migration.
const APPLIED: &str = "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";
type Applied = Vec<(i64, Vec<u8>, bool)>;

fn compare(migrator: &Migrator, applied: &[(i64, Vec<u8>, bool)]) -> Migrations {
    let name = |m: &sqlx::migrate::Migration| format!("{:04}_{}", m.version, m.description.replace(' ', "_"));
    let mut report = Migrations { known: migrator.iter().count(), ..Migrations::default() };
    for migration in migrator.iter() {
        match applied.iter().find(|(version, _, _)| *version == migration.version) {
            None => report.pending.push(name(migration)),
            Some((_, _, false)) => report.failed.push(name(migration)),
            Some((_, checksum, true)) if checksum.as_slice() != &*migration.checksum => {
                report.changed.push(name(migration))
            }
            Some(_) => report.applied += 1,
        }
    }
    report.newer = applied
        .iter()
        .map(|(version, _, _)| *version)
        .filter(|version| !migrator.iter().any(|m| m.version == *version))
        .collect();
    report
}
