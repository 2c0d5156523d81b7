//! The database: it answers, the connection is encrypted as configured, the schema is this
//! binary's.

use app::store::inspect::{inspect, Inspection};

use super::{env, Report};
use crate::config::DEFAULT_DATABASE_URL;

pub async fn check(report: &mut Report) {
    let url = env("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    let inspection = match inspect(&url).await {
        Ok(inspection) => inspection,
        Err(e) => {
            return report.problem(
                "database",
                format!("cannot connect: {e}"),
                "check DATABASE_URL: host, port, database, user, password and sslmode",
            )
        }
    };
    connection(report, &url, &inspection);
    migrations(report, &inspection);
}

fn connection(report: &mut Report, url: &str, inspection: &Inspection) {
    let server = &inspection.server;
    if inspection.missing_file {
        return report.ok("database", format!("{url}: the file does not exist yet; the server creates it at start"));
    }
    let Some(encrypted) = inspection.tls else {
        return report.ok("database", format!("{server}, a file on this machine (one replica only)"));
    };
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("inspected, so it parses");
    let host = options.get_host();
    let mode = sslmode(url);
    let local = matches!(host, "localhost" | "127.0.0.1" | "::1") || host.starts_with('/');
    match (encrypted, mode.as_str()) {
        (true, "verify-full" | "verify-ca") => {
            report.ok("database", format!("{server} at {host}, encrypted, certificate verified (sslmode={mode})"))
        }
        (true, _) => report.ok(
            "database",
            format!(
                "{server} at {host}, encrypted but the certificate is not checked (sslmode={mode}); \
                 sslmode=verify-full with the provider's CA in sslrootcert= also stops impostors"
            ),
        ),
        (false, _) if local => report.ok("database", format!("{server} at {host} (this machine), not encrypted")),
        (false, _) => report.problem(
            "database",
            format!("{server} at {host}: the connection is not encrypted (sslmode={mode})"),
            "add sslmode=verify-full&sslrootcert=<the provider's CA file> (or at least sslmode=require) to DATABASE_URL",
        ),
    }
}

/// The URL's sslmode as written (`prefer` when it says none, as libpq and sqlx default).
fn sslmode(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "sslmode" || k == "ssl-mode").map(|(_, v)| v.into_owned()))
        .unwrap_or_else(|| "prefer".into())
}

fn migrations(report: &mut Report, inspection: &Inspection) {
    let m = &inspection.migrations;
    if inspection.missing_file {
        return;
    }
    if !m.changed.is_empty() || !m.failed.is_empty() {
        return report.problem(
            "migrations",
            format!("applied from other files: {:?}; failed: {:?}", m.changed, m.failed),
            "the schema is not what this version expects: restore the database or redeploy the version that made it",
        );
    }
    if !m.newer.is_empty() {
        return report.problem(
            "migrations",
            format!("the database has migrations this binary does not know ({:?})", m.newer),
            "a newer version of the server migrated it: deploy that version (or newer)",
        );
    }
    if !m.pending.is_empty() {
        return report.problem(
            "migrations",
            format!("{} of {} applied; not yet: {}", m.applied, m.known, m.pending.join(", ")),
            "start the server once: it applies them (and replicas starting together wait for each other)",
        );
    }
    report.ok("migrations", format!("all {} applied", m.known));
}
