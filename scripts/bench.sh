#!/usr/bin/env bash
# The benchmarks (README, "Benchmarks"): builds the release server and site, then runs the
# bench, which prints its tables. Arguments go to the bench: --attendees 100, --latency-ms 50,
# --postgres postgres://postgres@127.0.0.1:5432/postgres, --concurrency 64, --help.
set -euo pipefail
cd "$(dirname "$0")/.."
MINTER_SETUP_FOR=bench bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/target/tools/node_modules/.bin:$PATH"
if ! command -v wrk >/dev/null; then
  echo "==> installing wrk (Debian package), the page load generator"
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y wrk || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y wrk; }
fi
bash scripts/build-release.sh
cargo run --release -p bench -- "$@"
