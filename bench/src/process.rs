//! The release server as a child process, and what the kernel says about its CPU and memory;
//! the other tools the bench runs to their end ([`stdout_of`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use std::process::{Child, Command};

pub struct ServerProcess {
    child: Child,
    pub base: String,
    log: PathBuf,
    /// From starting the process to its first 200 on `/healthz` (migrations of a fresh
    /// database included).
    pub cold_start: Duration,
}

/// Everything the server is started with besides its address.
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub site: &'a Path,
    pub database_url: &'a str,
    pub openrouter_base_url: &'a str,
    pub management_key: &'a str,
    pub admin_email: &'a str,
    pub max_concurrency: Option<usize>,
    /// More `NAME=value` settings for the server (after the bench's own, so they win).
    pub extra_env: &'a [(String, String)],
}

impl ServerProcess {
    pub async fn start(launch: &Launch<'_>, log_dir: &Path) -> Result<Self, String> {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?;
        let log = log_dir.join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut command = Command::new(launch.binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // Demo mode only for its sign-in form (`/auth/dev`); OpenRouter is the simulator
            // of this process, reached over HTTP like the real one.
            .env("MINTER_DEMO", "1")
            .env("OPENROUTER_MANAGEMENT_KEY", launch.management_key)
            .env("OPENROUTER_BASE_URL", launch.openrouter_base_url)
            .env("DATABASE_URL", launch.database_url)
            .env("ADMIN_EMAILS", launch.admin_email)
            .env("LEPTOS_SITE_ADDR", port.to_string())
            .env("LEPTOS_SITE_ROOT", launch.site)
            .env("LEPTOS_OUTPUT_NAME", "minter")
            .env("PUBLIC_URL", format!("http://{port}"))
            // One load generator on one address: the per-address limit would measure itself.
            .env("RATE_LIMIT_REQUESTS_PER_MINUTE", "100000000")
            .env("RATE_LIMIT_PAGES_PER_MINUTE", "100000000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log_file);
        if let Some(n) = launch.max_concurrency {
            command.env("OPENROUTER_MAX_CONCURRENCY", n.to_string());
        }
        command.envs(launch.extra_env.iter().map(|(name, value)| (name, value)));
        let started = std::time::Instant::now();
        let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", launch.binary.display()))?;
        let mut server = Self { child, base: format!("http://{port}"), log, cold_start: Duration::ZERO };
        server.wait_until_healthy().await?;
        server.cold_start = started.elapsed();
        Ok(server)
    }

    /// Asks every 2 ms, so the cold start is measured to a few milliseconds.
    async fn wait_until_healthy(&self) -> Result<(), String> {
        let client = reqwest::Client::new();
        for _ in 0..5_000 {
            if let Ok(response) = client.get(format!("{}/healthz", self.base)).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Err(format!("the server did not become healthy; its log:\n{}", self.log_text()))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds the server has used so far, all threads.
    pub fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(&self.pid().to_string())
    }

    /// Peak resident memory (VmHWM) in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    /// Resident memory now (VmRSS) in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }

    fn status_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of process `pid` (`self` for this one), all threads.
pub fn process_cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

/// CPU seconds the whole machine has been busy (every process, every core) since boot.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // cpu  user nice system idle iowait irq softirq steal …
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| ticks.get(i)).sum();
    busy / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs a tool to its end off the async runtime and returns what it printed. Errors name the
/// program and `hint` when it cannot start, and `what` with all it printed when it fails.
pub async fn stdout_of(mut command: Command, what: &str, hint: &str) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{program}: {e}{hint}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!("{what} failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(text)
}
