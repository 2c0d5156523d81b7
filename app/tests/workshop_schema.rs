//! The JSON Schema of the workshop format is generated from the Rust types and committed as
//! `workshops/workshop.schema.json`, which every workshop file names for editors
//! (`# yaml-language-server: $schema=…`). This test fails when the committed file is stale;
//! `UPDATE_SCHEMA=1 cargo test -p app --test workshop_schema` rewrites it. The examples under
//! `examples/workshops/` (not built in) are checked against it too.

use std::path::{Path, PathBuf};

use app::workshops::Workshop;

fn workshops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../workshops")
}

fn generated() -> String {
    let schema = schemars::schema_for!(Workshop);
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

fn yaml_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/workshops");
    for dir in [workshops_dir(), workshops_dir().join("demo"), examples] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn committed_schema_matches_the_rust_types() {
    let path = workshops_dir().join("workshop.schema.json");
    let fresh = generated();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "workshops/workshop.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p app --test workshop_schema`"
    );
}

#[test]
fn every_workshop_file_names_the_schema_and_passes_it() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let files = yaml_files();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let dir = file.parent().unwrap();
        let expected = if dir.ends_with("examples/workshops") {
            "../../workshops/workshop.schema.json"
        } else if dir.ends_with("demo") {
            "../workshop.schema.json"
        } else {
            "./workshop.schema.json"
        };
        assert_eq!(first, format!("# yaml-language-server: $schema={expected}"), "{}", file.display());
        let document: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let errors: Vec<String> = validator.iter_errors(&document).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

#[test]
fn the_schema_catches_what_editors_should_flag() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let demo = std::fs::read_to_string(workshops_dir().join("demo/demo.yaml")).unwrap();
    let check = |yaml: &str| validator.is_valid(&serde_yaml::from_str::<serde_json::Value>(yaml).unwrap());
    assert!(check(&demo));
    assert!(!check(&demo.replace("max_keys:", "max_key:")), "an unknown field");
    assert!(!check(&demo.replace("reset_interval: monthly", "reset_interval: hourly")), "not an interval");
    assert!(!check(&demo.replace("budget_usd: 2.00", "budget_usd: two")), "not a number");
    assert!(!check(&demo.replace("  key_label_prefix: demo\n", "")), "a required field missing");
}
