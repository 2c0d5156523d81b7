//! Signing attendees in, then all of them pressing "Claim" at the same instant.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, SET_COOKIE};
use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;

/// A client that shows redirects instead of following them and leaves bodies as sent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .build()
        .expect("HTTP client")
}

/// Signs `email` in through the demo form; the session cookie as a `Cookie` header value.
pub async fn sign_in(client: &reqwest::Client, base: &str, email: &str, name: &str) -> Result<String, String> {
    let response = client
        .post(format!("{base}/auth/dev"))
        .form(&[("email", email), ("name", name), ("next", "/")])
        .send()
        .await
        .map_err(|e| format!("sign-in of {email}: {e}"))?;
    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    if !response.status().is_redirection() || cookies.is_empty() {
        return Err(format!("sign-in of {email}: status {} and no session", response.status()));
    }
    Ok(cookies.join("; "))
}

/// Signs `n` distinct attendees in, 16 at a time.
pub async fn sign_in_attendees(client: &reqwest::Client, base: &str, n: usize) -> Result<Vec<String>, String> {
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let (client, base, gate) = (client.clone(), base.to_string(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            sign_in(&client, &base, &format!("attendee{i}@bench.example"), &format!("Attendee {i}")).await
        });
    }
    let mut cookies = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        cookies.push(joined.map_err(|e| e.to_string())??);
    }
    Ok(cookies)
}

/// Every attendee opens the workshop page, all at once, as their browsers did before anyone
/// could press "Claim": each claim then goes over a connection that is already open, as a
/// browser's does, rather than 300 connections being opened at the burst's instant.
pub async fn open_workshop_page(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    cookies: &[String],
) -> Result<(), String> {
    let url = format!("{base}/w/{slug}");
    // Each response is held until every attendee has one: N connections, not a few reused.
    let all_answered = Arc::new(Barrier::new(cookies.len()));
    let mut tasks = JoinSet::new();
    for cookie in cookies {
        let (client, url, all_answered, cookie) = (client.clone(), url.clone(), all_answered.clone(), cookie.clone());
        tasks.spawn(async move {
            let response = client.get(&url).header("cookie", cookie).send().await;
            all_answered.wait().await;
            let response = response.map_err(|e| format!("{url}: {e}"))?;
            let status = response.status();
            response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("{url}: status {status}"))
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    Ok(())
}

pub struct Burst {
    /// Latency of each successful claim.
    pub latencies: Vec<Duration>,
    /// One line per failed claim.
    pub errors: Vec<String>,
    /// Distinct keys handed out.
    pub keys: HashSet<String>,
    pub wall: Duration,
}

/// Every attendee claims at once (released together by a barrier); each latency is measured
/// from sending the request to having read the whole answer.
pub async fn claim_all(client: &reqwest::Client, base: &str, slug: &str, cookies: &[String]) -> Burst {
    let url = format!("{base}{}", app::claim::ClaimKey::PATH);
    let start = Arc::new(Barrier::new(cookies.len() + 1));
    let mut tasks = JoinSet::new();
    for cookie in cookies {
        let (client, url, start, cookie, slug) =
            (client.clone(), url.clone(), start.clone(), cookie.clone(), slug.to_string());
        tasks.spawn(async move {
            let request =
                client.post(&url).header(ACCEPT, "application/json").header("cookie", cookie).form(&[("slug", slug)]);
            start.wait().await;
            let sent = Instant::now();
            let outcome = async {
                let response = request.send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.text().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!("{status}: {body}"));
                }
                let key: app::claim::MyKey = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
                Ok(key.key)
            }
            .await;
            (sent.elapsed(), outcome)
        });
    }
    start.wait().await;
    let began = Instant::now();
    let mut burst = Burst { latencies: Vec::new(), errors: Vec::new(), keys: HashSet::new(), wall: Duration::ZERO };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((latency, Ok(key))) => {
                burst.latencies.push(latency);
                burst.keys.insert(key);
            }
            Ok((_, Err(e))) => burst.errors.push(e),
            Err(e) => burst.errors.push(e.to_string()),
        }
    }
    burst.wall = began.elapsed();
    burst.latencies.sort();
    burst
}

/// The `q` quantile (0..=1) of sorted `values`, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&values, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&values, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&values[..1], 0.99), Duration::from_millis(1));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }
}
