//! Page throughput with wrk (Debian's package), the load generator in a process of its own.

use std::time::Duration;

pub struct PageLoad {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Answers that were not 2xx or 3xx.
    pub failed: u64,
}

/// Loads `url` for `seconds` over `connections` connections, as a browser asks (compressed).
pub async fn wrk(url: &str, cookie: Option<&str>, seconds: u64, connections: u32) -> Result<PageLoad, String> {
    let mut command = std::process::Command::new("wrk");
    command.args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    command.args(["-H", "Accept-Encoding: br, gzip"]);
    if let Some(cookie) = cookie {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    command.arg(url);
    let text = crate::process::stdout_of(command, "wrk", " (install it: apt-get install wrk, or run scripts/bench.sh)")
        .await?;
    parse(&text).ok_or_else(|| format!("cannot read wrk's report:\n{text}"))
}

fn parse(report: &str) -> Option<PageLoad> {
    let value_after =
        |label: &str| report.lines().find_map(|l| l.trim().strip_prefix(label)).map(|rest| rest.trim().to_string());
    let requests_per_second = value_after("Requests/sec:")?.parse().ok()?;
    let p50 = duration(&value_after("50%")?)?;
    let p99 = duration(&value_after("99%")?)?;
    let failed = value_after("Non-2xx or 3xx responses:").map_or(Some(0), |n| n.parse().ok())?;
    Some(PageLoad { requests_per_second, p50, p99, failed })
}

/// wrk's `812.00us`, `3.21ms`, `1.50s`.
fn duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:3000/w/demo
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.81ms    2.10ms  40.12ms   80.00%
    Req/Sec     1.64k   120.00     1.90k    70.00%
  Latency Distribution
     50%    9.50ms
     75%   10.80ms
     90%   12.30ms
     99%   18.40ms
  32650 requests in 10.00s, 120.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   3265.00
Transfer/sec:     12.00MB
";

    #[test]
    fn reads_wrks_report() {
        let load = parse(REPORT).unwrap();
        assert_eq!(load.requests_per_second, 3265.0);
        assert_eq!(load.p50, Duration::from_micros(9500));
        assert_eq!(load.p99, Duration::from_micros(18400));
        assert_eq!(load.failed, 3);
        assert_eq!(duration("812.00us"), Some(Duration::from_micros(812)));
        assert_eq!(duration("1.50s"), Some(Duration::from_millis(1500)));
        assert!(parse("garbage").is_none());
    }
}
