//! What the tests (and the bench) of every crate share: a throwaway database on the machine's
//! Postgres ([`ThrowawayDatabase`]), a throwaway Postgres cluster of its own with TLS
//! ([`cluster::Cluster`]), and a router served over HTTPS ([`tls::serve`]).

pub mod cluster;
pub mod tls;

use sqlx::{Connection, Executor, PgConnection};

/// The Postgres the tests use: `TEST_POSTGRES_URL`, else the machine's on 127.0.0.1:5432.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database on a Postgres server, dropped (with its connections) when this is.
pub struct ThrowawayDatabase {
    admin_url: String,
    name: String,
}

impl ThrowawayDatabase {
    /// A fresh database on `TEST_POSTGRES_URL`; panics, saying where it looked, if there is none.
    pub async fn create() -> ThrowawayDatabase {
        let admin_url = postgres_admin_url();
        Self::create_on(&admin_url).await.unwrap_or_else(|e| panic!("Postgres at TEST_POSTGRES_URL ({admin_url}): {e}"))
    }

    /// A fresh database on the server of `admin_url` (a URL of a database there that exists).
    pub async fn create_on(admin_url: &str) -> Result<ThrowawayDatabase, sqlx::Error> {
        let name = format!("minter_test_{}", rand::random::<u64>());
        let mut conn = PgConnection::connect(admin_url).await?;
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        Ok(ThrowawayDatabase { admin_url: admin_url.to_string(), name })
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        let (server, _) = self.admin_url.rsplit_once('/').expect("the Postgres URL names a database");
        format!("{server}/{}", self.name)
    }
}

impl Drop for ThrowawayDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own: Drop cannot await, and the caller's runtime may be shutting down.
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
