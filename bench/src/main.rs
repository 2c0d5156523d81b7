//! Load benchmarks of the release server, printing tables (see the README, "Benchmarks"):
//! a burst of attendees claiming at the same instant against the OpenRouter simulator with a
//! set latency per call, page throughput with wrk, and page weight over the wire.
//!
//! Run through `scripts/bench.sh`, which builds the release server and site first.

mod burst;
mod pages;
mod process;
mod steps;
mod tti;
mod weight;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use openrouter::simulator::Simulator;
use process::{Launch, ServerProcess};

/// The workshop every attendee claims from: the demo workshop (pool of 300 keys, always open).
const SLUG: &str = "demo";
/// An open demo workshop the burst leaves alone: its page still shows the claim form.
const UNCLAIMED_SLUG: &str = "demo-small";
/// The page the weight target is for.
const WITH_A_KEY: &str = "attendee page, with a key";
const ADMIN_EMAIL: &str = "admin@bench.example";

#[derive(Parser)]
#[command(about = "Claim burst, page throughput and page weight of the release server")]
struct Args {
    /// Attendees who press "Claim" at the same instant (the demo workshop's pool holds 300).
    #[arg(long, default_value_t = 300)]
    attendees: usize,
    /// Latency the OpenRouter simulator adds to every call, in milliseconds.
    #[arg(long, default_value_t = 150)]
    latency_ms: u64,
    /// A Postgres server (e.g. postgres://postgres@127.0.0.1:5432/postgres): the bench runs on a
    /// fresh database there and drops it. Without it, a fresh SQLite file.
    #[arg(long)]
    postgres: Option<String>,
    /// OPENROUTER_MAX_CONCURRENCY for the server; its default when not given.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Seconds of load per page (0 skips the page throughput).
    #[arg(long, default_value_t = 10)]
    page_seconds: u64,
    /// Seconds between the first fetch of each page's assets and the measured one: the server
    /// compresses them at the best level in the background after the first request.
    #[arg(long, default_value_t = 20)]
    compress_wait: u64,
    /// A setting for the server, NAME=value (repeatable), e.g. --server-env MALLOC_ARENA_MAX=2.
    #[arg(long = "server-env", value_parser = name_value)]
    server_env: Vec<(String, String)>,
    /// Serve the OpenRouter simulator over HTTPS (HTTP/2 or HTTP/1.1, as the server's client
    /// offers), as OpenRouter is served; the server trusts its CA through OPENROUTER_CA_FILE.
    #[arg(long)]
    openrouter_tls: bool,
    /// With --openrouter-tls: how long each new connection to it waits before its handshake (the
    /// round trips of TCP and TLS to a distant server), in milliseconds.
    #[arg(long, default_value_t = 0)]
    openrouter_connect_ms: u64,
    /// With --openrouter-tls: the concurrent streams it allows on one HTTP/2 connection.
    #[arg(long, default_value_t = 100)]
    openrouter_streams: u32,
    /// Starts of the server, each on a fresh database, before the one the bench runs against:
    /// the cold start printed is the median of all of them (one start alone can meet a busy
    /// moment of the machine).
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
    /// Loads of the workshop page in Chromium, on a throttled network, for its time to
    /// interactive (`bench/tti.mjs`; 0 skips it).
    #[arg(long, default_value_t = 5)]
    tti_runs: usize,
    /// Connections wrk keeps open per page.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    #[arg(long, default_value = "target/release/server")]
    server: PathBuf,
    #[arg(long, default_value = "target/site")]
    site: PathBuf,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(message) = run(&args).await {
        eprintln!("bench failed: {message}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let workdir = std::env::temp_dir().join(format!("minter-bench-{}", rand::random::<u32>()));
    std::fs::create_dir_all(&workdir).map_err(|e| e.to_string())?;
    let (postgres, database_url) = fresh_database(args, &workdir, "bench").await?;
    let database = if postgres.is_some() { "Postgres" } else { "SQLite" };

    let management_key = format!("sk-or-v1-bench-{}", rand::random::<u64>());
    let simulator = Simulator::new(management_key.clone());
    let latency = Duration::from_millis(args.latency_ms);
    simulator.set_latency(latency);
    let sim = simulator.clone();
    let (openrouter_base_url, tls) = if args.openrouter_tls {
        let options = testkit::tls::TlsOptions {
            connect_delay: Duration::from_millis(args.openrouter_connect_ms),
            max_streams: args.openrouter_streams,
        };
        let router = axum::Router::new().nest("/api/v1", simulator.router());
        let tls = testkit::tls::serve(router, options).await.map_err(|e| format!("simulator over TLS: {e}"))?;
        (format!("{}/api/v1", tls.origin), Some(tls))
    } else {
        (simulator.spawn().await.map_err(|e| format!("simulator: {e}"))?.base_url, None)
    };
    let mut server_env = args.server_env.clone();
    if let Some(tls) = &tls {
        let ca = workdir.join("openrouter-ca.pem");
        std::fs::write(&ca, &tls.ca_pem).map_err(|e| e.to_string())?;
        server_env.insert(0, ("OPENROUTER_CA_FILE".into(), ca.display().to_string()));
    }
    let launch = Launch {
        binary: &args.server,
        site: &args.site,
        database_url: &database_url,
        openrouter_base_url: &openrouter_base_url,
        management_key: &management_key,
        admin_email: ADMIN_EMAIL,
        max_concurrency: args.concurrency,
        extra_env: &server_env,
    };
    let mut cold_starts = Vec::new();
    for start in 0..args.cold_starts {
        // An OpenRouter that refuses at once: these servers leave the simulator's guardrails alone.
        let openrouter_base_url = "http://127.0.0.1:9/api/v1";
        let (_throwaway, database_url) = fresh_database(args, &workdir, &format!("cold-start-{start}")).await?;
        let launch = Launch { database_url: &database_url, openrouter_base_url, ..launch };
        cold_starts.push(ServerProcess::start(&launch, &workdir).await?.cold_start);
    }
    // Only the measured server serves its metrics, for where a claim's time goes (`steps.rs`).
    let metrics_addr =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.to_string();
    let measured_env: Vec<(String, String)> =
        [("METRICS_ADDR".to_string(), metrics_addr.clone())].into_iter().chain(server_env.iter().cloned()).collect();
    let server = ServerProcess::start(&Launch { extra_env: &measured_env, ..launch }, &workdir).await?;
    cold_starts.push(server.cold_start);
    // The server prepares the workshop's guardrail at start-up; the burst starts after that.
    wait_until(|| sim.guardrails().iter().any(|g| g.name == format!("workshop-{SLUG}")), "the guardrail").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    cold_starts.sort();
    let ms_of = |d: &Duration| d.as_secs_f64() * 1000.0;
    let cold_start_ms = ms_of(&cold_starts[cold_starts.len() / 2]);
    let cold_start_range =
        format!("{:.0}–{:.0} ms", ms_of(&cold_starts[0]), ms_of(&cold_starts[cold_starts.len() - 1]));
    println!("## Start: {database}, release build\n");
    print_table(
        &["measure", "value", "target", "met"],
        [
            vec![
                format!(
                    "cold start (process start → first 200 on /healthz, fresh database), median of {} starts",
                    cold_starts.len()
                ),
                format!("{cold_start_ms:.0} ms ({cold_start_range})"),
                "≤ 100 ms".into(),
                yes_no(cold_start_ms <= 100.0),
            ],
            vec![
                "RSS idle (1 s after start)".into(),
                format!("{:.1} MB", server.rss_mib()),
                "≤ 20 MB".into(),
                yes_no(server.rss_mib() <= 20.0),
            ],
        ]
        .into_iter(),
    );
    println!();

    let client = burst::client();
    let cookies = burst::sign_in_attendees(&client, &server.base, args.attendees).await?;
    burst::open_workshop_page(&client, &server.base, SLUG, &cookies).await?;
    let (cpu_before, calls_before) = (server.cpu_seconds(), sim.request_count());
    let (machine_before, own_before) = (process::machine_busy_seconds(), process::process_cpu_seconds("self"));
    let steps_before = steps::scrape(&client, &metrics_addr).await?;
    let result = burst::claim_all(&client, &server.base, SLUG, &cookies).await;
    let spent = steps::scrape(&client, &metrics_addr).await?.since(&steps_before);
    let cpu = server.cpu_seconds() - cpu_before;
    let machine = process::machine_busy_seconds() - machine_before;
    let own = process::process_cpu_seconds("self") - own_before;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let calls = sim.request_count() - calls_before;
    let keys_at_openrouter = sim.keys().iter().filter(|k| k.guardrail_id.is_some()).count();

    println!(
        "\n## Claim burst: {} attendees at once, {} ms per OpenRouter call, {database}",
        args.attendees, args.latency_ms
    );
    let concurrency = args.concurrency.map_or_else(|| "default".into(), |n| n.to_string());
    println!(
        "(server: release build, OPENROUTER_MAX_CONCURRENCY {concurrency}; wall time {:.2} s)\n",
        result.wall.as_secs_f64()
    );
    let calls_per_claim = calls as f64 / args.attendees as f64;
    let floor = latency.mul_f64(calls_per_claim);
    let ratio = |d: Duration| d.as_secs_f64() / floor.as_secs_f64();
    let (p50, p95, p99, max) = (
        burst::quantile(&result.latencies, 0.50),
        burst::quantile(&result.latencies, 0.95),
        burst::quantile(&result.latencies, 0.99),
        burst::quantile(&result.latencies, 1.0),
    );
    let cpu_ms_per_claim = cpu * 1000.0 / args.attendees as f64;
    let rss = server.peak_rss_mib();
    let mut rows = vec![
        (
            "keys minted (distinct, bound at OpenRouter)",
            format!("{} ({keys_at_openrouter})", result.keys.len()),
            format!("= {}", args.attendees),
            result.keys.len() == args.attendees && keys_at_openrouter == args.attendees,
        ),
        ("errors", result.errors.len().to_string(), "0".into(), result.errors.is_empty()),
        ("OpenRouter calls per claim", format!("{calls_per_claim:.2}"), String::new(), true),
        ("floor (calls per claim × latency)", ms(floor), String::new(), true),
        ("latency p50", format!("{} ({:.2} × floor)", ms(p50), ratio(p50)), "≤ 1.2 × floor".into(), ratio(p50) <= 1.2),
        ("latency p95", ms(p95), String::new(), true),
        ("latency p99", format!("{} ({:.2} × floor)", ms(p99), ratio(p99)), "≤ 1.5 × floor".into(), ratio(p99) <= 1.5),
        ("latency max", ms(max), String::new(), true),
        (
            "server CPU per claim",
            format!("{cpu_ms_per_claim:.2} ms ({cpu:.2} s in all)"),
            "≤ 2 ms".into(),
            cpu_ms_per_claim <= 2.0,
        ),
        (
            "machine CPU busy in the burst",
            format!(
                "{machine:.2} s of {:.2} s ({cores} cores × wall); server {cpu:.2} s, load generator + simulator {own:.2} s",
                cores as f64 * result.wall.as_secs_f64()
            ),
            String::new(),
            true,
        ),
        ("server peak RSS (so far)", format!("{rss:.1} MB"), "≤ 100 MB".into(), rss <= 100.0),
    ];
    if let Some(tls) = &tls {
        let (http2, http1) = tls.connections();
        let connections = format!(
            "HTTP/2 {http2}, HTTP/1.1 {http1} ({} ms before each handshake, {} streams per HTTP/2 connection)",
            args.openrouter_connect_ms, args.openrouter_streams
        );
        rows.push(("connections to OpenRouter over TLS, since the start", connections, String::new(), true));
    }
    print_table(
        &["measure", "value", "target", "met"],
        rows.iter().map(|(name, value, target, met)| {
            vec![
                name.to_string(),
                value.clone(),
                target.clone(),
                if target.is_empty() { String::new() } else { yes_no(*met) },
            ]
        }),
    );
    for error in result.errors.iter().take(5) {
        println!("  error: {error}");
    }
    print_claim_steps(&spent, &result.latencies);

    let admin = burst::sign_in(&client, &server.base, ADMIN_EMAIL, "Bench admin").await?;
    let attendee = cookies.first().cloned();
    let workshop = format!("/w/{SLUG}");
    let admin_page = format!("/admin/w/{SLUG}");
    if args.page_seconds > 0 {
        println!(
            "\n## Pages: wrk, {} connections, {} s each, Accept-Encoding: br, gzip\n",
            args.connections, args.page_seconds
        );
        let mut rows = Vec::new();
        let mut admin_rps = 0.0;
        for (label, path, cookie) in [
            ("signed out", &workshop, None),
            ("signed in, with a key", &workshop, attendee.as_deref()),
            ("admin, 300 rows", &admin_page, Some(admin.as_str())),
        ] {
            let url = format!("{}{path}", server.base);
            let load = pages::wrk(&url, cookie, args.page_seconds, args.connections).await?;
            if path == &admin_page {
                admin_rps = load.requests_per_second;
            }
            rows.push(vec![
                format!("{path} ({label})"),
                format!("{:.0}", load.requests_per_second),
                ms(load.p50),
                ms(load.p99),
                load.failed.to_string(),
                format!("{:.1} MB", server.peak_rss_mib()),
            ]);
        }
        print_table(&["page", "requests/s", "p50", "p99", "failed", "server peak RSS so far"], rows.into_iter());
        println!("\ntarget {admin_page} ≥ 500 requests/s with 300 rows: {}", yes_no(admin_rps >= 500.0));
    }

    // Someone signed in who has not claimed yet: their page carries the claim form (on the small
    // demo workshop, which still has keys: the burst took the whole pool of this one).
    let newcomer = burst::sign_in(&client, &server.base, "newcomer@bench.example", "Newcomer").await?;
    let (projector, unclaimed) = (format!("/w/{SLUG}/projector"), format!("/w/{UNCLAIMED_SLUG}"));
    let pages = [
        (WITH_A_KEY, &workshop, attendee.as_deref()),
        ("signed out", &workshop, None),
        ("signed in, before claiming", &unclaimed, Some(newcomer.as_str())),
        ("projector", &projector, None),
        ("admin page", &admin_page, Some(admin.as_str())),
    ];
    let mut first_request = Vec::new();
    for (_, path, cookie) in pages {
        let assets = weight::page_weight(&client, &server.base, path, cookie, &args.site).await?;
        first_request.push(assets.iter().map(|a| a.wire).sum::<usize>());
    }
    tokio::time::sleep(Duration::from_secs(args.compress_wait)).await;
    for ((label, path, cookie), first) in pages.into_iter().zip(first_request) {
        let assets = weight::page_weight(&client, &server.base, path, cookie, &args.site).await?;
        println!("\n## Page weight: {path} ({label}), as served with Accept-Encoding: br, gzip\n");
        println!("(after {} s; the first request after start carried {first} B in all)\n", args.compress_wait);
        let total_wire: usize = assets.iter().map(|a| a.wire).sum();
        let total_raw: usize = assets.iter().map(|a| a.raw).sum();
        let mut rows: Vec<Vec<String>> = assets
            .iter()
            .map(|a| {
                vec![a.path.clone(), a.raw.to_string(), a.wire.to_string(), a.encoding.clone(), a.cache_control.clone()]
            })
            .collect();
        rows.push(vec!["total".into(), total_raw.to_string(), total_wire.to_string(), String::new(), String::new()]);
        print_table(&["resource", "bytes", "bytes over the wire", "encoding", "cache-control"], rows.into_iter());
        if label == WITH_A_KEY {
            println!("\ntarget ≤ 120 KB (122,880 B) over the wire: {}", yes_no(total_wire <= 122_880));
            let later = weight::on_first_use(&client, &server.base, &args.site, &assets).await?;
            if !later.is_empty() {
                println!("\nFetched on first use, not with the page (bytes over the wire):\n");
                print_table(
                    &["code", "bytes over the wire"],
                    later.into_iter().map(|(name, wire)| vec![name, wire.to_string()]),
                );
            }
        } else if path == &admin_page {
            let html = &assets[0];
            println!("\ntarget HTML ≤ 120 KB (122,880 B): {} B, {}", html.raw, yes_no(html.raw <= 122_880));
        }
    }
    if let (Some(cookie), true) = (attendee.as_deref(), args.tti_runs > 0) {
        println!("\n## Time to interactive: {workshop} (with a key), Chromium, 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip\n");
        match tti::measure(&server.base, cookie, args.tti_runs).await {
            Ok(tti) => {
                let runs: Vec<String> = tti.runs.iter().map(u64::to_string).collect();
                print_table(
                    &["measure", "value"],
                    [
                        vec![
                            format!("median of {} loads, the cache empty", tti.runs.len()),
                            format!("{} ms", tti.median_ms),
                        ],
                        vec!["each load".into(), format!("{} ms", runs.join(", "))],
                        vec!["bytes over the wire (Chromium's count)".into(), tti.bytes.to_string()],
                    ]
                    .into_iter(),
                );
            }
            Err(reason) => println!("not measured: {reason}"),
        }
    }
    let peak = server.peak_rss_mib();
    println!("\nserver peak RSS over the whole run: {peak:.1} MB (target ≤ 60 MB: {})", yes_no(peak <= 60.0));
    drop(server);
    drop(postgres);
    let _ = std::fs::remove_dir_all(&workdir);
    Ok(())
}

/// The mean time of each step of the burst's claims, as the server timed them, against the mean
/// latency the attendees saw.
fn print_claim_steps(spent: &steps::Totals, latencies: &[Duration]) {
    let mean = |(sum, count): (f64, u64)| if count == 0 { 0.0 } else { sum * 1000.0 / count as f64 };
    let seen = latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / latencies.len().max(1) as f64;
    println!("\n## Where a claim's time goes (mean per claim: the server's own timing, `minter_claim_step_seconds`)\n");
    let mut rows = Vec::new();
    let mut in_steps = 0.0;
    for (step, what) in [
        ("reserve", "reserve a pool slot (database)"),
        ("guardrail", "the workshop's guardrail (memory once known)"),
        ("create_key", "create the key (OpenRouter)"),
        ("assign", "assign it to the guardrail (OpenRouter)"),
        ("save", "save the key with its binding (database)"),
    ] {
        let ms = mean(spent.steps.get(step).copied().unwrap_or_default());
        in_steps += ms;
        rows.push((format!("`{step}`: {what}"), ms));
    }
    let claim = mean(spent.claims);
    rows.push(("the claim's checks and answer around the steps".into(), claim - in_steps));
    rows.push(("outside the claim: HTTP both ways, the sign-in check, waiting for a worker".into(), seen - claim));
    print_table(
        &["part", "mean", "share"],
        rows.into_iter().map(|(part, ms)| vec![part, format!("{ms:.1} ms"), format!("{:.0} %", 100.0 * ms / seen)]),
    );
    println!("| latency seen by the attendee | {seen:.1} ms | 100 % |");
}

fn name_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=value, not {text:?}")),
    }
}

async fn wait_until(condition: impl Fn() -> bool, what: &str) -> Result<(), String> {
    for _ in 0..200 {
        if condition() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("timed out waiting for {what}"))
}

/// A new database and its URL: one of its own on the Postgres server of `--postgres` (dropped
/// with the returned value), else a new SQLite file `<name>.db` in `workdir`.
async fn fresh_database(
    args: &Args,
    workdir: &std::path::Path,
    name: &str,
) -> Result<(Option<testkit::ThrowawayDatabase>, String), String> {
    match &args.postgres {
        Some(url) => {
            let db = testkit::ThrowawayDatabase::create_on(url).await.map_err(|e| format!("Postgres: {e}"))?;
            let url = db.url();
            Ok((Some(db), url))
        }
        None => Ok((None, format!("sqlite://{}/{name}.db", workdir.display()))),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn yes_no(met: bool) -> String {
    if met { "yes" } else { "NO" }.to_string()
}

/// A Markdown table, so the output can go into the README as it is.
fn print_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}
