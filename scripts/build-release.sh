#!/usr/bin/env bash
# The release build, as deployed (Dockerfile) and benchmarked (scripts/bench.sh): target/site,
# target/release/hash.txt and target/release/server.
#
#   bash scripts/build-release.sh [--frontend-only]
#     --frontend-only: target/site and target/release/hash.txt only (scripts/test.sh serves them
#     with a debug server)
#
# The WASM is built with the standard library compiled again for size (docs/decisions.md, "The
# WASM's standard library"): `-Zbuild-std` with `-Cpanic=immediate-abort` leaves out the panic
# messages and the formatting behind them, `-Zlocation-detail=none` the source paths; the attendee
# page is then a fifth lighter. The flags are unstable: RUSTC_BOOTSTRAP=1 lets the stable toolchain
# take them, for the WASM's build only (the server's build never sees it). If that build fails (a
# toolchain that changed the flags), the plain WASM is built, with a warning; MINTER_PLAIN_WASM=1
# asks for the plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/target/tools/node_modules/.bin:$PATH"

frontend_only=0
[[ "${1:-}" == --frontend-only ]] && frontend_only=1

if ! command -v wasm-opt >/dev/null; then
  # Release builds shrink the WASM with wasm-opt; Debian's is too old, npm's binaryen is current.
  echo "==> installing wasm-opt (npm package binaryen)"
  npm install --prefix target/tools --no-audit --no-fund binaryen >/dev/null
fi

release=(cargo leptos build --release --precompress --split)
size_flags="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"

built_for_size=0
if [[ "${MINTER_PLAIN_WASM:-0}" != 1 ]]; then
  if ! grep -q '^rust-src' <<<"$(rustup component list --installed 2>/dev/null)"; then
    echo "==> adding the rust-src component (the WASM's standard library is compiled from it)"
    rustup component add rust-src || true
  fi
  if RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$size_flags" \
    "${release[@]}" --frontend-only --lib-cargo-args=-Zbuild-std=std,panic_abort; then
    built_for_size=1
  else
    echo "warning: the WASM's build for size failed (above); building the plain WASM" >&2
  fi
fi
if ((!built_for_size)); then
  "${release[@]}" --frontend-only
fi
if ((!frontend_only)); then
  "${release[@]}" --server-only
fi
