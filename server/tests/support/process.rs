//! Real server processes: the binary cargo built for this package, started, signed into,
//! claimed from, killed and restarted by the tests that need a process to die for real.
//!
#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, SET_COOKIE};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use app::claim::{ClaimError, ClaimKey, MyKey};

/// What the process that holds the background lock logs once (`app::background::spawn`).
pub const LEADING: &str = "this process runs the background work";

/// Starts the server binary in demo mode on `database_url`; its log lines arrive on the returned
/// channel.
pub fn start(database_url: &str, port: u16) -> (Child, mpsc::UnboundedReceiver<String>) {
    start_with(database_url, port, &[])
}

/// As [`start`], with more settings (they win over the defaults here).
pub fn start_with(database_url: &str, port: u16, extra: &[(&str, &str)]) -> (Child, mpsc::UnboundedReceiver<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MINTER_DEMO", "1")
        .env("DATABASE_URL", database_url)
        .env("USAGE_SYNC_SECONDS", "1")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "minter")
        .env("RUST_LOG", "info,sqlx=warn")
        .env("NO_COLOR", "1");
    for (name, value) in extra {
        command.env(name, value);
    }
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("the server binary");
    let (tx, rx) = mpsc::unbounded_channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    (child, rx)
}

/// Lines logged within `window`.
pub async fn lines_within(rx: &mut mpsc::UnboundedReceiver<String>, window: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        lines.push(line);
    }
    lines
}

/// Waits up to `limit` for a line containing `text`; all lines seen so far on failure.
pub async fn wait_for(
    rx: &mut mpsc::UnboundedReceiver<String>,
    text: &str,
    limit: Duration,
) -> Result<(), Vec<String>> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if line.contains(text) {
            return Ok(());
        }
        seen.push(line);
    }
    Err(seen)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `condition` every 50 ms until it holds; panics naming `what` after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running server process: its port, the process, and its log.
pub struct Server {
    pub port: u16,
    pub child: Child,
    pub log: mpsc::UnboundedReceiver<String>,
}

impl Server {
    /// Starts one and waits until it answers `/healthz` (migrations applied, listening).
    pub async fn start(database_url: &str, extra: &[(&str, &str)]) -> Server {
        let port = free_port();
        let (child, log) = start_with(database_url, port, extra);
        let server = Server { port, child, log };
        let url = server.url("/healthz");
        eventually("the server answers /healthz", Duration::from_secs(30), || {
            let url = url.clone();
            async move { client().get(url).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Signs `email` in through the demo form; the session cookie (`name=value`).
    pub async fn sign_in(&self, email: &str) -> String {
        let response = client()
            .post(self.url("/auth/dev"))
            .form(&[("email", email), ("name", "Attendee"), ("next", "/w/demo")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER, "demo sign-in of {email}");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    }

    /// Claims `slug`'s key as the holder of `cookie`, as the hydrated page does.
    pub async fn claim(&self, cookie: &str, slug: &str) -> Answer {
        claim_at(self.port, cookie, slug).await
    }

    /// SIGKILL, and waits for the process to be gone: no shutdown, no request finished.
    pub async fn kill(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.child.start_kill().unwrap();
        let status = self.child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
}

/// What a claim request got back.
#[derive(Debug)]
pub enum Answer {
    /// The attendee is shown this key.
    Key(MyKey),
    /// The claim was refused with this error (and HTTP status).
    Refused(u16, ClaimError),
    /// No answer at all (the connection broke): the attendee was told nothing.
    ConnectionBroke(String),
}

impl Answer {
    pub fn key(self) -> MyKey {
        match self {
            Answer::Key(key) => key,
            other => panic!("expected a key, got {other:?}"),
        }
    }
}

/// [`Server::claim`] by port, for tasks that outlive a borrow of the server.
pub async fn claim_at(port: u16, cookie: &str, slug: &str) -> Answer {
    let sent = client()
        .post(format!("http://127.0.0.1:{port}{}", ClaimKey::PATH))
        .header(ACCEPT, "application/json")
        .header("cookie", cookie)
        .form(&[("slug", slug)])
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return Answer::ConnectionBroke(e.to_string()),
    };
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => return Answer::ConnectionBroke(e.to_string()),
    };
    if status == 200 {
        Answer::Key(serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body))))
    } else {
        let error = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        Answer::Refused(status, error)
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}
