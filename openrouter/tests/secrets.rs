//! Neither the management key nor any key plaintext reaches tracing output or error texts, even
//! on the recovery paths. Captures every tracing event and span field of the whole process (all
//! levels, all threads) with a tiny in-test subscriber; this binary holds a single test because
//! the subscriber is installed globally.

mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use openrouter::{CreateGuardrail, CreateKey, OpenRouterClient};
use support::{fast_retries, spawn_with, MGMT_KEY};

#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Capture {
    fn push(&self, line: String) {
        let mut text = self.text.lock().unwrap_or_else(|e| e.into_inner());
        text.push_str(&line);
        text.push('\n');
    }

    fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Fields(&mut line));
        self.push(line);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Fields(&mut line));
        self.push(line);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let m = event.metadata();
        let mut line = format!("{} {}", m.level(), m.target());
        event.record(&mut Fields(&mut line));
        self.push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_or_errors() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("first subscriber");

    let (sim, client) = spawn_with(fast_retries(4)).await;
    let client = client.with_timeout(Duration::from_millis(300));
    let mut plaintexts = Vec::new();
    let mut error_texts = Vec::new();

    // Recovery after an applied 500: the orphan is deleted, its plaintext was in the lost body.
    sim.simulator.fail_next_after_apply("POST /keys", 500, 1);
    let a = client.create_key_exactly_once(&CreateKey { name: "claim-1".into(), ..Default::default() }).await.unwrap();
    plaintexts.push(a.key.clone());
    // Recovery after a timeout with the key applied.
    sim.simulator.hang_next_after_apply("POST /keys", 1);
    let b = client.create_key_exactly_once(&CreateKey { name: "claim-2".into(), ..Default::default() }).await.unwrap();
    plaintexts.push(b.key.clone());
    // Giving up, after retried GETs and DELETEs that failed too.
    sim.simulator.fail_next_after_apply("POST /keys", 502, 1);
    sim.simulator.fail_next("GET /keys", 500, 10);
    let err =
        client.create_key_exactly_once(&CreateKey { name: "claim-3".into(), ..Default::default() }).await.unwrap_err();
    error_texts.push(format!("{err} {err:?}"));
    // ensure_guardrail recovery and a rejected management key.
    sim.simulator.clear_faults();
    sim.simulator.fail_next_after_apply("POST /guardrails", 500, 1);
    client.ensure_guardrail(&CreateGuardrail { name: "g".into(), ..Default::default() }).await.unwrap();
    let wrong = OpenRouterClient::new(sim.base_url.clone(), format!("sk-or-v1-{}", "e".repeat(64)));
    let err = wrong.get_key(&a.data.hash).await.unwrap_err();
    error_texts.push(format!("{err} {err:?} {wrong:?} {client:?}"));
    // Debug of a created key shows its (non-secret) label `sk-or-v1-abc...wxyz`, not the key.
    let created_debug = format!("{a:?}");
    assert!(!created_debug.contains(&a.key["sk-or-v1-".len()..]), "{created_debug}");

    let logs = capture.text();
    if std::env::var_os("DUMP_LOGS").is_some() {
        eprintln!("{logs}");
    }
    assert!(logs.contains("orphaned key deleted"), "capture works:\n{logs}");
    assert!(logs.contains("retrying"), "retries were logged:\n{logs}");
    assert!(logs.contains("claim-1"), "names are logged:\n{logs}");
    let secret_hex = &MGMT_KEY["sk-or-v1-".len()..];
    for text in std::iter::once(&logs).chain(&error_texts) {
        assert!(!text.contains("sk-or-v1-"), "key material leaked:\n{text}");
        assert!(!text.contains(secret_hex), "management key leaked:\n{text}");
        assert!(!text.contains(&"e".repeat(64)), "wrong management key leaked:\n{text}");
        for p in &plaintexts {
            assert!(!text.contains(&p["sk-or-v1-".len()..]), "plaintext leaked:\n{text}");
        }
    }
}
