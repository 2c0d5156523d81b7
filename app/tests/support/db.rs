//! Real databases for tests: a temp-file SQLite, and a fresh Postgres database per test.

use std::sync::Arc;

use app::store::{PgStore, SqliteStore, Store};
use sqlx::{Connection, Executor, PgConnection};
use testkit::ThrowawayDatabase;

pub struct SqliteGuard(#[allow(dead_code)] tempfile::TempDir);

pub async fn sqlite_store() -> (Arc<dyn Store>, SqliteGuard) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    (Arc::new(SqliteStore::connect(&url).await.expect("sqlite")), SqliteGuard(dir))
}

pub async fn postgres_store() -> (Arc<dyn Store>, ThrowawayDatabase) {
    let db = ThrowawayDatabase::create().await;
    let store = PgStore::connect(&db.url()).await.expect("postgres");
    (Arc::new(store), db)
}

impl SqliteGuard {
    /// The URL of the test database.
    pub fn url(&self) -> String {
        format!("sqlite://{}/test.db", self.0.path().display())
    }
}

/// A test database of either kind, for the tests that run on both; dropped at the end.
pub struct TestDb {
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub name: &'static str,
    pub url: String,
    _guard: Box<dyn std::any::Any + Send>,
}

/// A store on a fresh SQLite database and one on a fresh Postgres database.
pub async fn both_databases() -> Vec<(Arc<dyn Store>, TestDb)> {
    let (sqlite, sqlite_guard) = sqlite_store().await;
    let (postgres, postgres_guard) = postgres_store().await;
    vec![
        (sqlite, TestDb::sqlite(sqlite_guard)),
        (postgres, TestDb { name: "postgres", url: postgres_guard.url(), _guard: Box::new(postgres_guard) }),
    ]
}

impl TestDb {
    /// The SQLite database of `guard`, for raw SQL next to its store.
    pub fn sqlite(guard: SqliteGuard) -> Self {
        TestDb { name: "sqlite", url: guard.url(), _guard: Box::new(guard) }
    }

    pub fn is_postgres(&self) -> bool {
        self.name == "postgres"
    }

    /// Runs `sql` (statements without parameters) on a connection of its own.
    pub async fn execute(&self, sql: &str) {
        if self.is_postgres() {
            let mut conn = PgConnection::connect(&self.url).await.unwrap();
            conn.execute(sql).await.unwrap();
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            conn.execute(sql).await.unwrap();
        }
    }

    /// A real database fault: from now on the database itself (a trigger) refuses every UPDATE
    /// of `workshop_attendance` that sets `column` from NULL to a value, with an error, as a full
    /// disk or a failed constraint would. [`Self::allow_setting`] ends it.
    pub async fn refuse_setting(&self, column: &str) {
        assert!(column.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "a column name: {column}");
        let when = format!("OLD.{column} IS NULL AND NEW.{column} IS NOT NULL");
        if self.is_postgres() {
            self.execute(&format!(
                "CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN RAISE EXCEPTION 'injected fault: % refused', TG_ARGV[0]; END $$;
                 CREATE TRIGGER injected_fault_{column} BEFORE UPDATE ON workshop_attendance
                   FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION injected_fault('{column}');"
            ))
            .await;
        } else {
            self.execute(&format!(
                "CREATE TRIGGER injected_fault_{column} BEFORE UPDATE OF {column} ON workshop_attendance
                   FOR EACH ROW WHEN {when} BEGIN SELECT RAISE(ABORT, 'injected fault: {column} refused'); END;"
            ))
            .await;
        }
    }

    /// Ends [`Self::refuse_setting`].
    pub async fn allow_setting(&self, column: &str) {
        if self.is_postgres() {
            self.execute(&format!("DROP TRIGGER injected_fault_{column} ON workshop_attendance")).await;
        } else {
            self.execute(&format!("DROP TRIGGER injected_fault_{column}")).await;
        }
    }
}
