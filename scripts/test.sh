#!/usr/bin/env bash
# Every test: unit and contract tests (SQLite and Postgres), then the end-to-end tests in
# headless Chromium against the real server. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

# Postgres for the contract tests (trust auth on 127.0.0.1:5432 on the project's machines).
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if command -v pg_lsclusters >/dev/null && ! pg_lsclusters --no-header | grep -q online; then
  echo "==> starting Postgres"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi

echo "==> unit, contract and integration tests"
# One invocation, so app and server share one build of their dependencies.
cargo test -p app -p server --features app/ssr

echo "==> a broken workshop file fails the build, naming the file and the field"
broken=workshops/zz-broken-check.yaml
trap 'rm -f "$broken"' EXIT
sed -e 's/^slug: demo$/slug: zz-broken-check/' -e 's/budget_usd: 2.00/budget_usd: 0/' workshops/demo.yaml >"$broken"
if output="$(cargo build -p app --features ssr 2>&1)"; then
  echo "FAILED: the build accepted $broken"; exit 1
fi
rm -f "$broken"
expected='invalid workshop file: workshops/zz-broken-check.yaml: field `openrouter.budget_usd`: must be greater than 0'
grep -qF "$expected" <<<"$output" || { echo "$output"; echo "FAILED: expected: $expected"; exit 1; }
echo "ok: $expected"

echo "==> building the site for the end-to-end tests"
cargo leptos build

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
OPENROUTER_SIM_FAULTS='POST ^/keys$=latency 800ms' \
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
(cd end2end && BASE_URL="http://127.0.0.1:$port" E2E_DATABASE="$workdir/e2e.db" OIDC_CONTROL_URL="http://127.0.0.1:$((oidc_port + 1))" npx playwright test) || { echo "--- server log"; cat "$workdir/server.log"; exit 1; }
