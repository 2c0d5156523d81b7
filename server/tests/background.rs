//! Two real server processes on one Postgres database: exactly one runs the background work
//! (usage sync), and the other takes over when it dies.

mod support;

use std::time::Duration;

use support::process::{free_port, lines_within, start, wait_for, LEADING};

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
