#!/usr/bin/env bash
# The end-to-end tests against an already built site (`cargo leptos build --split`): starts a real OIDC
# server and the server in demo mode on loopback, then Playwright in headless Chromium.
# Arguments go to Playwright (e.g. a spec file or `-g <title>`).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${E2E_PORT:-3100}"
oidc_port="${E2E_OIDC_PORT:-3110}"
workdir="$(mktemp -d)"
server_pid=""
oidc_pid=""
cleanup() {
  for pid in "$server_pid" "$oidc_pid"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

# Google for the end-to-end sign-in: a real OIDC server (oauth2-mock-server) on loopback.
OIDC_MOCK_PORT="$oidc_port" OIDC_MOCK_CONTROL_PORT="$((oidc_port + 1))" \
  node end2end/support/oidc-mock.mjs >"$workdir/oidc.log" 2>&1 &
oidc_pid=$!
for _ in $(seq 1 50); do grep -q issuer "$workdir/oidc.log" && break; sleep 0.2; done
grep -q issuer "$workdir/oidc.log" || { cat "$workdir/oidc.log"; exit 1; }

# Key creation answers slowly, as in a burst, so the claim's progress can be seen.
OPENROUTER_SIM_FAULTS='POST ^/keys$=latency 800ms' USAGE_SYNC_SECONDS=1 ADMIN_EMAILS=admin@example.org \
MINTER_DEMO=1 DATABASE_URL="sqlite://$workdir/e2e.db" LEPTOS_SITE_ADDR="127.0.0.1:$port" \
  PUBLIC_URL="http://127.0.0.1:$port" GOOGLE_ISSUER="http://127.0.0.1:$oidc_port" \
  GOOGLE_CLIENT_ID=minter-e2e GOOGLE_CLIENT_SECRET=e2e-secret \
  LEPTOS_SITE_ROOT=target/site RUST_LOG=warn target/debug/server >"$workdir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/server.log"; exit 1; }
  sleep 0.2
done

echo "==> end-to-end tests (Playwright, headless Chromium)"
(cd end2end && BASE_URL="http://127.0.0.1:$port" E2E_DATABASE="$workdir/e2e.db" OIDC_CONTROL_URL="http://127.0.0.1:$((oidc_port + 1))" npx playwright test "$@") || { echo "--- server log"; cat "$workdir/server.log"; exit 1; }
