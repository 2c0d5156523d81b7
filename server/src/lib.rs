//! The axum server: wiring of configuration, state, routes and (in demo mode) the simulator.
#![recursion_limit = "256"]

mod accept_encoding;
mod address_limit;
mod admin_exports;
mod compression;
pub mod config;
mod cross_site;
mod demo_faults;
mod dev_auth;
pub mod doctor;
pub mod memory;
pub mod metrics_endpoint;
mod plain_page;
mod request_id;
mod security_headers;
pub mod serve;
mod server_fn_input;
mod sign_in;
mod static_files;
pub mod validate;
mod well_known;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};

use app::auth::providers::SignIn;
use app::auth::session::SessionKeys;
use app::signed_in::RequestSession;
use app::state::AppState;
use app::{shell, App};
use config::Config;
use openrouter::{OpenRouterClient, Simulator};

/// Builds the shared state: opens the database (applying migrations) and picks the OpenRouter
/// endpoint, starting the in-process simulator in demo mode when no management key is set.
pub async fn build_state(config: &Config, leptos_options: LeptosOptions) -> Result<AppState, String> {
    let store = app::store::connect(&config.database_url).await.map_err(|e| format!("database: {e}"))?;
    let mut demo_simulator = None;
    let openrouter = match &config.openrouter_management_key {
        Some(key) => {
            if config.demo {
                tracing::warn!(
                    "demo mode with a real OPENROUTER_MANAGEMENT_KEY: demo sign-in is unverified and the keys \
                     minted here are real and cost money"
                );
            }
            let client = OpenRouterClient::new(config.openrouter_base_url.clone(), key.clone());
            match config.openrouter_extra_roots.as_slice() {
                [] => client,
                roots => client.with_extra_roots(roots.to_vec()),
            }
        }
        None => {
            let key = format!("sk-or-v1-sim-{}", hex_token());
            let simulator = Simulator::new(key.clone());
            // Demo knob: OPENROUTER_SIM_FAULTS="POST ^/keys$=500x2; *=latency 300ms" (see simulator docs).
            if simulator.apply_fault_spec_from_env()? {
                tracing::info!("demo mode: simulator faults applied from {}", openrouter::simulator::FAULTS_ENV);
            }
            for model in app::workshops::all(config.demo).iter().flat_map(|w| &w.openrouter.models) {
                let price = |d: rust_decimal::Decimal| rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(0.0);
                simulator.set_model_price(&model.id, price(model.price_in_per_mtok), price(model.price_out_per_mtok));
            }
            let simulator = simulator.spawn().await.map_err(|e| format!("simulator: {e}"))?;
            tracing::info!(base_url = %simulator.base_url, "demo mode: OpenRouter simulator started");
            demo_simulator = Some(simulator.simulator);
            OpenRouterClient::new(simulator.base_url, key)
        }
    }
    .with_max_concurrency(config.openrouter_max_concurrency);
    Ok(AppState {
        store,
        openrouter: Arc::new(openrouter),
        session: SessionKeys::new(&config.session_secret, &config.public_url, config.demo),
        sign_in: Arc::new(SignIn::new(&config.public_url, config.sign_in.clone())),
        demo: config.demo,
        workshops: app::workshops::all(config.demo),
        simulator: demo_simulator,
        leptos_options,
        admin_emails: config.admin_emails.clone().into(),
        limits: Arc::new(app::rate_limit::RateLimits::new(config.limits.clone())),
        usage_sync_every: config.usage_sync_every,
        guardrails: Arc::default(),
        admin_reports: Arc::default(),
    })
}

fn hex_token() -> String {
    rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect()
}

/// The largest request body accepted, in bytes.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Every route of the application, with the request timeout of `timeouts`; tests call this with
/// their own state.
pub fn router(state: AppState) -> Router {
    router_with(state, serve::Timeouts::default())
}

/// [`router`] with other timeouts (tests shorten them).
pub fn router_with(state: AppState, timeouts: serve::Timeouts) -> Router {
    let routes = generate_route_list(App);
    let mut router = Router::new()
        .route("/api/{*fn_name}", get(server_fn).post(server_fn))
        .route("/healthz", get(healthz))
        .merge(sign_in::routes())
        .merge(admin_exports::routes())
        .merge(static_files::routes(&state))
        .merge(well_known::routes());
    if state.demo {
        router = router.merge(dev_auth::routes()).merge(demo_faults::routes());
    }
    router
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || {
                    provide_context(state.clone());
                    provide_context(RequestSession::default());
                }
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(server_fn_input::check))
        .layer(axum::middleware::from_fn_with_state(
            cross_site::PublicOrigin::of(state.sign_in.public_url()),
            cross_site::refuse_cross_site_posts,
        ))
        .layer(axum::middleware::from_fn_with_state(state.limits.clone(), address_limit::limit))
        // A request that takes longer than this is answered 408 (the slowest honest one is a
        // claim waiting on OpenRouter's retries, which then finishes on its own).
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        // Brotli or gzip, as the browser accepts: brotli with a window sized for our pages
        // (`compression`), gzip by tower-http's layer, which leaves a compressed answer alone.
        .layer(axum::middleware::from_fn(compression::brotli))
        .layer(tower_http::compression::CompressionLayer::new())
        // Every form and server function here takes a few hundred bytes; a huge body is refused
        // (413) before anything reads it.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        // Around everything above, so that every answer has them, the 413 above included.
        .layer(axum::middleware::from_fn_with_state(
            security_headers::Https(state.sign_in.public_url().starts_with("https://")),
            security_headers::add,
        ))
        // Outermost: every request (and log line) has our id before anything else runs.
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}

/// For load balancers and orchestrators: 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    use axum::http::StatusCode;
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

async fn server_fn(State(state): State<AppState>, request: Request<Body>) -> impl IntoResponse {
    let context = move || {
        provide_context(state.clone());
        provide_context(RequestSession::default());
    };
    handle_server_fns_with_context(context, request).await
}
