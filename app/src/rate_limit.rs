//! Rate limits, in memory per process (each replica counts its own): per signed-in user on claims
//! and key tests, and per client address on page views and on sign-in and server function calls.
//! A conference network puts hundreds of attendees behind one address, so the per-address limits
//! are sized for a room of 300 behind one NAT: they stop floods, not a room.
//!
//! "Test my key" also has a small concurrency bound of its own: its requests to OpenRouter never
//! wait for, or take, a slot that minting needs.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests per minute, and which peers are our reverse proxies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub claims_per_user: u32,
    pub key_tests_per_user: u32,
    /// Sign-in and server function requests (`/auth/…`, `/api/…`).
    pub requests_per_address: u32,
    /// Pages (every other non-static GET): each reads the database.
    pub pages_per_address: u32,
    /// Key tests in flight at once, across everyone.
    pub key_tests_at_once: usize,
    /// `TRUST_PROXY`: the reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A person clicks Claim a few times at most.
            claims_per_user: 10,
            // Each test is a real (tiny) completion on the attendee's budget.
            key_tests_per_user: 5,
            // 300 people behind one NAT sign in and claim in a minute or two: about 4 limited
            // requests each, plus the projector's and admins' polls.
            requests_per_address: 3000,
            // 300 people behind one NAT: open the page, come back from sign-in, see the key after
            // the claim, reload a few times: about 5 views each within the first minutes. 1,200 a
            // minute (20 a second) with a burst of 600 (two each at the same instant) carries the
            // room; one client alone gets at most 20 pages a second.
            pages_per_address: 1200,
            key_tests_at_once: 8,
            trusted_proxies: Vec::new(),
        }
    }
}

pub struct RateLimits {
    settings: Limits,
    claims: DefaultKeyedRateLimiter<String>,
    key_tests: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
    pages: DefaultKeyedRateLimiter<IpAddr>,
    key_tests_in_flight: Arc<Semaphore>,
}

/// `n` a minute, with a burst of `burst` (at least 1 each).
fn per_minute(n: u32, burst: u32) -> Quota {
    let nonzero = |n: u32| NonZeroU32::new(n.max(1)).expect("at least 1");
    Quota::per_minute(nonzero(n)).allow_burst(nonzero(burst))
}

impl RateLimits {
    pub fn new(limits: Limits) -> Self {
        Self {
            claims: RateLimiter::keyed(per_minute(limits.claims_per_user, limits.claims_per_user)),
            key_tests: RateLimiter::keyed(per_minute(limits.key_tests_per_user, limits.key_tests_per_user)),
            addresses: RateLimiter::keyed(per_minute(limits.requests_per_address, limits.requests_per_address)),
            pages: RateLimiter::keyed(per_minute(limits.pages_per_address, limits.pages_per_address / 2)),
            key_tests_in_flight: Arc::new(Semaphore::new(limits.key_tests_at_once.max(1))),
            settings: limits,
        }
    }

    /// Whether `peer` is one of our reverse proxies (`TRUST_PROXY`).
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.settings.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// Whether `user_id` may make another claim now (and counts it).
    pub fn allow_claim(&self, user_id: &str) -> bool {
        self.claims.check_key(&user_id.to_string()).is_ok()
    }

    /// Whether `user_id` may test their key again now (and counts it).
    pub fn allow_key_test(&self, user_id: &str) -> bool {
        self.key_tests.check_key(&user_id.to_string()).is_ok()
    }

    /// A slot for one key test, if fewer than `key_tests_at_once` are running; never waits.
    pub fn key_test_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.key_tests_in_flight.clone().try_acquire_owned().ok()
    }

    /// Whether `address` may make another sign-in or server function request now (and counts it).
    pub fn allow_address(&self, address: IpAddr) -> bool {
        self.addresses.check_key(&address).is_ok()
    }

    /// Whether `address` may view another page now (and counts it).
    pub fn allow_page(&self, address: IpAddr) -> bool {
        self.pages.check_key(&address).is_ok()
    }

    /// Forgets keys whose limit has fully recovered, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.claims.retain_recent();
        self.key_tests.retain_recent();
        self.addresses.retain_recent();
        self.pages.retain_recent();
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// Parses `TRUST_PROXY`: comma-separated addresses or CIDR ranges of the reverse proxies.
pub fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry:?} is not an address or CIDR range"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_budget() {
        let limits = RateLimits::new(Limits {
            claims_per_user: 2,
            requests_per_address: 3,
            pages_per_address: 4,
            key_tests_per_user: 1,
            ..Limits::default()
        });
        assert!(limits.allow_claim("ada") && limits.allow_claim("ada"));
        assert!(!limits.allow_claim("ada"), "the third claim in a minute");
        assert!(limits.allow_claim("bob"), "another person is not affected");
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!((0..3).all(|_| limits.allow_address(a)));
        assert!(!limits.allow_address(a));
        assert!(limits.allow_address(b));
        assert!((0..2).all(|_| limits.allow_page(a)), "a burst of half the minute's pages");
        assert!(!limits.allow_page(a));
        assert!(limits.allow_key_test("ada") && !limits.allow_key_test("ada") && limits.allow_key_test("bob"));
        limits.forget_idle();
        assert!(!limits.allow_address(a), "forgetting idle keys does not reset a busy one");
    }

    #[test]
    fn key_tests_have_a_bound_of_their_own() {
        let limits = RateLimits::new(Limits { key_tests_at_once: 2, ..Limits::default() });
        let first = limits.key_test_slot().unwrap();
        let _second = limits.key_test_slot().unwrap();
        assert!(limits.key_test_slot().is_none(), "a third test at once waits for nothing: it is refused");
        drop(first);
        assert!(limits.key_test_slot().is_some());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let proxies = parse_trusted_proxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32").unwrap();
        let limits = RateLimits::new(Limits { trusted_proxies: proxies, ..Limits::default() });
        for trusted in ["10.1.2.3", "192.0.2.7", "2001:db8::1", "::ffff:10.9.9.9"] {
            assert!(limits.is_trusted_proxy(trusted.parse().unwrap()), "{trusted}");
        }
        for untrusted in ["192.0.2.8", "11.0.0.1", "2001:db9::1"] {
            assert!(!limits.is_trusted_proxy(untrusted.parse().unwrap()), "{untrusted}");
        }
        for bad in ["1", "true", "10.0.0.0/33", "proxy.example.org"] {
            assert!(parse_trusted_proxies(bad).is_err(), "{bad}");
        }
    }
}
