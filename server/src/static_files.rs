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
//! memory from then on; files that cargo-leptos precompressed (`--precompress`) are used as they are.

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

use app::shell;
use app::state::AppState;

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
    /// Best-quality compressions by file name and encoding; `None` while one is being made.
    best: Mutex<HashMap<(String, Encoding), Option<Arc<Compressed>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Encoding {
    Br,
    Gzip,
}

impl Encoding {
    /// Brotli over gzip, as the browser accepts them (`q=0` refuses).
    fn preferred(request: &Request) -> Option<Self> {
        let accepted = request.headers().get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
        let names: Vec<String> = accepted
            .flat_map(|v| v.split(','))
            .filter_map(|item| {
                let mut parts = item.split(';').map(str::trim);
                let name = parts.next()?.to_ascii_lowercase();
                let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>() == Ok(0.0)));
                (!refused).then_some(name)
            })
            .collect();
        [(Encoding::Br, "br"), (Encoding::Gzip, "gzip")]
            .into_iter()
            .find(|(_, name)| names.iter().any(|n| n == name))
            .map(|(encoding, _)| encoding)
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
    // Read for every request, as leptos does: `cargo leptos watch` renames without a restart.
    let names = HashedNames::of(&pkg.options);
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

/// Brotli 11 or gzip 9 of the file (a precompressed `.br`/`.gz` beside it is taken as it is); on
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
    let suffix = match encoding {
        Encoding::Br => "br",
        Encoding::Gzip => "gz",
    };
    let mut precompressed = path.as_os_str().to_owned();
    precompressed.push(format!(".{suffix}"));
    if let Ok(bytes) = tokio::fs::read(&precompressed).await {
        return Some(Compressed { content_type, len, modified, etag, bytes: bytes.into() });
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

/// The current build's hashed file names, by their unhashed name (`minter.css` → `minter.<hash>.css`).
#[derive(Debug, Default)]
struct HashedNames(Vec<(String, String)>);

impl HashedNames {
    /// From `hash.txt` (`js: <hash>`, `wasm: <hash>`, `css: <hash>`, as cargo-leptos writes it,
    /// where leptos's `HydrationScripts` also reads it). Empty when the site was built without
    /// hashes, or when that file is stale (its files are not in the site).
    fn of(options: &LeptosOptions) -> Self {
        let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
        let text = std::env::current_exe()
            .ok()
            .and_then(|exe| std::fs::read_to_string(exe.parent()?.join(&*options.hash_file)).ok())
            .unwrap_or_default();
        let names: Vec<(String, String)> = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(kind, _)| matches!(kind.trim(), "js" | "wasm" | "css"))
            .map(|(kind, hash)| {
                let (kind, name) = (kind.trim(), &options.output_name);
                (format!("{name}.{kind}"), format!("{name}.{}.{kind}", hash.trim()))
            })
            .collect();
        if names.iter().all(|(_, hashed)| pkg.join(hashed).is_file()) {
            HashedNames(names)
        } else {
            HashedNames::default()
        }
    }

    fn hashed(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(plain, _)| plain == name).map(|(_, hashed)| hashed.as_str())
    }

    fn is_hashed(&self, name: &str) -> bool {
        self.0.iter().any(|(_, hashed)| hashed == name)
    }
}
