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

echo "==> broken workshop files fail the build, naming the file and the field"
broken=workshops/zz-broken-check.yaml
trap 'rm -f "$broken"' EXIT
# expect_refused <sed script applied to workshops/demo.yaml> <the error line the build must print>
expect_refused() {
  sed -e 's/^slug: demo$/slug: zz-broken-check/' -e "$1" workshops/demo.yaml >"$broken"
  if output="$(cargo build -p app --features ssr 2>&1)"; then
    echo "FAILED: the build accepted $broken ($1)"; exit 1
  fi
  grep -qF "$2" <<<"$output" || { echo "$output"; echo "FAILED: expected: $2"; exit 1; }
  echo "ok: $2"
}
expect_refused 's/key_label_prefix: demo/key_label_prefix: zz/; s/budget_usd: 2.00/budget_usd: 0/' \
  'invalid workshop file: workshops/zz-broken-check.yaml: field `openrouter.budget_usd`: must be greater than 0'
# Another workshop's key name prefix: the background could not tell their keys apart.
expect_refused 's/^name: .*/name: Copy/' \
  'invalid workshop file: workshops/zz-broken-check.yaml: field `openrouter.key_label_prefix`: `demo` is also used by workshops/demo.yaml'
rm -f "$broken"

echo "==> building the site for the end-to-end tests"
cargo leptos build

bash scripts/e2e.sh "$@"
