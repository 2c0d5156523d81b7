//! `server validate [FILES…]`: checks workshop files exactly as the build does (`app/build.rs`),
//! with the same messages, so a pull request can be checked before it is merged. Without files it
//! checks `workshops/*.yaml`, `workshops/demo/*.yaml` and `examples/workshops/*.yaml` under the
//! current directory. Files are
//! also checked against the workshops built into this binary (a file with a built-in slug
//! replaces that workshop), so a new file cannot reuse another workshop's key name prefix.

// In GitHub Actions, each problem is also an annotation on its line of the pull request.
mod github;
mod locate;

use std::path::{Path, PathBuf};

use app::workshops::{check_across, parse, Workshop};

/// Runs the check, printing `ok: …` per good file and `invalid workshop file: …` per problem;
/// returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    let files: Vec<PathBuf> = if args.is_empty() {
        ["workshops", "workshops/demo", "examples/workshops"]
            .iter()
            .flat_map(|dir| yaml_files(Path::new(dir)))
            .collect()
    } else {
        args.iter().map(PathBuf::from).collect()
    };
    if files.is_empty() {
        eprintln!("no workshop files: give their paths, or run this where workshops/ is");
        return 2;
    }
    let mut failures = Vec::new();
    let mut parsed: Vec<(String, Workshop)> = Vec::new();
    let mut annotations = github::Annotations::from_env();
    for path in &files {
        let shown = path.display().to_string();
        if path.extension().is_none_or(|e| e != "yaml") {
            failures.push(format!("{shown}: rename it to .yaml"));
            annotations.file(&shown, "rename it to .yaml");
            continue;
        }
        let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        match std::fs::read_to_string(path) {
            Ok(text) => match parse(&stem, &text) {
                Ok(workshop) => {
                    annotations.parsed(&shown, text);
                    parsed.push((shown, workshop));
                }
                Err(e) => {
                    annotations.field(&shown, Some(&text), &e);
                    failures.push(format!("{shown}: {e}"));
                }
            },
            Err(e) => {
                annotations.file(&shown, &format!("cannot read: {e}"));
                failures.push(format!("{shown}: cannot read: {e}"));
            }
        }
    }
    // Built-in workshops first, so a clash is reported on the file being checked.
    let built_in: Vec<(String, &Workshop)> = app::workshops::all(true)
        .iter()
        .filter(|w| !parsed.iter().any(|(_, p)| p.slug == w.slug))
        .map(|w| {
            let dir = if app::workshops::find(&w.slug, false).is_some() { "workshops" } else { "workshops/demo" };
            (format!("{dir}/{}.yaml", w.slug), w)
        })
        .collect();
    let everything = built_in.iter().map(|(s, w)| (s.as_str(), *w)).chain(parsed.iter().map(|(s, w)| (s.as_str(), w)));
    let clashes = check_across(everything);
    for (shown, e) in &clashes {
        annotations.field(shown, None, e);
    }
    failures.extend(clashes.into_iter().map(|(shown, e)| format!("{shown}: {e}")));

    for (shown, _) in parsed.iter().filter(|(shown, _)| !failures.iter().any(|f| f.starts_with(&format!("{shown}: "))))
    {
        println!("ok: {shown}");
    }
    annotations.print();
    for failure in &failures {
        eprintln!("invalid workshop file: {failure}");
    }
    i32::from(!failures.is_empty())
}

/// As the build: `*.yaml`, and `*.yml` so that it is refused rather than skipped.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let is_workshop = |p: &PathBuf| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).filter(is_workshop).collect())
        .unwrap_or_default();
    files.sort();
    files
}
