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
use axum::http::header::{ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, VARY};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::TryStreamExt;
use tokio_util::io::{ReaderStream, StreamReader};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};

use crate::accept_encoding::AcceptEncoding;

/// log2 of the window: 256 KiB.
const WINDOW_BITS: i32 = 18;
/// What tower-http (and NGINX) use for responses made per request: fast, and close to the best
/// size for pages this small.
const QUALITY: i32 = 4;

/// Middleware: compresses the response with brotli when the request accepts it and tower-http's
/// predicate would compress it (not an image, not tiny, not already encoded or a range).
pub async fn brotli(request: Request, next: Next) -> Response {
    let accepted = AcceptEncoding::of(request.headers()).prefers_brotli();
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
