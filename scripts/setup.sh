#!/usr/bin/env bash
# Installs what a fresh machine lacks to build, run and test the minter. Idempotent and quiet
# when everything is present. Needs the Rust toolchain (rustup) and Node.js with npm.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# rustfmt and clippy for the lint step of scripts/test.sh (rustup's default profile has both).
installed_components="$(rustup component list --installed)"
for component in rustfmt clippy; do
  if ! grep -q "^$component" <<<"$installed_components"; then
    log "adding the $component component"
    rustup component add "$component"
  fi
done

if [[ "$(cargo leptos --version 2>/dev/null || true)" != *"0.3.10"* ]]; then
  log "installing cargo-leptos 0.3.10 (a few minutes, once)"
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wbg_version" ]]; then
  log "installing wasm-bindgen-cli $wbg_version (a few minutes, once)"
  # Not --locked: one of its locked dependencies is no longer on the registry.
  cargo install wasm-bindgen-cli --version "$wbg_version"
fi

# What else is installed depends on who asks (MINTER_SETUP_FOR): the tests (the default) need
# every tool below; the bench needs Chromium and Playwright for its time to interactive; the
# demo needs none of them.
setup_for="${MINTER_SETUP_FOR:-test}"
case "$setup_for" in
  test | bench | demo) ;;
  *) echo "MINTER_SETUP_FOR must be test, bench or demo, not '$setup_for'" >&2; exit 2 ;;
esac
sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
if [[ "$setup_for" == test ]]; then
  if [[ "$(cargo deny --version 2>/dev/null || true)" != *"0.20.2"* ]]; then
    log "installing cargo-deny 0.20.2 (a few minutes, once)"
    cargo install cargo-deny --version 0.20.2 --locked
  fi
  # The snippet tests run the pasted code with the real SDKs: Python's venv and curl.
  if ! python3 -m venv --help >/dev/null 2>&1 || ! command -v curl >/dev/null; then
    log "installing python3-venv and curl (Debian packages) for the snippet tests"
    $sudo_cmd apt-get install -y python3-venv curl || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y python3-venv curl; }
  fi
fi
if [[ "$setup_for" == test || "$setup_for" == bench ]]; then
  if [[ ! -x /usr/bin/chromium ]]; then
    log "installing Chromium (Debian package) for the end-to-end tests and the time to interactive"
    $sudo_cmd apt-get install -y chromium || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y chromium; }
  fi
  # Playwright, axe-core and oauth2-mock-server (also used by the cargo sign-in tests);
  # reinstalled whenever package-lock.json changes.
  if ! cmp -s end2end/package-lock.json end2end/node_modules/.installed-lock.json; then
    log "installing the end-to-end test packages (npm ci)"
    (cd end2end && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.installed-lock.json)
  fi
fi
