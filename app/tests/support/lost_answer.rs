//! A TCP proxy in front of Postgres that can lose one answer: the write it carries reaches the
//! server and commits, and the client sees only a broken connection. That is the ambiguous
//! failure of a real network (or a server restart) between the commit and its answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Postgres's ReadyForQuery outside a transaction: the statement before it has committed.
const READY_FOR_QUERY_IDLE: [u8; 6] = [b'Z', 0, 0, 0, 5, b'I'];

pub struct LosingProxy {
    pub addr: SocketAddr,
    /// Bytes whose appearance in a client message dooms that message's answer.
    armed: Arc<Mutex<Option<Vec<u8>>>>,
    lost: Arc<AtomicUsize>,
}

impl LosingProxy {
    /// Listens on a loopback port and relays every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(Mutex::new(None));
        let lost = Arc::new(AtomicUsize::new(0));
        let (armed_, lost_) = (armed.clone(), lost.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, armed_.clone(), lost_.clone()));
            }
        });
        Self { addr, armed, lost }
    }

    /// The next client message containing `needle` reaches Postgres; its answer (up to and with
    /// the ReadyForQuery that follows the commit) is swallowed and the connection closed.
    pub fn lose_answer_to(&self, needle: &[u8]) {
        *self.armed.lock().unwrap() = Some(needle.to_vec());
    }

    /// How many answers were lost so far.
    pub fn answers_lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn relay(client: TcpStream, upstream: SocketAddr, armed: Arc<Mutex<Option<Vec<u8>>>>, lost: Arc<AtomicUsize>) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let doomed = AtomicBool::new(false);
    let up = async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            {
                let mut armed = armed.lock().unwrap();
                if armed.as_deref().is_some_and(|needle| contains(&buf[..n], needle)) {
                    *armed = None;
                    doomed.store(true, Ordering::SeqCst);
                }
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut buf = vec![0; 64 * 1024];
        let mut held = Vec::new();
        loop {
            let n = match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if doomed.load(Ordering::SeqCst) {
                held.extend_from_slice(&buf[..n]);
                if contains(&held, &READY_FOR_QUERY_IDLE) {
                    lost.fetch_add(1, Ordering::SeqCst);
                    return; // both connections close when the halves drop
                }
            } else if to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// `postgres://user@host:port/db` → the address of `host:port`.
pub fn postgres_addr(url: &str) -> SocketAddr {
    let after_scheme = url.split_once("://").unwrap().1;
    let host_port = after_scheme.rsplit_once('@').map_or(after_scheme, |(_, rest)| rest);
    let host_port = host_port.split(['/', '?']).next().unwrap();
    let host_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:5432") };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port.parse().unwrap_or_else(|e| panic!("{host_port}: {e}"))
}

/// `url` with its host and port replaced by `addr`, and without TLS (the proxy reads the bytes).
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, after_scheme) = url.split_once("://").unwrap();
    let (user, rest) = after_scheme.rsplit_once('@').map_or(("", after_scheme), |(u, r)| (u, r));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let at = if user.is_empty() { "" } else { "@" };
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{scheme}://{user}{at}{addr}{path}{sep}sslmode=disable")
}
