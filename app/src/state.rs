//! What every server function and route shares: storage, OpenRouter, session keys, settings.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use openrouter::OpenRouterClient;

use crate::auth::providers::SignIn;
use crate::auth::session::SessionKeys;
use crate::auth::SignInOption;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub openrouter: Arc<OpenRouterClient>,
    pub session: SessionKeys,
    /// Google / GitHub / any OIDC issuer that is configured, and the public URL.
    pub sign_in: Arc<SignIn>,
    /// `MINTER_DEMO=1`: dev sign-in and the demo banner.
    pub demo: bool,
    /// The workshops this server serves: those built in, the demo-only ones in demo mode.
    pub workshops: &'static [crate::workshops::Workshop],
    /// The in-process OpenRouter simulator, when demo mode runs without a management key.
    pub simulator: Option<openrouter::Simulator>,
    pub leptos_options: LeptosOptions,
    /// `ADMIN_EMAILS`, lowercased: who may run every workshop's admin page.
    pub admin_emails: Arc<[String]>,
    /// Per-user and per-address request limits (this process's counts).
    pub limits: Arc<crate::rate_limit::RateLimits>,
    /// How often the background work reads usage from OpenRouter (`USAGE_SYNC_SECONDS`).
    pub usage_sync_every: std::time::Duration,
    /// What this process knows of the workshops' guardrails.
    pub guardrails: Arc<std::sync::Mutex<KnownGuardrails>>,
    /// The admin pages' reports, shared until the store changes.
    pub admin_reports: Arc<crate::admin::report::ReportCache>,
}

/// The workshops' guardrails as this process knows them: their ids once read or made (a stored
/// id never changes, so a claim need not read it again), and which were compared with the YAML
/// (drift repair, once per process).
#[derive(Default)]
pub struct KnownGuardrails {
    ids: std::collections::HashMap<String, String>,
    checked: std::collections::HashSet<String>,
}

impl AppState {
    /// The workshops this server serves (demo mode adds `workshops/demo/`).
    pub fn workshops(&self) -> &'static [crate::workshops::Workshop] {
        self.workshops
    }

    pub fn workshop(&self, slug: &str) -> Option<&'static crate::workshops::Workshop> {
        self.workshops.iter().find(|w| w.slug == slug)
    }

    fn known_guardrails(&self) -> std::sync::MutexGuard<'_, KnownGuardrails> {
        self.guardrails.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn guardrail_checked(&self, slug: &str) -> bool {
        self.known_guardrails().checked.contains(slug)
    }

    pub fn mark_guardrail_checked(&self, slug: &str) {
        self.known_guardrails().checked.insert(slug.to_string());
    }

    /// The workshop's guardrail id, if this process has read or made it.
    pub fn known_guardrail_id(&self, slug: &str) -> Option<String> {
        self.known_guardrails().ids.get(slug).cloned()
    }

    pub fn remember_guardrail_id(&self, slug: &str, id: &str) {
        self.known_guardrails().ids.insert(slug.to_string(), id.to_string());
    }

    /// Every configured way to sign in, each returning to `next`; the unverified demo form
    /// comes first in demo mode.
    pub fn sign_in_options(&self, next: &str) -> Vec<SignInOption> {
        let demo = self.demo.then(|| SignInOption {
            label: "Demo sign-in".into(),
            href: format!("/auth/dev?next={}", crate::auth::encode_query_value(next)),
        });
        demo.into_iter().chain(self.sign_in.options(next)).collect()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state, as server functions see it (provided as Leptos context by the server).
pub fn app_state() -> Result<AppState, leptos::prelude::ServerFnErrorErr> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| leptos::prelude::ServerFnErrorErr::ServerError("application state missing".into()))
}
