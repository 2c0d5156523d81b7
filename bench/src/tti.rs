//! Time to interactive of the workshop page on conference wifi: `bench/tti.mjs` (Playwright
//! driving Debian's Chromium through a throttled network), run against the measured server for
//! an attendee of the burst, who holds a key.

use std::path::Path;

use serde_json::Value;

/// What `bench/tti.mjs` reported.
pub struct Tti {
    /// Each run, in milliseconds, in order.
    pub runs: Vec<u64>,
    pub median_ms: u64,
    /// Bytes over the wire of the last run, as Chromium counted them.
    pub bytes: u64,
}

/// Runs `bench/tti.mjs` `runs` times for the attendee whose `Cookie` header is `cookie`, or says
/// why it could not (no Node.js, no Chromium, the end-to-end packages not installed).
pub async fn measure(base: &str, cookie: &str, runs: usize) -> Result<Tti, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("needs Debian's chromium (scripts/bench.sh installs it)".into());
    }
    if !workspace.join("end2end/node_modules/@playwright/test").exists() {
        return Err("needs end2end/node_modules (scripts/bench.sh installs it)".into());
    }
    let mut command = std::process::Command::new("node");
    command.arg(workspace.join("bench/tti.mjs")).arg(base).arg(runs.to_string()).env("TTI_COOKIE", cookie);
    let text = crate::process::stdout_of(command, "bench/tti.mjs", "").await?;
    parse(&text).ok_or_else(|| format!("cannot read bench/tti.mjs's report: {text}"))
}

/// The last line of the script's output: `{"runs": [...], "median_ms": N, "bytes": N}`.
fn parse(output: &str) -> Option<Tti> {
    let report: Value = serde_json::from_str(output.lines().last()?).ok()?;
    Some(Tti {
        runs: report["runs"].as_array()?.iter().map(Value::as_u64).collect::<Option<_>>()?,
        median_ms: report["median_ms"].as_u64()?,
        bytes: report["bytes"].as_u64()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_report() {
        let tti = parse("noise\n{\"runs\":[960,944,958],\"median_ms\":958,\"bytes\":121274}\n").unwrap();
        assert_eq!((tti.runs, tti.median_ms, tti.bytes), (vec![960, 944, 958], 958, 121_274));
        assert!(parse("{\"runs\":[1],\"bytes\":2}").is_none(), "no median");
        assert!(parse("").is_none());
    }
}
