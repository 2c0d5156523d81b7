//! Bytes over the wire of a page: its HTML and the CSS, JS and WASM it links, each fetched as
//! a browser asks for it (`Accept-Encoding: br, gzip`).

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING};

pub struct Asset {
    pub path: String,
    /// Uncompressed size.
    pub raw: usize,
    /// Size as served to a browser that accepts br and gzip.
    pub wire: usize,
    pub encoding: String,
    pub cache_control: String,
}

pub async fn page_weight(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: Option<&str>,
) -> Result<Vec<Asset>, String> {
    let page = fetch(client, base, path, cookie).await?;
    let html = String::from_utf8_lossy(&fetch_raw(client, base, path, cookie).await?).into_owned();
    let mut assets = vec![page];
    let linked = regex_lite::Regex::new(r#"/pkg/[A-Za-z0-9_.\-/]+\.(?:css|js|wasm)"#).expect("pattern");
    let mut seen = std::collections::BTreeSet::new();
    for found in linked.find_iter(&html) {
        if seen.insert(found.as_str().to_string()) {
            assets.push(fetch(client, base, found.as_str(), None).await?);
        }
    }
    Ok(assets)
}

async fn fetch(client: &reqwest::Client, base: &str, path: &str, cookie: Option<&str>) -> Result<Asset, String> {
    let mut request = client.get(format!("{base}{path}")).header(ACCEPT_ENCODING, "br, gzip");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{path}: status {}", response.status()));
    }
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (encoding, cache_control) = (header(CONTENT_ENCODING), header(CACHE_CONTROL));
    let wire = response.bytes().await.map_err(|e| format!("{path}: {e}"))?.len();
    let raw = fetch_raw(client, base, path, cookie).await?.len();
    Ok(Asset { path: path.to_string(), raw, wire, encoding, cache_control })
}

/// The body uncompressed (the client asks for no encoding).
async fn fetch_raw(client: &reqwest::Client, base: &str, path: &str, cookie: Option<&str>) -> Result<Vec<u8>, String> {
    let mut request = client.get(format!("{base}{path}")).header(ACCEPT_ENCODING, "identity");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
    Ok(response.bytes().await.map_err(|e| format!("{path}: {e}"))?.to_vec())
}
