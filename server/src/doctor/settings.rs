//! The configuration as the server reads it, and `PUBLIC_URL` as browsers will reach it.

use app::workshops::Workshop;

use super::{env, http, Report};
use crate::config::Config;

pub async fn check(report: &mut Report, workshops: &[Workshop]) {
    match Config::from_env() {
        Ok(config) => report.ok(
            "config",
            format!(
                "every setting the server needs is there ({} sign-in method{}, {} admin{})",
                config.sign_in.len(),
                if config.sign_in.len() == 1 { "" } else { "s" },
                config.admin_emails.len(),
                if config.admin_emails.len() == 1 { "" } else { "s" },
            ),
        ),
        Err(text) => {
            for line in text.lines().skip(1) {
                let problem = line.trim_start().trim_start_matches("- ");
                report.problem("config", problem, "set it in the deployment's environment (see .env.example)");
            }
        }
    }
    if matches!(env("MINTER_DEMO").as_deref(), Some("1" | "true" | "yes")) {
        report.problem(
            "config",
            "MINTER_DEMO is on: anyone can sign in as anyone, admins included",
            "unset MINTER_DEMO",
        );
    }
    if workshops.is_empty() {
        report.problem(
            "workshops",
            "this build has no workshop",
            "add workshops/<slug>.yaml in a pull request (examples/workshops/ has one to copy), merge and deploy",
        );
    } else {
        let slugs: Vec<&str> = workshops.iter().map(|w| w.slug.as_str()).collect();
        report.ok("workshops", slugs.join(", "));
    }
    let admins = env("ADMIN_EMAILS").is_some();
    if !admins && workshops.iter().all(|w| w.organisers.is_empty()) {
        report.problem(
            "config",
            "nobody may open /admin (no ADMIN_EMAILS, and no workshop names organisers)",
            "set ADMIN_EMAILS to the organisers' sign-in emails",
        );
    }
    public_url(report).await;
}

/// https (unless on this machine), no path, and answering `/healthz`.
async fn public_url(report: &mut Report) {
    let Some(url) = env("PUBLIC_URL") else { return }; // the config check has said so
    let url = url.trim_end_matches('/');
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return report.problem("PUBLIC_URL", format!("{url:?} is not a URL"), "https://keys.example.org");
    };
    let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() != "https" && !local {
        return report.problem(
            "PUBLIC_URL",
            format!("{url} is not https: cookies would travel in clear and OAuth providers refuse it"),
            "serve the site over https (the container host or a proxy in front ends TLS) and say https://",
        );
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        return report.problem(
            "PUBLIC_URL",
            format!("{url} has a path; the site is served at the root of its host"),
            format!("PUBLIC_URL={}://{}", parsed.scheme(), parsed.host_str().unwrap_or_default()),
        );
    }
    match http().get(format!("{url}/healthz")).send().await {
        Ok(response) if response.status().is_success() => report.ok("PUBLIC_URL", format!("{url} answers /healthz")),
        Ok(response) => report.problem(
            "PUBLIC_URL",
            format!("{url}/healthz answers {}", response.status()),
            "route the address to this server (a 503 means its database does not answer)",
        ),
        Err(e) => report.problem(
            "PUBLIC_URL",
            format!("{url} does not answer ({})", without_url(&e)),
            "point its DNS at the container host, or run doctor again once the server is deployed",
        ),
    }
}

/// A request error's kind, without the URL it repeats.
pub fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let source = std::error::Error::source(e).map(|s| format!(": {s}")).unwrap_or_default();
    format!("{kind}{source}")
}
