//! Every request gets an id of ours (`X-Request-Id`, set by the server's outermost layer, never
//! taken from the client): log lines carry it, and a page that hides an internal error shows it,
//! so an attendee's report can be matched to the log line with the detail.

/// The request header (and response header) that carries the id.
pub const HEADER: &str = "x-request-id";

/// Whether `text` is an id we make: what a page may repeat from its URL.
pub fn is_valid(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A fresh id: 12 hex characters, short enough to read out at a help desk.
#[cfg(feature = "ssr")]
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

/// The id of the request a server function or page is serving; empty outside a request.
#[cfg(feature = "ssr")]
pub fn current() -> String {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.headers.get(HEADER)?.to_str().ok().map(str::to_owned))
        .filter(|id| is_valid(id))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_our_ids_are_valid() {
        assert!(super::is_valid("0123456789ab"));
        for bad in ["", "0123456789AB", "0123456789abc", "<script>x</s", "0123456789a "] {
            assert!(!super::is_valid(bad), "{bad:?}");
        }
        #[cfg(feature = "ssr")]
        assert!(super::is_valid(&super::new_id()));
    }
}
