//! Two real server processes on one Postgres database behind the same burst of claims, with
//! OpenRouter simulated by this test process: every attendee gets exactly one key, the workshop
//! exactly one guardrail, and exactly one process runs the background work.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use app::background::orphans::is_key_name_of;
use app::store::ClaimStatus;
use openrouter::Simulator;
use support::process::{claim_at, eventually, lines_within, Answer, Server, LEADING};

const MGMT_KEY: &str = "sk-or-v1-replicas-test-management-key";
const SLUG: &str = "demo";
/// Attendees whose one claim goes to one process (alternating)...
const SINGLES: usize = 60;
/// ... and attendees who claim on both processes at the same moment.
const DOUBLES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_behind_one_burst_mint_exactly_once_with_one_syncer() {
    let (url, _db) = support::fresh_postgres().await;
    let spawned = Simulator::new(MGMT_KEY).spawn().await.unwrap();
    let sim = spawned.simulator.clone();
    // OpenRouter takes a moment per call, so the claims on the two processes overlap.
    sim.set_latency(Duration::from_millis(25));
    let settings = [
        ("OPENROUTER_MANAGEMENT_KEY", MGMT_KEY),
        ("OPENROUTER_BASE_URL", spawned.base_url.as_str()),
        // One secret: a session from either process is good on both, as behind a load balancer.
        ("SESSION_SECRET", "replicas-test-session-secret-32-bytes-or-more"),
        ("RATE_LIMIT_CLAIMS_PER_MINUTE", "1000"),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "100000"),
    ];
    // Started together: they race for the migrations and for the background lock too.
    let (mut a, mut b) = tokio::join!(Server::start(&url, &settings), Server::start(&url, &settings));

    let mut cookies = Vec::new();
    for i in 0..SINGLES + DOUBLES {
        let server = if i % 2 == 0 { &a } else { &b };
        let email = format!("attendee{i}@example.org");
        cookies.push((format!("dev|{email}"), server.sign_in(&email).await));
    }

    // The burst: each single claims once, on the process their index picks; each double claims
    // on both at the same moment.
    let mut claims = Vec::new();
    for (i, (user, cookie)) in cookies.iter().enumerate() {
        let ports = if i < SINGLES { vec![if i % 2 == 0 { a.port } else { b.port }] } else { vec![a.port, b.port] };
        for port in ports {
            let cookie = cookie.clone();
            claims.push((user.clone(), tokio::spawn(async move { claim_at(port, &cookie, SLUG).await })));
        }
    }
    assert_eq!(claims.len(), SINGLES + 2 * DOUBLES);
    let mut shown: HashMap<String, HashSet<String>> = HashMap::new();
    for (user, claim) in claims {
        match claim.await.unwrap() {
            Answer::Key(key) => {
                shown.entry(user).or_default().insert(key.key);
            }
            other => panic!("{user}: {other:?}"),
        }
    }
    assert_eq!(shown.len(), SINGLES + DOUBLES);
    assert!(shown.values().all(|keys| keys.len() == 1), "each attendee was shown one key, on both processes alike");

    let keys: Vec<_> = sim.keys().into_iter().filter(|k| is_key_name_of(SLUG, &k.info.name)).collect();
    assert_eq!(keys.len(), SINGLES + DOUBLES, "exactly one key per attendee at OpenRouter");
    assert_eq!(sim.request_log().iter().filter(|r| *r == "POST /keys").count(), SINGLES + DOUBLES, "created once each");
    let guardrails: Vec<_> = sim.guardrails().into_iter().filter(|g| g.name == "workshop-demo").collect();
    assert_eq!(guardrails.len(), 1, "exactly one guardrail");
    assert!(keys.iter().all(|k| !k.info.disabled && k.guardrail_id.as_deref() == Some(guardrails[0].id.as_str())));

    let store = app::store::connect(&url).await.unwrap();
    let rows = store.workshop_attendance(SLUG).await.unwrap();
    assert_eq!(rows.len(), SINGLES + DOUBLES);
    let mut stored = HashSet::new();
    for (_, row) in &rows {
        assert_eq!(row.status, ClaimStatus::Minted);
        let plaintext = row.or_key_plaintext.clone().unwrap();
        assert_eq!(shown[&row.user_id], HashSet::from([plaintext]), "{}: holds the key shown", row.user_id);
        stored.insert(row.or_key_hash.clone().unwrap());
    }
    assert_eq!(stored, keys.iter().map(|k| k.info.hash.clone()).collect(), "each key is one row's");
    assert_eq!(store.claimed_count(SLUG).await.unwrap() as usize, SINGLES + DOUBLES);

    // The background work runs (every row's usage gets synced)...
    eventually("every row's usage is synced", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            let rows = store.workshop_attendance(SLUG).await.unwrap();
            rows.iter().all(|(_, row)| row.usage_synced_at.is_some())
        }
    })
    .await;
    // ... in exactly one of the two processes, over several more rounds.
    let (a_lines, b_lines) = tokio::join!(
        lines_within(&mut a.log, Duration::from_secs(3)),
        lines_within(&mut b.log, Duration::from_secs(3))
    );
    let leading = |lines: &[String]| lines.iter().filter(|l| l.contains(LEADING)).count();
    // Each process's whole log: the lines were kept since it started.
    assert_eq!(leading(&a_lines) + leading(&b_lines), 1, "exactly one process ever took the background work");
    a.kill().await;
    b.kill().await;
}
