use leptos::config::get_configuration;
use tracing_subscriber::EnvFilter;

use server::config::Config;

fn main() {
    // Before the runtime starts its threads: each takes its arena on its first allocation.
    server::memory::limit_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| exit_with(&format!("cannot start the runtime: {e}")))
        .block_on(run());
}

async fn run() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("validate") => std::process::exit(server::validate::run(&args[1..])),
        Some("doctor") => std::process::exit(server::doctor::run(&args[1..]).await),
        _ => {}
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // LOG_FORMAT=json: one JSON object per line, for a log collector.
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let config = Config::from_env().unwrap_or_else(|message| exit_with(&message));
    // LEPTOS_SITE_ADDR, LEPTOS_SITE_ROOT, … as set by cargo-leptos or the environment.
    let leptos_options =
        get_configuration(None).unwrap_or_else(|e| exit_with(&format!("leptos configuration: {e}"))).leptos_options;
    let address = leptos_options.site_addr;
    if let Some(metrics_addr) = config.metrics_addr {
        let handle = server::metrics_endpoint::install().unwrap_or_else(|e| exit_with(&format!("metrics: {e}")));
        let listener = app::listener::bind(metrics_addr)
            .unwrap_or_else(|e| exit_with(&format!("cannot listen on METRICS_ADDR {metrics_addr}: {e}")));
        tracing::info!("metrics on http://{metrics_addr}/metrics");
        tokio::spawn(async move { axum::serve(listener, server::metrics_endpoint::router(handle)).await });
    }
    let state = server::build_state(&config, leptos_options).await.unwrap_or_else(|message| exit_with(&message));
    // Guardrails at start-up: created before the first burst needs them, and a deploy that
    // changed a workshop's models, cap or interval patches its guardrail without waiting.
    tokio::spawn({
        let state = state.clone();
        async move { app::guardrail::prepare_all(&state).await }
    });
    // Usage sync, in this process if it holds the background lock (no cron).
    app::background::spawn(state.clone(), config.usage_sync_every);
    let listener =
        app::listener::bind(address).unwrap_or_else(|e| exit_with(&format!("cannot listen on {address}: {e}")));
    tracing::info!(demo = config.demo, "listening on http://{address}");
    // Stops accepting on the signal, lets requests in flight (a claim mid-mint) finish, then exits.
    server::serve::serve(listener, server::router(state), server::serve::Timeouts::default(), shutdown_signal())
        .await
        .unwrap_or_else(|e| exit_with(&format!("server error: {e}")));
}

/// Ctrl-C, or SIGTERM from an orchestrator or `docker stop`.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

fn exit_with(message: &str) -> ! {
    eprintln!("minter: {message}");
    std::process::exit(1)
}
