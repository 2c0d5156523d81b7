//! Embeds every `workshops/*.yaml` into the binary and refuses to build if one is invalid.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, process};

#[path = "src/workshops/spec.rs"]
#[allow(dead_code)]
mod spec;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = manifest_dir.join("../workshops");
    println!("cargo:rerun-if-changed=src/workshops/spec.rs");
    // `sqlx::migrate!` reads the migrations while compiling this crate: a new file must rebuild it.
    println!("cargo:rerun-if-changed=../migrations");

    let mut generated = String::new();
    let mut failures = Vec::new();
    let mut parsed = Vec::new();
    // `workshops/demo/` holds workshops that exist only in demo mode (states to try and test).
    // Read first, so a clash between an organiser's file and a demo one is reported on the
    // organiser's file.
    for (name, dir, shown_dir) in
        [("DEMO_ONLY", dir.join("demo"), "workshops/demo"), ("EMBEDDED", dir.clone(), "workshops")]
    {
        println!("cargo:rerun-if-changed={}", dir.display());
        writeln!(generated, "pub static {name}: &[(&str, &str)] = &[").unwrap();
        for path in workshop_files(&dir) {
            println!("cargo:rerun-if-changed={}", path.display());
            let shown = format!("{shown_dir}/{}", path.file_name().unwrap().to_string_lossy());
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            match fs::read_to_string(&path) {
                Ok(text) => match spec::parse(&stem, &text) {
                    Ok(workshop) => {
                        parsed.push((shown.clone(), workshop));
                        let absolute = path.canonicalize().unwrap();
                        writeln!(generated, "    ({stem:?}, include_str!({:?})),", absolute.display().to_string())
                            .unwrap();
                    }
                    Err(e) => failures.push(format!("{shown}: {e}")),
                },
                Err(e) => failures.push(format!("{shown}: cannot read: {e}")),
            }
        }
        generated.push_str("];\n");
    }

    let across = spec::check_across(parsed.iter().map(|(shown, w)| (shown.as_str(), w)));
    failures.extend(across.into_iter().map(|(shown, e)| format!("{shown}: {e}")));
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("invalid workshop file: {failure}");
            println!("cargo:warning=invalid workshop file: {failure}");
        }
        process::exit(1);
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("workshops.rs");
    fs::write(out, generated).unwrap();
}

/// `*.yaml` files, sorted; a `.yml` file is refused so it cannot be silently skipped.
fn workshop_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            process::exit(1);
        }
    };
    files.sort();
    if let Some(yml) = files.iter().find(|p| p.extension().is_some_and(|e| e == "yml")) {
        eprintln!("invalid workshop file: {}: rename it to .yaml", yml.display());
        process::exit(1);
    }
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files
}
