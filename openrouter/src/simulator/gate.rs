//! The middleware every request passes: counted in flight and logged, delayed by the latency
//! rules, answered by a pending fault, and authenticated with the management key.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::faults::FaultAction;
use super::routes::api_error;
use super::state::InFlight;
use super::{Simulator, CHAT_COMPLETIONS_PATH};

/// How long a "hang" fault keeps a request open (the client times out first).
const HANG: Duration = Duration::from_secs(3600);
/// The request log keeps this many newest entries.
const REQUEST_LOG_CAP: usize = 10_000;

pub(super) async fn gate(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let _in_flight = InFlight::enter(&sim.inner);
    let method = req.method().clone();
    // Inside `nest("/api/v1", …)` the path is relative to the API base.
    let path = req.uri().path().to_owned();
    let (latency, fault, default_retry_after) = {
        let mut st = sim.lock();
        st.requests += 1;
        if st.log.len() >= REQUEST_LOG_CAP {
            st.log.pop_front();
        }
        st.log.push_back(format!("{method} {path}"));
        let latency = st
            .latency_rules
            .iter()
            .filter(|r| r.target.matches(&method, &path))
            .map(|r| r.delay)
            .fold(st.latency, Duration::max);
        let fault = st.faults.iter_mut().find(|f| f.remaining > 0 && f.target.matches(&method, &path)).map(|f| {
            f.remaining -= 1;
            (f.action, f.after_apply)
        });
        st.faults.retain(|f| f.remaining > 0);
        (latency, fault, st.retry_after_secs.unwrap_or(1))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some((action, false)) = fault {
        return fault_response(action, default_retry_after).await;
    }
    let resp = if path == CHAT_COMPLETIONS_PATH {
        // Authenticated by the handler with a minted key, not the management key.
        next.run(req).await
    } else {
        match bearer(req.headers()) {
            None => api_error(StatusCode::UNAUTHORIZED, "Missing Authentication header"),
            Some(t) if !constant_time_eq(t.as_bytes(), sim.inner.management_key.as_bytes()) => {
                api_error(StatusCode::UNAUTHORIZED, "Invalid management key")
            }
            Some(_) => next.run(req).await,
        }
    };
    match fault {
        Some((action, true)) => fault_response(action, default_retry_after).await,
        _ => resp,
    }
}

async fn fault_response(action: FaultAction, default_retry_after: u64) -> Response {
    match action {
        FaultAction::Hang => {
            tokio::time::sleep(HANG).await;
            api_error(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
        }
        FaultAction::Status { status, retry_after_secs } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = api_error(status, default_message(status));
            let retry_after = match retry_after_secs {
                Some(s) => Some(s),
                None if status == StatusCode::TOO_MANY_REQUESTS => Some(default_retry_after),
                None => None,
            };
            if let Some(secs) = retry_after {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Invalid request parameters",
        401 => "Missing Authentication header",
        403 => "Only management keys can perform this operation",
        404 => "Resource not found",
        429 => "Rate limit exceeded",
        500 => "Internal Server Error",
        _ => status.canonical_reason().unwrap_or("Error"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
