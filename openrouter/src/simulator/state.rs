//! The simulator's shared in-memory state: one account's keys, guardrails and assignments, the
//! pending faults and latency rules, the request log and counters.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::faults::{Fault, FaultAction, LatencyRule, Rule, Target};
use super::Simulator;
use crate::types::{Guardrail, KeyInfo};

pub(super) struct Inner {
    pub(super) management_key: String,
    pub(super) state: Mutex<SimState>,
    pub(super) in_flight: AtomicUsize,
    pub(super) max_in_flight: AtomicUsize,
}

#[derive(Default)]
pub(super) struct SimState {
    pub(super) keys: Vec<KeyInfo>,
    pub(super) guardrails: Vec<Guardrail>,
    pub(super) assignments: Vec<Assignment>,
    pub(super) faults: Vec<Fault>,
    pub(super) latency: Duration,
    pub(super) latency_rules: Vec<LatencyRule>,
    /// `Retry-After` seconds of injected 429s without their own; `None` = 1.
    pub(super) retry_after_secs: Option<u64>,
    pub(super) requests: u64,
    pub(super) log: VecDeque<String>,
    pub(super) prices: HashMap<String, (f64, f64)>,
}

pub(super) struct Assignment {
    pub(super) id: String,
    pub(super) key_hash: String,
    pub(super) guardrail_id: String,
    pub(super) created_at: String,
}

impl Simulator {
    pub(super) fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panicking test thread must not wedge every other request.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts a request as in flight until dropped (also when the client disconnects).
pub(super) struct InFlight<'a>(&'a Inner);

impl<'a> InFlight<'a> {
    pub(super) fn enter(inner: &'a Inner) -> Self {
        let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The pending faults and latency rules are part of the state.
impl Simulator {
    pub(super) fn add_fault(&self, target: &str, action: FaultAction, after_apply: bool, count: u32) {
        if count > 0 {
            self.lock().faults.push(Fault { target: Target::parse(target), action, after_apply, remaining: count });
        }
    }

    /// Adds the rules of a parsed spec (see [`Simulator::apply_fault_spec`]).
    pub(super) fn add_rules(&self, rules: Vec<Rule>) {
        let mut st = self.lock();
        for rule in rules {
            match rule {
                Rule::Fault(f) => st.faults.push(f),
                Rule::Latency(LatencyRule { target: Target { method: None, pattern: None }, delay }) => {
                    st.latency = delay
                }
                Rule::Latency(l) => st.latency_rules.push(l),
            }
        }
    }
}
