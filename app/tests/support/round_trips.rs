//! A TCP proxy in front of a Postgres server that counts the round trips a caller of sqlx's pool
//! waits on. In Postgres's protocol a client waits after a Sync (the end of an extended-query
//! exchange, and all a ping is) or a simple Query. Per connection, in the order sqlx sends them:
//! - a statement (Bind, Execute, Sync): waited on;
//! - a lone Sync: a ping. The first after a statement is the pool's check as the connection goes
//!   back (sqlx 0.8 always pings then, on a task of its own, after the caller has its answer): not
//!   waited on. Any other is a check before the connection is handed out: waited on;
//! - a statement's preparation (Parse, Describe, Sync): once per connection and statement, so
//!   which of the pool's connections a statement lands on would decide it: not counted.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::ConnectOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy; it stops taking connections when dropped.
pub struct RoundTrips {
    url: String,
    counting: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl RoundTrips {
    /// A proxy to the server of `database_url` (plain TCP, so the messages can be read).
    pub async fn start(database_url: &str) -> RoundTrips {
        let options = PgConnectOptions::from_str(database_url).unwrap();
        let upstream = format!("{}:{}", options.get_host(), options.get_port());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = options.host("127.0.0.1").port(port).ssl_mode(PgSslMode::Disable).to_url_lossy().to_string();
        let (counting, count) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let tally = Tally { counting: counting.clone(), count: count.clone() };
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, tally) = (upstream.clone(), tally.clone());
                tokio::spawn(async move {
                    let server = TcpStream::connect(&upstream).await.unwrap();
                    let _ = relay(client, server, tally).await;
                });
            }
        });
        RoundTrips { url, counting, count, accept }
    }

    /// The database's URL through the proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Counts from zero until [`Self::stop`].
    pub fn start_counting(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.counting.store(true, Ordering::SeqCst);
    }

    /// The round trips waited on since [`Self::start_counting`].
    pub fn stop(&self) -> usize {
        self.counting.store(false, Ordering::SeqCst);
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for RoundTrips {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// What the client has sent since its last Sync.
#[derive(Default)]
struct Exchange {
    prepares: bool,
    executes: bool,
}

#[derive(Clone)]
struct Tally {
    counting: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
}

/// Passes bytes both ways unchanged, reading the client's messages as they pass.
async fn relay(client: TcpStream, server: TcpStream, tally: Tally) -> std::io::Result<()> {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
    // The startup message has no type byte: a length (which counts itself), then the rest.
    let (mut pending, mut started, mut chunk) = (Vec::new(), false, [0u8; 8192]);
    let (mut exchange, mut pings_since_statement) = (Exchange::default(), 0usize);
    loop {
        let n = from_client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        to_server.write_all(&chunk[..n]).await?;
        pending.extend_from_slice(&chunk[..n]);
        loop {
            let type_bytes = usize::from(started);
            let Some(length) = pending.get(type_bytes..type_bytes + 4) else { break };
            let end = type_bytes + u32::from_be_bytes(length.try_into().unwrap()) as usize;
            if pending.len() < end {
                break;
            }
            let waited = match (started, pending[0]) {
                (false, _) => 0,
                (true, b'P') => {
                    exchange.prepares = true;
                    0
                }
                (true, b'E') => {
                    exchange.executes = true;
                    0
                }
                (true, b'Q') => statement_waits(&mut pings_since_statement),
                (true, b'S') => match std::mem::take(&mut exchange) {
                    Exchange { executes: true, .. } => statement_waits(&mut pings_since_statement),
                    Exchange { prepares: true, .. } => 0,
                    _ => {
                        pings_since_statement += 1;
                        0
                    }
                },
                _ => 0,
            };
            if waited > 0 && tally.counting.load(Ordering::SeqCst) {
                tally.count.fetch_add(waited, Ordering::SeqCst);
            }
            started = true;
            pending.drain(..end);
        }
    }
}

/// The round trips a statement waited on: its own, and each ping since the last statement but the
/// first (the check as the connection went back to the pool, not waited on).
fn statement_waits(pings_since_statement: &mut usize) -> usize {
    1 + std::mem::take(pings_since_statement).saturating_sub(1)
}
