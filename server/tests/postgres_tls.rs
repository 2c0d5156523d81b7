//! Postgres over TLS, against real servers: `DATABASE_URL`'s `sslmode` and `sslrootcert` decide
//! (rustls, no OpenSSL). The machine's cluster has `ssl = on`; a throwaway cluster with a CA of the
//! test's own proves that verify-full checks both the CA and the host name, and that the server
//! says so clearly at start-up.

mod support;

use sqlx::{Connection, PgConnection};

use app::store::StoreError;
use testkit::cluster::Cluster;

/// Whether every connection to the database of `url`, other than the observer's, is encrypted, and
/// how many there are.
async fn encrypted_connections(url: &str) -> (Option<bool>, i64) {
    let observer = format!("{}{}sslmode=disable", url, if url.contains('?') { "&" } else { "?" });
    let mut connection = PgConnection::connect(&observer).await.unwrap();
    sqlx::query_as(
        "SELECT bool_and(s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_local_server_encrypts_what_sslmode_asks_for() {
    for (mode, encrypted) in [("require", true), ("disable", false)] {
        let (url, _drop) = support::fresh_postgres().await;
        let store = app::store::connect(&format!("{url}?sslmode={mode}")).await.unwrap();
        store.ping().await.unwrap();
        let (all_ssl, connections) = encrypted_connections(&url).await;
        assert!(connections >= 1, "{mode}: the store holds a connection");
        assert_eq!(all_ssl, Some(encrypted), "{mode}: pg_stat_ssl of the store's {connections} connections");
    }
}

#[tokio::test]
async fn verify_full_checks_the_ca_and_the_host_name() {
    let cluster = Cluster::start_with_tls(&["localhost"]);
    let ca = cluster.ca.display().to_string();
    let other_ca = cluster.other_ca.display().to_string();

    // The right CA and the certificate's name: connected, encrypted.
    let good = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let store = app::store::connect(&good).await.expect("verify-full with the right CA");
    store.ping().await.unwrap();
    assert_eq!(encrypted_connections(&cluster.url("localhost", "")).await.0, Some(true));

    let refused = |url: String| async move {
        match app::store::connect(&url).await {
            Err(StoreError::Tls(message)) => message,
            Err(other) => panic!("{url}: not a TLS refusal: {other}"),
            Ok(_) => panic!("{url}: connected"),
        }
    };
    // Another CA: refused, saying which setting to check.
    let message = refused(cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={other_ca}"))).await;
    assert!(message.contains("the TLS handshake with Postgres at localhost failed (sslmode=verify-full)"), "{message}");
    assert!(message.contains("UnknownIssuer") && message.contains("sslrootcert="), "{message}");
    // A host the certificate is not for: refused by verify-full.
    let message = refused(cluster.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"))).await;
    assert!(message.contains("the host in DATABASE_URL (127.0.0.1) is a name the certificate is for"), "{message}");
    // verify-ca checks the CA. (It should not check the name, but sqlx 0.8 with this rustls does:
    // sqlx#3793, fixed in sqlx 0.9; docs/deploy.md says to use verify-full.)
    let store = app::store::connect(&cluster.url("localhost", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await;
    assert!(store.is_ok(), "verify-ca with the right CA");
    let message = refused(cluster.url("localhost", &format!("sslmode=verify-ca&sslrootcert={other_ca}"))).await;
    assert!(message.contains("(sslmode=verify-ca)") && message.contains("UnknownIssuer"), "{message}");
    // sslmode=require encrypts without checking the certificate.
    assert!(app::store::connect(&cluster.url("127.0.0.1", "sslmode=require")).await.is_ok());

    // The server itself refuses to start, and says why.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("MINTER_DEMO", "1")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={other_ca}")))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("minter: database: the TLS handshake with Postgres at localhost failed (sslmode=verify-full)"),
        "{said}"
    );
}
