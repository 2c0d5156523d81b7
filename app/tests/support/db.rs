//! Real databases for tests: a temp-file SQLite, and a fresh Postgres database per test.

use std::sync::Arc;

use app::store::{PgStore, SqliteStore, Store};
use sqlx::{Connection, Executor, PgConnection};

pub struct SqliteGuard(#[allow(dead_code)] tempfile::TempDir);

pub async fn sqlite_store() -> (Arc<dyn Store>, SqliteGuard) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    (Arc::new(SqliteStore::connect(&url).await.expect("sqlite")), SqliteGuard(dir))
}

/// Drops the test database when the test ends.
pub struct PgGuard {
    admin_url: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A fresh runtime: Drop cannot await, and the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                }
            })
        })
        .join();
    }
}

impl PgGuard {
    /// The URL of the test database.
    pub fn url(&self) -> String {
        let (base, _) = self.admin_url.rsplit_once('/').unwrap();
        format!("{base}/{}", self.name)
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn postgres_store() -> (Arc<dyn Store>, PgGuard) {
    let admin_url = postgres_admin_url();
    let name = format!("minter_test_{}", rand::random::<u64>());
    let mut conn = PgConnection::connect(&admin_url).await.expect("Postgres at TEST_POSTGRES_URL (see README)");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let store = PgStore::connect(&format!("{base}/{name}")).await.expect("postgres");
    (Arc::new(store), PgGuard { admin_url, name })
}
