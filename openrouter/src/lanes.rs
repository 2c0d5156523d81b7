//! The HTTP clients the OpenRouter client's calls take in turn, so that a burst over HTTP/2 is not
//! held to one connection's stream limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Calls one connection carries at once: the least `SETTINGS_MAX_CONCURRENT_STREAMS` that RFC 9113
/// recommends to servers, and a common setting.
const STREAMS_PER_CONNECTION: usize = 100;

/// HTTP clients, each with a connection pool of its own, that calls take in turn. Over TLS a
/// client offers HTTP/2 and HTTP/1.1, and a server that speaks HTTP/2 picks it: one client would
/// then carry every call on one connection, and a burst of 300 calls would queue behind the
/// server's stream limit. One lane per 100 calls in flight keeps each connection within that
/// limit, and a burst still opens a handful of connections, not one per call (docs/benchmarks.md
/// has both measured). Over HTTP/1.1 each lane pools connections as one client would.
#[derive(Clone)]
pub(crate) struct Lanes {
    clients: Arc<[reqwest::Client]>,
    next: Arc<AtomicUsize>,
}

impl Lanes {
    pub(crate) fn new(max_concurrency: usize, timeout: Duration, extra_roots: &[reqwest::Certificate]) -> Self {
        let client = || {
            extra_roots
                .iter()
                .fold(reqwest::Client::builder().timeout(timeout), |builder, root| {
                    builder.add_root_certificate(root.clone())
                })
                .build()
                // Only fails if the TLS backend cannot initialise, which is a broken build.
                .expect("reqwest client with rustls must build")
        };
        let clients = (0..Self::count_for(max_concurrency)).map(|_| client()).collect();
        Self { clients, next: Arc::default() }
    }

    pub(crate) fn count_for(max_concurrency: usize) -> usize {
        max_concurrency.div_ceil(STREAMS_PER_CONNECTION).max(1)
    }

    pub(crate) fn count(&self) -> usize {
        self.clients.len()
    }

    pub(crate) fn next(&self) -> &reqwest::Client {
        &self.clients[self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lane_per_hundred_calls_in_flight_taken_in_turn() {
        assert_eq!([1, 100, 101, 300, 301].map(Lanes::count_for), [1, 1, 2, 3, 4]);
        let lanes = Lanes::new(300, Duration::from_secs(1), &[]);
        let taken: Vec<*const reqwest::Client> = (0..6).map(|_| lanes.next() as *const _).collect();
        assert_eq!(taken[0..3], taken[3..6]);
        assert!(taken[0] != taken[1] && taken[1] != taken[2] && taken[0] != taken[2]);
    }
}
