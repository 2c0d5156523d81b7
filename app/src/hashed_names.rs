//! The current build's file names. cargo-leptos writes `hash.txt` beside the server binary
//! (`js: <hash>`, `wasm: <hash>`, `css: <hash>`, and with `--split` also `split: <hash>` and
//! `manifest: <hash>`); the shell links the stylesheet by it and `/pkg` serves and caches by it.
//!
//! Looked up on every page and every `/pkg` request, as leptos does, because `cargo leptos watch`
//! renames the files without restarting the server; parsed again only when `hash.txt` or the
//! `pkg` folder changed (two `stat`s per request, not a read, a JSON parse and a dozen `stat`s).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use leptos::config::LeptosOptions;

/// Plain names (`minter.wasm`) with their hashed ones (`minter.<hash>.wasm`), and the names that
/// carry their own hash (the split loader, its manifest and the chunks it names). Empty when the
/// site was built without hashes, or when `hash.txt` is stale (a file it names is not in the site).
#[derive(Debug, Default, PartialEq)]
pub struct HashedNames {
    names: Vec<(String, String)>,
    css_hash: Option<String>,
}

/// What the cached names were read from: when either changes, they are read again.
#[derive(PartialEq)]
struct Source {
    hash_file: PathBuf,
    hash_file_modified: Option<SystemTime>,
    pkg: PathBuf,
    pkg_modified: Option<SystemTime>,
}

static CURRENT: Mutex<Option<(Source, Arc<HashedNames>)>> = Mutex::new(None);

impl HashedNames {
    /// The names of the build the server runs with now.
    pub fn current(options: &LeptosOptions) -> Arc<HashedNames> {
        let hash_file = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join(&*options.hash_file)))
            .unwrap_or_default();
        let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let source = Source { hash_file_modified: modified(&hash_file), pkg_modified: modified(&pkg), hash_file, pkg };
        let mut current = CURRENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((read_from, names)) = current.as_ref() {
            if *read_from == source {
                return names.clone();
            }
        }
        let text = std::fs::read_to_string(&source.hash_file).unwrap_or_default();
        let names = Arc::new(Self::from_hash_file(&text, &source.pkg, &options.output_name));
        *current = Some((source, names.clone()));
        names
    }

    /// From the text of `hash.txt`, for the site's `pkg` folder and the build's output name.
    pub fn from_hash_file(text: &str, pkg: &Path, output_name: &str) -> Self {
        let mut names = Vec::new();
        let mut css_hash = None;
        for (kind, hash) in text.lines().filter_map(|line| line.split_once(':')) {
            let hash = hash.trim();
            match kind.trim() {
                kind @ ("js" | "wasm" | "css") => {
                    if kind == "css" {
                        css_hash = Some(hash.to_string());
                    }
                    names.push((format!("{output_name}.{kind}"), format!("{output_name}.{hash}.{kind}")))
                }
                "split" => names.push(itself(format!("__wasm_split.{hash}.js"))),
                "manifest" => {
                    let manifest = format!("__wasm_split_manifest.{hash}.json");
                    names.extend(chunks(&pkg.join(&manifest)).into_iter().map(itself));
                    names.push(itself(manifest));
                }
                _ => {}
            }
        }
        let complete = ["js", "wasm", "css"]
            .iter()
            .all(|kind| names.iter().any(|(plain, _)| *plain == format!("{output_name}.{kind}")));
        if complete && names.iter().all(|(_, hashed)| pkg.join(hashed).is_file()) {
            HashedNames { names, css_hash }
        } else {
            HashedNames::default()
        }
    }

    /// The hashed name of `name` (`minter.wasm` → `minter.<hash>.wasm`).
    pub fn hashed(&self, name: &str) -> Option<&str> {
        self.names.iter().find(|(plain, _)| plain == name).map(|(_, hashed)| hashed.as_str())
    }

    /// `name` carries its content's hash (it never changes, browsers may keep it for a year).
    pub fn is_hashed(&self, name: &str) -> bool {
        self.names.iter().any(|(_, hashed)| hashed == name)
    }

    /// The stylesheet's hash, when the site was built with hashes.
    pub fn css_hash(&self) -> Option<&str> {
        self.css_hash.as_deref()
    }
}

fn itself(hashed: String) -> (String, String) {
    (hashed.clone(), hashed)
}

/// The chunk files of a split build's manifest (`{"<lazy fn>": ["chunk_4.<hash>", …]}`).
fn chunks(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let by_function: std::collections::HashMap<String, Vec<String>> = serde_json::from_str(&text).unwrap_or_default();
    let mut chunks: Vec<String> = by_function.into_values().flatten().map(|chunk| format!("{chunk}.wasm")).collect();
    chunks.sort();
    chunks.dedup();
    chunks
}

#[cfg(test)]
mod tests {
    use super::HashedNames;

    #[test]
    fn a_split_builds_loader_manifest_and_chunks_are_hashed_names() {
        let root = tempfile::tempdir().unwrap();
        let manifest = r#"{"claim_form_loader_1":["chunk_4.AAA","split_claim_form_loader_1.BBB"],"admin_loader_2":["chunk_4.AAA","split_admin_loader_2.CCC"]}"#;
        for (file, text) in [
            ("minter.JJJ.js", ""),
            ("minter.WWW.wasm", ""),
            ("minter.SSS.css", ""),
            ("__wasm_split.LLL.js", ""),
            ("__wasm_split_manifest.MMM.json", manifest),
            ("chunk_4.AAA.wasm", ""),
            ("split_claim_form_loader_1.BBB.wasm", ""),
            ("split_admin_loader_2.CCC.wasm", ""),
            ("other.wasm", ""),
        ] {
            std::fs::write(root.path().join(file), text).unwrap();
        }
        let hash_file = "js: JJJ\nwasm: WWW\ncss: SSS\nmanifest: MMM\nsplit: LLL\n";
        let names = HashedNames::from_hash_file(hash_file, root.path(), "minter");
        assert_eq!(names.hashed("minter.wasm"), Some("minter.WWW.wasm"));
        assert_eq!(names.css_hash(), Some("SSS"));
        for immutable in [
            "minter.JJJ.js",
            "__wasm_split.LLL.js",
            "__wasm_split_manifest.MMM.json",
            "chunk_4.AAA.wasm",
            "split_claim_form_loader_1.BBB.wasm",
            "split_admin_loader_2.CCC.wasm",
        ] {
            assert!(names.is_hashed(immutable), "{immutable}");
        }
        assert!(!names.is_hashed("other.wasm"));
        assert!(!names.is_hashed("minter.wasm"));

        // A hash file that names no main WASM is not a build's (the chunks do not stand for it).
        let no_main = "js: JJJ\ncss: SSS\nmanifest: MMM\nsplit: LLL\n";
        assert_eq!(HashedNames::from_hash_file(no_main, root.path(), "minter"), HashedNames::default());

        // A chunk the manifest names that is not in the site: the hash file is stale.
        std::fs::remove_file(root.path().join("chunk_4.AAA.wasm")).unwrap();
        let stale = HashedNames::from_hash_file(hash_file, root.path(), "minter");
        assert!(!stale.is_hashed("minter.JJJ.js"));
        assert_eq!(stale.css_hash(), None);
    }
}
