//! A server's state over a real SQLite database and a spawned OpenRouter simulator, for the
//! in-process flow tests (claims, admin actions, background work).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use leptos::config::LeptosOptions;

use app::auth::providers::SignIn;
use app::auth::session::SessionKeys;
use app::auth::SessionUser;
use app::state::AppState;
use app::store::AttendeeProfile;
use app::workshops::{parse, Workshop};
use openrouter::{OpenRouterClient, RetryPolicy, Simulator};

pub const MGMT_KEY: &str = "sk-or-v1-management-test";

pub struct Harness {
    pub state: AppState,
    pub simulator: Simulator,
    pub base_url: String,
    pub _db: Box<dyn std::any::Any + Send>,
}

pub async fn harness() -> Harness {
    let (store, db) = super::db::sqlite_store().await;
    Harness { _db: Box::new(db), ..harness_on(store).await }
}

/// As [`harness`], over `store` (whose database the caller keeps).
pub async fn harness_on(store: Arc<dyn app::store::Store>) -> Harness {
    let spawned = Simulator::new(MGMT_KEY).spawn().await.unwrap();
    let state = AppState { simulator: Some(spawned.simulator.clone()), ..state_for(store, &spawned.base_url) };
    Harness { state, simulator: spawned.simulator, base_url: spawned.base_url, _db: Box::new(()) }
}

/// A server's state (one replica) over `store`, with fast retries and a short timeout.
pub fn state_for(store: Arc<dyn app::store::Store>, base_url: &str) -> AppState {
    let client = OpenRouterClient::new(base_url, MGMT_KEY)
        .with_retry_policy(RetryPolicy::new(4, StdDuration::from_millis(5), StdDuration::from_millis(20)))
        .with_timeout(StdDuration::from_millis(400));
    AppState {
        store,
        openrouter: Arc::new(client),
        session: SessionKeys::new(&[1; 32], "http://127.0.0.1:3000", true),
        sign_in: Arc::new(SignIn::new("http://127.0.0.1:3000", Vec::new())),
        demo: true,
        workshops: app::workshops::all(true),
        simulator: None,
        leptos_options: LeptosOptions::builder().output_name("minter").build(),
        admin_emails: Arc::new([]),
        limits: Arc::default(),
        usage_sync_every: StdDuration::from_secs(60),
        guardrails: Arc::default(),
        admin_reports: Arc::default(),
    }
}

/// A workshop whose window is open now, with a pool of `max_keys` keys of $2.
pub fn workshop(max_keys: u32) -> Workshop {
    let yaml = format!(
        r#"
slug: flow
name: Flow test
event: Tests
location: Loopback
starts_at: "2026-01-01T10:00:00+01:00"
ends_at: "2036-01-01T12:00:00+01:00"
claims_open_at: "2026-01-01T09:00:00+01:00"
claims_close_at: "2036-01-01T12:00:00+01:00"
openrouter:
  budget_usd: 2
  key_label_prefix: flow
  expires_buffer_minutes: 30
  models:
    - {{ id: openai/gpt-4o-mini, label: Mini, price_in_per_mtok: 0.15, price_out_per_mtok: 0.6 }}
    - {{ id: meta-llama/llama-3.1-8b-instruct, label: Llama, price_in_per_mtok: 0.02, price_out_per_mtok: 0.05 }}
  guardrail: {{ cap_usd: 1000, reset_interval: weekly, max_keys: {max_keys} }}
"#
    );
    parse("flow", &yaml).unwrap()
}

pub async fn user(state: &AppState, name: &str) -> SessionUser {
    let email = format!("{name}@example.org");
    let profile = AttendeeProfile {
        user_id: format!("dev|{email}"),
        email: email.clone(),
        email_normalized: email.clone(),
        display_name: name.into(),
        auth_provider: "dev".into(),
    };
    state.store.upsert_attendee(&profile, Utc::now()).await.unwrap();
    SessionUser { user_id: profile.user_id, email, name: name.into(), provider: "dev".into() }
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Status of a minimal chat completion made with an attendee's key.
pub async fn chat_status(base_url: &str, key: &str) -> u16 {
    let body = serde_json::json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let response = reqwest::Client::new()
        .post(format!("{base_url}/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}
