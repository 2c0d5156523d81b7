//! Two real server processes on one Postgres database: exactly one runs the background work
//! (usage sync), and the other takes over when it dies.

mod support;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const LEADING: &str = "this process runs the background work";

/// Starts the server binary; its log lines arrive on the returned channel.
fn start(database_url: &str, port: u16) -> (Child, mpsc::UnboundedReceiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MINTER_DEMO", "1")
        .env("DATABASE_URL", database_url)
        .env("USAGE_SYNC_SECONDS", "1")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "minter")
        .env("RUST_LOG", "info,sqlx=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary");
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
async fn lines_within(rx: &mut mpsc::UnboundedReceiver<String>, window: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        lines.push(line);
    }
    lines
}

/// Waits up to `limit` for a line containing `text`; all lines seen so far on failure.
async fn wait_for(rx: &mut mpsc::UnboundedReceiver<String>, text: &str, limit: Duration) -> Result<(), Vec<String>> {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn two_processes_one_syncer_and_a_takeover() {
    let (url, _db) = support::fresh_postgres().await;
    let (mut first, mut first_log) = start(&url, free_port());
    // The first one up (migrations done) leads; then the second starts.
    wait_for(&mut first_log, LEADING, Duration::from_secs(10)).await.expect("the first process leads");
    let (_second, mut second_log) = start(&url, free_port());
    wait_for(&mut second_log, "listening on", Duration::from_secs(10)).await.expect("the second process is up");

    // Several sync periods: the second keeps trying (every second) and never leads.
    let (first_lines, second_lines) = tokio::join!(
        lines_within(&mut first_log, Duration::from_secs(4)),
        lines_within(&mut second_log, Duration::from_secs(4))
    );
    assert!(!second_lines.iter().any(|l| l.contains(LEADING)), "two leaders: {second_lines:#?}");
    assert!(!first_lines.iter().any(|l| l.contains(LEADING)), "the leader does not re-announce: {first_lines:#?}");

    // The leader dies (a real kill): the other process takes over within a few periods.
    first.kill().await.unwrap();
    wait_for(&mut second_log, LEADING, Duration::from_secs(10)).await.expect("the second process takes over");
}
