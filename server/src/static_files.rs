//! `/pkg/*`: the CSS, JS and WASM that cargo-leptos builds.
//!
//! Caching: a file whose name carries its content hash (`hash-files = true`, hashes in `hash.txt`
//! beside the server binary) never changes, so browsers keep it for a year without asking; any
//! other name is revalidated on every use, so a deploy is never hidden behind a stale copy. The
//! unhashed names (`/pkg/minter.css`, as the plain sign-in pages link it) still answer, with the
//! current build's file.
//!
//! Compression: the response-wide compression runs brotli at quality 4 (fast enough per request),
//! which leaves the WASM about a quarter larger than brotli's best. The CSS, JS and WASM are
//! compressed once at the best quality, in the background on first request, and served from
//! memory from then on. A release build with `--precompress` has its `.br` files beside them:
//! those are brotli's best already, served from the very first request and taken as they are.
//! Its `.gz` files are not gzip's best (the WASM: 522,977 B against 447,301 B at level 9), so
//! they only serve until the level-9 copy is ready.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RANGE, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use tower::{Layer, ServiceExt};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

use app::hashed_names::HashedNames;
use app::shell;
use app::state::AppState;

use crate::accept_encoding::AcceptEncoding;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The `/pkg/*` route; a file that is not there gets the site's 404 page, as before.
pub fn routes(state: &AppState) -> Router<AppState> {
    let options = &state.leptos_options;
    let pkg = Arc::new(Pkg {
        dir: std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir),
        prefix: format!("/{}/", options.site_pkg_dir),
        options: options.clone(),
        best: Mutex::default(),
    });
    let not_found = leptos_axum::file_and_error_handler::<AppState, _>(shell).with_state(state.clone());
    let dir = ServeDir::new(&*options.site_root).precompressed_br().precompressed_gzip().fallback(not_found);
    Router::new().route(
        &format!("{}{{*file}}", pkg.prefix),
        get(move |request: Request| serve(pkg.clone(), dir.clone(), request)),
    )
}

struct Pkg {
    dir: std::path::PathBuf,
    prefix: String,
    options: LeptosOptions,
    best: Mutex<BestCompressions>,
}

/// Best-quality compressions by file name and encoding; `None` while one is being made.
type BestCompressions = HashMap<(String, Encoding), Option<Arc<Compressed>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Encoding {
    Br,
    Gzip,
}

impl Encoding {
    /// Brotli over gzip, as the browser names them (`q=0` refuses).
    fn preferred(request: &Request) -> Option<Self> {
        let accepted = AcceptEncoding::of(request.headers());
        if accepted.names_brotli() {
            Some(Encoding::Br)
        } else if accepted.names_gzip() {
            Some(Encoding::Gzip)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// What a request asks of a file; taken before any await (a request body is not `Sync`).
struct Wanted {
    head: bool,
    if_none_match: Option<HeaderValue>,
    /// GET or HEAD of the whole file.
    simple: bool,
    encoding: Option<Encoding>,
}

impl Wanted {
    fn of(request: &Request) -> Self {
        let method = request.method();
        Wanted {
            head: method == Method::HEAD,
            if_none_match: request.headers().get(IF_NONE_MATCH).cloned(),
            simple: matches!(*method, Method::GET | Method::HEAD) && !request.headers().contains_key(RANGE),
            encoding: Encoding::preferred(request),
        }
    }
}

/// One file, compressed; valid while the file keeps its size and modification time.
struct Compressed {
    content_type: &'static str,
    len: u64,
    modified: SystemTime,
    etag: HeaderValue,
    bytes: Bytes,
}

async fn serve<F>(pkg: Arc<Pkg>, dir: ServeDir<F>, mut request: Request) -> Response
where
    ServeDir<F>: tower::Service<Request, Response: IntoResponse, Error = std::convert::Infallible>,
{
    let name = request.uri().path().strip_prefix(pkg.prefix.as_str()).unwrap_or_default().to_string();
    // Looked up for every request, as leptos does: `cargo leptos watch` renames without a restart.
    let names = HashedNames::current(&pkg.options);
    let immutable = names.is_hashed(&name);
    let file = names.hashed(&name).unwrap_or(&name).to_string();
    if let Some(response) = from_memory(&pkg, &file, Wanted::of(&request)).await {
        return with_cache_policy(response, immutable);
    }
    if file != name {
        if let Ok(uri) = format!("{}{file}", pkg.prefix).parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    let Ok(response) = dir.oneshot(request).await;
    with_cache_policy(response.into_response(), immutable)
}

fn with_cache_policy(mut response: Response, immutable: bool) -> Response {
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let policy = if immutable { IMMUTABLE } else { REVALIDATE };
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// The best-quality compression of `file` if it is ready; otherwise starts making it and answers
/// `None` (this request is compressed on the fly, as before).
async fn from_memory(pkg: &Arc<Pkg>, file: &str, wanted: Wanted) -> Option<Response> {
    let Wanted { head, if_none_match, simple, encoding } = wanted;
    let encoding = encoding?;
    best_compressed(pkg, file, simple, encoding).await.map(|ready| {
        let not_modified = if_none_match.is_some_and(|tag| tag == ready.etag);
        let mut response = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else if head {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(ready.bytes.clone()))
        };
        let headers = response.headers_mut();
        headers.insert(ETAG, ready.etag.clone());
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        if !not_modified {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ready.content_type));
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
            headers.insert(CONTENT_LENGTH, HeaderValue::from(ready.bytes.len()));
        }
        response
    })
}

async fn best_compressed(pkg: &Arc<Pkg>, file: &str, simple: bool, encoding: Encoding) -> Option<Arc<Compressed>> {
    let content_type = match file.rsplit_once('.')?.1 {
        "wasm" => "application/wasm",
        "js" => "text/javascript",
        "css" => "text/css",
        _ => return None,
    };
    let plain_name = !file.is_empty() && file.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !plain_name || file.starts_with('.') || !simple {
        return None;
    }
    let path = pkg.dir.join(file);
    let metadata = tokio::fs::metadata(&path).await.ok()?;
    let (len, modified) = (metadata.len(), metadata.modified().ok()?);
    let key = (file.to_string(), encoding);
    let mut best = pkg.best.lock().unwrap_or_else(|e| e.into_inner());
    match best.get(&key) {
        Some(Some(c)) if c.len == len && c.modified == modified => Some(c.clone()),
        Some(None) => None,
        _ => {
            best.insert(key.clone(), None);
            let pkg = pkg.clone();
            tokio::spawn(async move {
                let made = compress(&path, content_type, encoding, len, modified).await;
                let mut best = pkg.best.lock().unwrap_or_else(|e| e.into_inner());
                match made {
                    Some(compressed) => best.insert(key, Some(Arc::new(compressed))),
                    None => best.remove(&key),
                };
            });
            None
        }
    }
}

/// Brotli 11 (a precompressed `.br` beside the file is taken as it is) or gzip 9 of the file; on
/// a blocking thread, since it takes a few seconds for the WASM.
async fn compress(
    path: &std::path::Path,
    content_type: &'static str,
    encoding: Encoding,
    len: u64,
    modified: SystemTime,
) -> Option<Compressed> {
    let since_epoch = modified.duration_since(UNIX_EPOCH).ok()?;
    let etag = format!("\"{len:x}-{:x}-{}\"", since_epoch.as_nanos(), encoding.name());
    let etag = HeaderValue::from_str(&etag).ok()?;
    if encoding == Encoding::Br {
        let mut precompressed = path.as_os_str().to_owned();
        precompressed.push(".br");
        if let Ok(bytes) = tokio::fs::read(&precompressed).await {
            return Some(Compressed { content_type, len, modified, etag, bytes: bytes.into() });
        }
    }
    let plain = Bytes::from(tokio::fs::read(path).await.ok()?);
    let runtime = tokio::runtime::Handle::current();
    let bytes =
        tokio::task::spawn_blocking(move || runtime.block_on(best_compression(plain, encoding))).await.ok()??;
    Some(Compressed { content_type, len, modified, etag, bytes })
}

async fn best_compression(plain: Bytes, encoding: Encoding) -> Option<Bytes> {
    let layer = CompressionLayer::new().quality(CompressionLevel::Best).no_deflate().no_zstd();
    let layer = match encoding {
        Encoding::Br => layer.no_gzip(),
        Encoding::Gzip => layer.no_br(),
    };
    let service = layer.layer(tower::service_fn(move |_: Request| {
        let plain = plain.clone();
        async move {
            let mut response = Response::new(Body::from(plain));
            // Compressed whatever its type (the default predicate skips some).
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            Ok::<_, std::convert::Infallible>(response)
        }
    }));
    let request = Request::builder().header(ACCEPT_ENCODING, encoding.name()).body(Body::empty()).ok()?;
    let response = service.oneshot(request).await.ok()?;
    let compressed = response.headers().get(CONTENT_ENCODING).is_some_and(|e| e == encoding.name());
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), usize::MAX).await.ok()?;
    compressed.then_some(bytes)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use tower_http::services::ServeDir;

    use super::*;

    const BUILD_BR: &[u8] = b"brotli as the build made it";
    const BUILD_GZ: &[u8] = b"gzip as the build made it";

    /// A site whose `pkg/minter.wasm` has what `cargo leptos build --release --precompress` puts
    /// beside it: stand-ins whose bytes must come back exactly when they are served.
    fn precompressed_site() -> (tempfile::TempDir, Arc<Pkg>, Bytes) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("pkg");
        std::fs::create_dir(&dir).unwrap();
        let wasm: Bytes = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect::<Vec<u8>>().into();
        std::fs::write(dir.join("minter.wasm"), &wasm).unwrap();
        std::fs::write(dir.join("minter.wasm.br"), BUILD_BR).unwrap();
        std::fs::write(dir.join("minter.wasm.gz"), BUILD_GZ).unwrap();
        let options = LeptosOptions::builder().output_name("minter").site_root(root.path().to_str().unwrap()).build();
        let pkg = Arc::new(Pkg { dir, prefix: "/pkg/".into(), options, best: Mutex::default() });
        (root, pkg, wasm)
    }

    async fn fetch(
        pkg: &Arc<Pkg>,
        root: &tempfile::TempDir,
        accept: &str,
        if_none_match: Option<&HeaderValue>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let dir = ServeDir::new(root.path()).precompressed_br().precompressed_gzip();
        let mut request = Request::builder().uri("/pkg/minter.wasm").header(ACCEPT_ENCODING, accept);
        if let Some(tag) = if_none_match {
            request = request.header(IF_NONE_MATCH, tag);
        }
        let (parts, body) = serve(pkg.clone(), dir, request.body(Body::empty()).unwrap()).await.into_parts();
        (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.unwrap())
    }

    #[tokio::test]
    async fn the_builds_brotli_serves_from_the_first_request() {
        let (root, pkg, _) = precompressed_site();
        for request in 0..3 {
            let (status, headers, body) = fetch(&pkg, &root, "br, gzip", None).await;
            assert_eq!(status, StatusCode::OK, "request {request}");
            assert_eq!(headers[CONTENT_ENCODING], "br", "request {request}");
            assert_eq!(body, BUILD_BR, "request {request}");
            // Not a hashed name: revalidated on every use.
            assert_eq!(headers[CACHE_CONTROL], REVALIDATE, "request {request}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn gzip_is_the_builds_until_level_nine_is_ready_then_revalidates() {
        let (root, pkg, wasm) = precompressed_site();
        let level_nine = best_compression(wasm, Encoding::Gzip).await.unwrap();
        let (status, headers, body) = fetch(&pkg, &root, "gzip", None).await;
        assert_eq!((status, &headers[CONTENT_ENCODING]), (StatusCode::OK, &HeaderValue::from_static("gzip")));
        assert_eq!(body, BUILD_GZ, "the first request gets the build's file");

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let (headers, body) = loop {
            let (_, headers, body) = fetch(&pkg, &root, "gzip", None).await;
            if body != BUILD_GZ || std::time::Instant::now() > deadline {
                break (headers, body);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(body, level_nine, "then the level-9 copy from memory");
        assert_eq!(headers[CONTENT_LENGTH], level_nine.len().to_string().as_str());
        let etag = headers[ETAG].clone();

        let (status, _, body) = fetch(&pkg, &root, "gzip", Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
    }
}
