#!/usr/bin/env bash
# The demo: installs what is missing, then serves the app on http://127.0.0.1:3000 with demo
# sign-in and the built-in OpenRouter simulator. No accounts needed. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
MINTER_SETUP_FOR=demo bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export MINTER_DEMO="${MINTER_DEMO:-1}"
export DATABASE_URL="${DATABASE_URL:-sqlite://target/demo.db}"
# The demo mints with the built-in simulator, never on a real OpenRouter account that happens to be
# configured in this shell (a real key in demo mode mints real keys that cost money).
unset OPENROUTER_MANAGEMENT_KEY OPENROUTER_BASE_URL
# Demo sign-in is unverified, so in the demo anyone can be the admin: sign in as this address.
export ADMIN_EMAILS="${ADMIN_EMAILS:-admin@example.org}"
mkdir -p target
echo "Starting the demo on http://127.0.0.1:3000 (first build takes a few minutes)"
exec cargo leptos serve --split
