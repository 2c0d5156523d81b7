use leptos::config::get_configuration;
use tracing_subscriber::EnvFilter;

use server::config::Config;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "validate") {
        std::process::exit(server::validate::run(&args[1..]));
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .init();
    let config = Config::from_env().unwrap_or_else(|message| exit_with(&message));
    // LEPTOS_SITE_ADDR, LEPTOS_SITE_ROOT, … as set by cargo-leptos or the environment.
    let leptos_options =
        get_configuration(None).unwrap_or_else(|e| exit_with(&format!("leptos configuration: {e}"))).leptos_options;
    let address = leptos_options.site_addr;
    let state = server::build_state(&config, leptos_options).await.unwrap_or_else(|message| exit_with(&message));
    // Drift repair at start-up: a deploy that changed a workshop's models, cap or interval
    // patches its guardrail without waiting for the next claim.
    tokio::spawn({
        let state = state.clone();
        async move { app::claim::mint::repair_all_drift(&state).await }
    });
    // Usage sync, in this process if it holds the background lock (no cron).
    app::background::spawn(state.clone(), config.usage_sync_every);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|e| exit_with(&format!("cannot listen on {address}: {e}")));
    tracing::info!(demo = config.demo, "listening on http://{address}");
    axum::serve(listener, server::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .unwrap_or_else(|e| exit_with(&format!("server error: {e}")));
}

fn exit_with(message: &str) -> ! {
    eprintln!("minter: {message}");
    std::process::exit(1)
}
