//! `server doctor [WORKSHOP FILES…]`: a preflight of a deployment, run in its environment before
//! (and after) the event goes live. It reads the configuration and asks each service it depends on,
//! changing nothing: the configuration itself, `PUBLIC_URL`, the database (reachable, TLS as
//! configured, migrations applied), OpenRouter (the management key, each workshop's guardrail)
//! and each sign-in provider (reachable, client accepted, the redirect URI to register).
//!
//! One line per check: `ok` or `problem`, with the fix. The exit code is 1 when anything is a
//! problem. Workshop files given as arguments are checked instead of the built-in workshops (a
//! workshop that a pull request is about to add).

mod database;
mod openrouter;
mod settings;
mod sign_in;

use std::fmt::Display;
use std::time::Duration;

use app::workshops::Workshop;

/// What the checks print.
#[derive(Default)]
pub struct Report {
    problems: usize,
}

impl Report {
    pub fn ok(&mut self, check: &str, text: impl Display) {
        println!("ok       {check}: {text}");
    }

    pub fn problem(&mut self, check: &str, text: impl Display, fix: impl Display) {
        self.problems += 1;
        println!("problem  {check}: {text} — fix: {fix}");
    }
}

/// The environment variable `name`, trimmed, if set and not empty.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Requests to the services checked: quick to give up, as a person is waiting.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("workshop-key-minter doctor")
        .build()
        .expect("a TLS backend")
}

/// Runs every check; the process exit code.
pub async fn run(args: &[String]) -> i32 {
    let workshops = match workshops(args) {
        Ok(workshops) => workshops,
        Err(problem) => {
            eprintln!("{problem}");
            return 2;
        }
    };
    let mut report = Report::default();
    settings::check(&mut report, &workshops).await;
    database::check(&mut report).await;
    openrouter::check(&mut report, &workshops).await;
    sign_in::check(&mut report).await;
    println!(
        "{}",
        match report.problems {
            0 => "all checks passed".to_string(),
            1 => "1 problem".to_string(),
            n => format!("{n} problems"),
        }
    );
    i32::from(report.problems > 0)
}

/// The workshops this deployment serves: the files named, or those built into the binary.
fn workshops(args: &[String]) -> Result<Vec<Workshop>, String> {
    if args.is_empty() {
        return Ok(app::workshops::all(false).to_vec());
    }
    args.iter()
        .map(|file| {
            let path = std::path::Path::new(file);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
            app::workshops::parse(&stem, &text).map_err(|e| format!("invalid workshop file: {file}: {e}"))
        })
        .collect()
}
