//! Brotli for the pages and answers the server renders, with a window sized for them.
//!
//! tower-http's `CompressionLayer` takes a quality but no window, and brotli's default window is
//! 4 MiB: every compressed response whose body came in more than one piece allocated, and
//! zeroed, a 4 MiB ring buffer. Under load the allocator kept those pages resident, which made
//! most of the server's peak memory (docs/benchmarks.md). The largest page here (the admin table
//! at 300 rows) is under 100 KB, so a 256 KiB window compresses every page as well as 4 MiB does.
//!
//! Only brotli is done here. The choice of what to compress is tower-http's own predicate, and
//! gzip, for browsers without brotli, stays with its layer, which leaves alone a response that
//! already has a `Content-Encoding`. Static files arrive precompressed and pass through both.

use std::io;

use async_compression::brotli::EncoderParams;
use async_compression::tokio::bufread::BrotliEncoder;
use async_compression::Level;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::TryStreamExt;
use tokio_util::io::{ReaderStream, StreamReader};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};

/// log2 of the window: 256 KiB.
const WINDOW_BITS: i32 = 18;
/// What tower-http (and NGINX) use for responses made per request: fast, and close to the best
/// size for pages this small.
const QUALITY: i32 = 4;

/// Middleware: compresses the response with brotli when the request accepts it and tower-http's
/// predicate would compress it (not an image, not tiny, not already encoded or a range).
pub async fn brotli(request: Request, next: Next) -> Response {
    let accepted = accepts_brotli(request.headers());
    let response = next.run(request).await;
    if !accepted
        || response.headers().contains_key(CONTENT_ENCODING)
        || response.headers().contains_key(CONTENT_RANGE)
        || !DefaultPredicate::new().should_compress(&response)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(ACCEPT_RANGES);
    parts.headers.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
    parts.headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    let plain = StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    let params = EncoderParams::default().quality(Level::Precise(QUALITY)).window_size(WINDOW_BITS);
    let compressed = BrotliEncoder::with_params(plain, params);
    Response::from_parts(parts, Body::from_stream(ReaderStream::new(compressed)))
}

/// Whether `Accept-Encoding` lets us answer with brotli: `br` (or `*`) with a weight above zero
/// and not below gzip's, the other encoding we offer.
fn accepts_brotli(headers: &HeaderMap) -> bool {
    let (mut br, mut gzip, mut any) = (None, None, None);
    for entry in headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut fields = entry.split(';').map(str::trim);
        let name = fields.next().unwrap_or_default().to_ascii_lowercase();
        let weight = fields
            .find_map(|field| field.strip_prefix("q=").or_else(|| field.strip_prefix("Q=")))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)));
        let Some(weight) = weight else { continue };
        match name.as_str() {
            "br" => br = Some(weight),
            "gzip" => gzip = Some(weight),
            "*" => any = Some(weight),
            _ => {}
        }
    }
    let br = br.or(any).unwrap_or(0.0);
    br > 0.0 && br >= gzip.or(any).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        accepts_brotli(&headers)
    }

    #[test]
    fn brotli_when_the_browser_weighs_it_at_least_as_high_as_gzip() {
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br"));
        assert!(accepts("BR;q=0.8, gzip;q=0.8"));
        assert!(accepts("*"));
        assert!(accepts("gzip;q=0.5, *"));
        assert!(!accepts("gzip"));
        assert!(!accepts("gzip, br;q=0"));
        assert!(!accepts("br;q=0.5, gzip"));
        assert!(!accepts("identity"));
        assert!(!accepts("*;q=0"));
        // A weight that is not a number in 0..=1 makes the entry void, not a yes.
        assert!(!accepts("br;q=high"));
        assert!(!accepts("br;q=2"));
        assert!(accepts("br;q=2, br;q=1"));
        assert!(!accepts(""));
        assert!(!accepts_brotli(&HeaderMap::new()));
    }
}
