//! Rate limits, in memory per process (each replica counts its own): per signed-in user on
//! claims, and per client address on sign-in and on every server function call. A conference
//! network puts hundreds of attendees behind one address, so the per-address limit is generous:
//! it stops floods, not a room.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Requests per minute (with a burst of the same size), and where a client's address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub claims_per_user: u32,
    pub requests_per_address: u32,
    /// Behind a reverse proxy: the client's address is the last `X-Forwarded-For` entry.
    pub trust_proxy: bool,
}

impl Default for Limits {
    fn default() -> Self {
        // A person clicks Claim a few times at most; 300 people behind one NAT sign in and
        // claim in a minute or two (about 4 limited requests each).
        Self { claims_per_user: 10, requests_per_address: 3000, trust_proxy: false }
    }
}

pub struct RateLimits {
    settings: Limits,
    claims: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"))
}

impl RateLimits {
    pub fn new(limits: Limits) -> Self {
        Self {
            settings: limits,
            claims: RateLimiter::keyed(per_minute(limits.claims_per_user)),
            addresses: RateLimiter::keyed(per_minute(limits.requests_per_address)),
        }
    }

    pub fn trust_proxy(&self) -> bool {
        self.settings.trust_proxy
    }

    /// Whether `user_id` may make another claim now (and counts it).
    pub fn allow_claim(&self, user_id: &str) -> bool {
        self.claims.check_key(&user_id.to_string()).is_ok()
    }

    /// Whether `address` may make another limited request now (and counts it).
    pub fn allow_address(&self, address: IpAddr) -> bool {
        self.addresses.check_key(&address).is_ok()
    }

    /// Forgets keys whose limit has fully recovered, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.claims.retain_recent();
        self.addresses.retain_recent();
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_budget() {
        let limits = RateLimits::new(Limits { claims_per_user: 2, requests_per_address: 3, trust_proxy: false });
        assert!(limits.allow_claim("ada") && limits.allow_claim("ada"));
        assert!(!limits.allow_claim("ada"), "the third claim in a minute");
        assert!(limits.allow_claim("bob"), "another person is not affected");
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!((0..3).all(|_| limits.allow_address(a)));
        assert!(!limits.allow_address(a));
        assert!(limits.allow_address(b));
        limits.forget_idle();
        assert!(!limits.allow_address(a), "forgetting idle keys does not reset a busy one");
    }
}
