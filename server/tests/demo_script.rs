//! `scripts/demo.sh`, the README's first command, run for real with stand-ins for the tools it
//! calls (`cargo`, `rustup`, `wasm-bindgen`): whatever the caller's shell holds, the demo server
//! is started in demo mode without an OpenRouter management key, so it mints with the simulator
//! and never on a real account.

use std::path::Path;
use std::process::Command;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A stand-in tool: prints what setup.sh expects, and for `cargo leptos serve` the environment
/// the server would get.
fn write_tool(bin: &Path, name: &str, script: &str) {
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/usr/bin/env bash\n{script}\n")).unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
}

#[test]
fn the_demo_never_takes_a_management_key_from_the_callers_shell() {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join(".cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let lock = std::fs::read_to_string(Path::new(REPO).join("Cargo.lock")).unwrap();
    let wasm_bindgen = lock.split("name = \"wasm-bindgen\"\nversion = \"").nth(1).unwrap().split('"').next().unwrap();
    let seen = home.path().join("server-env");
    write_tool(&bin, "rustup", "echo wasm32-unknown-unknown");
    write_tool(&bin, "wasm-bindgen", &format!("echo 'wasm-bindgen {wasm_bindgen}'"));
    write_tool(
        &bin,
        "cargo",
        &format!(
            "if [[ \"$*\" == 'leptos --version' ]]; then echo 'cargo-leptos 0.3.10'; \
             elif [[ \"$*\" == 'leptos serve --split' ]]; then env > {}; \
             else echo \"unexpected: cargo $*\" >&2; exit 3; fi",
            seen.display()
        ),
    );
    let output = Command::new("bash")
        .arg("scripts/demo.sh")
        .current_dir(REPO)
        .env("HOME", home.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("OPENROUTER_MANAGEMENT_KEY", "sk-or-v1-from-the-callers-shell")
        .env("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
        .env("DATABASE_URL", format!("sqlite://{}/demo.db", home.path().display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let env = std::fs::read_to_string(&seen).expect("the script started the server");
    assert!(env.lines().any(|line| line == "MINTER_DEMO=1"), "{env}");
    assert!(!env.contains("OPENROUTER_MANAGEMENT_KEY"), "the caller's key reached the demo server");
    assert!(!env.contains("OPENROUTER_BASE_URL"), "the simulator is the demo's OpenRouter");
}
