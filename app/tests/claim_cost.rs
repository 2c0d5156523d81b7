//! What one claim costs the database, counted from sqlx's own log of every statement it runs
//! and, on Postgres, from the wire (the round trips, each a wait on the network): a burst of 300
//! claims pays it 300 times on one pool row's lock. Printed per database with the statements
//! themselves (`cargo test --test claim_cost -- --nocapture`).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use app::claim::mint::claim;
use app::store::{PgStore, Store};
use support::db::sqlite_store;
use support::flow::{harness_on, now, user, workshop};
use support::round_trips::RoundTrips;
use testkit::ThrowawayDatabase;

/// The statements sqlx runs while `counting` is on (their first words).
#[derive(Clone, Default)]
struct Statements {
    counting: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
}

struct Summary(String);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.to_string();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" && self.counting.load(Ordering::SeqCst) {
            let mut summary = Summary(String::new());
            event.record(&mut summary);
            // A connection the pool opens on demand sets itself up once, not per claim.
            if !summary.0.starts_with("PRAGMA") {
                self.seen.lock().unwrap().push(summary.0);
            }
        }
    }
}

impl Statements {
    fn start(&self) {
        self.seen.lock().unwrap().clear();
        self.counting.store(true, Ordering::SeqCst);
    }

    fn stop(&self) -> Vec<String> {
        self.counting.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

#[tokio::test]
async fn a_claim_runs_three_statements_on_sqlite_and_two_on_postgres_in_two_round_trips() {
    let statements = Statements::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::DEBUG))
        .with(statements.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let (sqlite, _sqlite_db) = sqlite_store().await;
    let postgres_db = ThrowawayDatabase::create().await;
    let wire = RoundTrips::start(&postgres_db.url()).await;
    let postgres: Arc<dyn Store> = Arc::new(PgStore::connect(wire.url()).await.unwrap());

    // At most: SQLite's reservation, two statements under its one write lock (the slot, taken
    // only while claims run, for a new attendee without another sign-in, and the row), or
    // Postgres's one call of its `reserve_claim` function; the key saved with its binding.
    // (Before the guardrail id was kept in memory and the saved row built instead of read back:
    // 10 and 11; before SQLite's slot took the checks into its statement: 7 on SQLite; before
    // Postgres reserved in one call: 9 there, six of them the reservation's transaction; before
    // the reservation asked for pauses itself: one more on each, the pause check; before the key
    // was saved after its binding: one more on each, the binding's own write.) On Postgres each
    // statement is one round trip (six while the pool pinged every connection it handed out).
    for (store, name, most) in [(sqlite, "sqlite", 3), (postgres, "postgres", 2)] {
        let h = harness_on(store).await;
        let w = workshop(10);
        // The first claim of a process reads (or makes) the guardrail, and its connection
        // prepares the statements; later ones know both.
        let first = user(&h.state, "first").await;
        claim(&h.state, &first, &w, false, now()).await.unwrap();

        let ada = user(&h.state, "ada").await;
        statements.start();
        wire.start_counting();
        let row = claim(&h.state, &ada, &w, false, now()).await.unwrap();
        let round_trips = wire.stop();
        let seen = statements.stop();
        println!("{name}: {} statements per claim", seen.len());
        for statement in &seen {
            println!("  {statement}");
        }
        assert!(row.is_bound() && row.or_key_plaintext.is_some(), "{name}: a working key");
        assert_eq!(h.state.store.attendance(&ada.user_id, &w.slug).await.unwrap(), Some(row), "{name}");
        assert!(!seen.is_empty() && seen.len() <= most, "{name}: {} statements: {seen:#?}", seen.len());
        if name == "postgres" {
            println!("{name}: {round_trips} round trips per claim");
            assert_eq!(round_trips, seen.len(), "postgres: one round trip per statement, no ping before it");
        }
    }
}
