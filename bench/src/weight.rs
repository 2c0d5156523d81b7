//! Bytes over the wire of a page: its HTML, the CSS, JS and WASM it links, the split build's
//! loader that the JS imports, and the WASM chunks of the lazy islands the page carries, each
//! fetched as a browser asks for it (`Accept-Encoding: br, gzip`).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

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

/// `site` is the built site (`target/site`): its split manifest says which chunks each lazy
/// island needs.
pub async fn page_weight(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: Option<&str>,
    site: &Path,
) -> Result<Vec<Asset>, String> {
    let page = fetch(client, base, path, cookie).await?;
    let html = String::from_utf8_lossy(&fetch_raw(client, base, path, cookie).await?).into_owned();
    let mut assets = vec![page];
    let linked = regex_lite::Regex::new(r#"/pkg/[A-Za-z0-9_.\-/]+\.(?:css|js|wasm)"#).expect("pattern");
    let mut wanted: Vec<String> = linked.find_iter(&html).map(|m| m.as_str().to_string()).collect();
    // The main JS imports the split build's loader; the loader fetches the lazy islands' chunks.
    let imported = regex_lite::Regex::new(r#"\./(__wasm_split\.[A-Za-z0-9_\-]+\.js)"#).expect("pattern");
    for js in wanted.clone().iter().filter(|p| p.ends_with(".js")) {
        let text = String::from_utf8_lossy(&fetch_raw(client, base, js, None).await?).into_owned();
        wanted.extend(imported.captures_iter(&text).map(|c| format!("/pkg/{}", &c[1])));
    }
    wanted.extend(lazy_chunks(&html, &split_manifest(site)).into_iter().map(|chunk| format!("/pkg/{chunk}.wasm")));
    let mut seen = BTreeSet::new();
    for path in wanted {
        if seen.insert(path.clone()) {
            assets.push(fetch(client, base, &path, None).await?);
        }
    }
    Ok(assets)
}

/// What the page's lazily loaded functions (`#[lazy]`, not the islands' loaders) fetch on their
/// first call, such as the key test's request on the first click: each function's name and the
/// bytes over the wire of its chunks that the page did not load, then all of them together.
pub async fn on_first_use(
    client: &reqwest::Client,
    base: &str,
    site: &Path,
    page: &[Asset],
) -> Result<Vec<(String, usize)>, String> {
    let loaded: BTreeSet<&str> = page.iter().map(|a| a.path.as_str()).collect();
    let manifest = split_manifest(site);
    let mut functions: Vec<(&String, &Vec<String>)> =
        manifest.iter().filter(|(function, _)| !function.contains("_loader_")).collect();
    functions.sort();
    let mut wire = HashMap::new();
    for chunk in functions.iter().flat_map(|(_, chunks)| chunks.iter()) {
        let path = format!("/pkg/{chunk}.wasm");
        if !loaded.contains(path.as_str()) && !wire.contains_key(chunk) {
            wire.insert(chunk, fetch(client, base, &path, None).await?.wire);
        }
    }
    let mut sizes: Vec<(String, usize)> = functions
        .iter()
        .map(|(function, chunks)| {
            // `test_key_8725154758933654142`: the function's name and a hash of where it is.
            let name = function.rsplit_once('_').map_or(function.as_str(), |(name, _)| name);
            (format!("`{name}`"), chunks.iter().filter_map(|c| wire.get(c)).sum())
        })
        .collect();
    if sizes.len() > 1 {
        sizes.push(("all of them".to_string(), wire.values().sum()));
    }
    Ok(sizes)
}

/// The split build's manifest (`pkg/__wasm_split_manifest.<hash>.json`): the chunks each lazily
/// loaded function needs. Empty for a build without `--split`.
fn split_manifest(site: &Path) -> HashMap<String, Vec<String>> {
    let Ok(entries) = std::fs::read_dir(site.join("pkg")) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("__wasm_split_manifest."))
        .find_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
        .unwrap_or_default()
}

/// The chunks the page's lazy islands load: an island `ClaimForm` is
/// `<leptos-island data-component="ClaimForm_…">` in the HTML and `claim_form_loader_…` in the
/// manifest.
fn lazy_chunks(html: &str, manifest: &HashMap<String, Vec<String>>) -> BTreeSet<String> {
    let island = regex_lite::Regex::new(r#"data-component="([A-Za-z0-9]+)_"#).expect("pattern");
    let mut chunks = BTreeSet::new();
    for name in island.captures_iter(html).map(|c| snake_case(&c[1])) {
        let prefix = format!("{name}_loader_");
        for (_, needed) in manifest.iter().filter(|(function, _)| function.starts_with(&prefix)) {
            chunks.extend(needed.iter().cloned());
        }
    }
    chunks
}

fn snake_case(camel: &str) -> String {
    let mut snake = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

async fn fetch(client: &reqwest::Client, base: &str, path: &str, cookie: Option<&str>) -> Result<Asset, String> {
    let mut request = client.get(format!("{base}{path}")).header(ACCEPT_ENCODING, "br, gzip");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
    match response.status() {
        status if status.is_success() => {}
        // The page names its assets by the hashes of the build the server was built with.
        reqwest::StatusCode::NOT_FOUND if path.starts_with("/pkg/") => {
            return Err(format!(
                "{path}: 404; --site must be the site built with --server (its assets' hashed names differ)"
            ));
        }
        status => return Err(format!("{path}: status {status}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_lazy_islands_bring_their_chunks_and_no_others() {
        let manifest: HashMap<String, Vec<String>> = serde_json::from_str(
            r#"{"claim_form_loader_17":["chunk_4.A","chunk_5.B","split_claim_form_loader_17.C"],
                "admin_workshop_view_loader_15":["chunk_4.A","chunk_6.D","split_admin_workshop_view_loader_15.E"]}"#,
        )
        .unwrap();
        let html = r#"<leptos-island data-component="ClaimForm_7892" data-props="{}"></leptos-island>
            <leptos-island data-component="CopyButton_5642" data-props="{}"></leptos-island>"#;
        let chunks: Vec<String> = lazy_chunks(html, &manifest).into_iter().collect();
        assert_eq!(chunks, ["chunk_4.A", "chunk_5.B", "split_claim_form_loader_17.C"]);
        assert!(lazy_chunks("<p>no islands</p>", &manifest).is_empty());
        assert_eq!(snake_case("AdminWorkshopView"), "admin_workshop_view");
    }
}
