#!/usr/bin/env bash
# Every test: unit and contract tests (SQLite and Postgres), then the end-to-end tests in
# headless Chromium against the real server. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "==> the GitHub workflows (actionlint, shellcheck)"
bash scripts/lint-workflows.sh

echo "==> formatting and lints (rustfmt, clippy: every warning fails)"
cargo fmt --all --check
cargo clippy -p openrouter -p app -p server -p bench -p testkit --all-targets --features app/ssr -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# Postgres for the contract tests (trust auth on 127.0.0.1:5432 on the project's machines).
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if command -v pg_lsclusters >/dev/null && ! pg_lsclusters --no-header | grep -q online; then
  echo "==> starting Postgres"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi

echo "==> dependencies: licences, bans, sources and known vulnerabilities (cargo deny, deny.toml)"
cargo deny -L error check --hide-inclusion-graph bans licenses sources
# The advisory database is a git repository on github.com: refreshed where it can be; the copy
# on this machine is then checked against, and its date printed (machines without github.com
# keep an older copy).
cargo deny fetch db >/dev/null 2>&1 || true
advisory_db="$(compgen -G "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/*/.git" | head -1 || true)"
if [[ -n "$advisory_db" ]]; then
  echo "advisory database of $(git -C "$(dirname "$advisory_db")" log -1 --format=%cs)"
  cargo deny -L error --offline check --hide-inclusion-graph advisories
else
  echo "SKIPPED: cargo deny check advisories (github.com/RustSec/advisory-db cannot be fetched from here)"
fi

echo "==> unit, contract and integration tests"
# One invocation, so app and server share one build of their dependencies.
cargo test -p openrouter -p app -p server -p bench --features app/ssr

echo "==> broken workshop files fail the build, naming the file and the field"
broken=workshops/zz-broken-check.yaml
trap 'rm -f "$broken"' EXIT
refused_kinds=0
# expect_refused <sed script applied to workshops/demo/demo.yaml> <the error line the build must print>
# The copy gets its own slug and key prefix first, so each check trips exactly its own rule.
expect_refused() {
  sed -e 's/^slug: demo$/slug: zz-broken-check/' -e 's/key_label_prefix: demo$/key_label_prefix: zz-broken-check/' \
    -e "$1" workshops/demo/demo.yaml >"$broken"
  if output="$(cargo build -p app --features ssr 2>&1)"; then
    echo "FAILED: the build accepted $broken ($1)"; exit 1
  fi
  grep -qF "$2" <<<"$output" || { echo "$output"; echo "FAILED: expected: $2"; exit 1; }
  refused_kinds=$((refused_kinds + 1))
  echo "ok: $2"
}
file='invalid workshop file: workshops/zz-broken-check.yaml: field'
# Keys claimed at the close would expire before they are shown (ends 18:00 + 60 min).
expect_refused 's/^claims_close_at: .*/claims_close_at: "2030-12-31T19:00:00+01:00"/' \
  "$file \`claims_close_at\`: must be before the keys expire at"
expect_refused 's/budget_usd: 2.00/budget_usd: 0/' "$file \`openrouter.budget_usd\`: must be greater than 0"
# Another workshop's key name prefix: the background could not tell their keys apart.
expect_refused 's/key_label_prefix: zz-broken-check$/key_label_prefix: demo/' \
  "$file \`openrouter.key_label_prefix\`: \`demo\` is also used by workshops/demo/demo.yaml"
expect_refused 's/max_keys: 300/max_key: 300/' "$file \`openrouter.guardrail\`: unknown field \`max_key\`"
expect_refused '/^  key_label_prefix: /d' "$file \`openrouter\`: missing field \`key_label_prefix\`"
expect_refused 's/^slug: .*/slug: ZZ-Broken-Check/' \
  "$file \`slug\`: \`ZZ-Broken-Check\` must equal the file name \`zz-broken-check\`"
# A time without its offset.
expect_refused 's/^starts_at: .*/starts_at: "2026-01-01T09:00:00"/' "$file \`starts_at\`: premature end of input"
expect_refused 's/^ends_at: .*/ends_at: "2025-12-31T09:00:00+01:00"/' "$file \`ends_at\`: must be after starts_at"
expect_refused 's/^claims_close_at: .*/claims_close_at: "2026-01-01T08:00:00+01:00"/' \
  "$file \`claims_close_at\`: must be after claims_open_at"
expect_refused 's#mistralai/mistral-small-3.2-24b-instruct#meta-llama/llama-3.1-8b-instruct#' \
  "$file \`openrouter.models[1].id\`: \`meta-llama/llama-3.1-8b-instruct\` is listed twice"
expect_refused 's#- id: meta-llama/llama-3.1-8b-instruct#- id: llama-3.1#' \
  "$file \`openrouter.models[0].id\`: \`llama-3.1\` must look like vendor/model"
expect_refused 's/price_in_per_mtok: 0.02/price_in_per_mtok: -1/' \
  "$file \`openrouter.models[0].price_in_per_mtok\`: must not be negative"
expect_refused 's/cap_usd: 600/cap_usd: 1/' "$file \`openrouter.guardrail.cap_usd\`: must be at least openrouter.budget_usd"
expect_refused 's/max_keys: 300/max_keys: 0/' "$file \`openrouter.guardrail.max_keys\`: must be at least 1"
expect_refused 's/max_keys: 300/max_keys: many/' "$file \`openrouter.guardrail.max_keys\`: invalid type: string \"many\""
expect_refused 's/reset_interval: monthly/reset_interval: hourly/' \
  "$file \`openrouter.guardrail.reset_interval\`: unknown variant \`hourly\`"
expect_refused 's/^is_active: true$/is_active: true\norganisers: [not-an-email]/' \
  "$file \`organisers[0]\`: \`not-an-email\` is not an email address"
expect_refused 's/^name: .*/name: "  "/' "$file \`name\`: must not be empty"
# Not YAML at all: no field to name, so the parser's position instead.
expect_refused 's/^name: .*/name: "unclosed/' "$file \`(document)\`: did not find expected key at line 7"
rm -f "$broken"
echo "broken workshop file kinds refused: $refused_kinds"
[[ $refused_kinds -ge 10 ]] || { echo "FAILED: fewer than ten kinds of broken workshop file"; exit 1; }

echo "==> building the site as shipped (release WASM) and a debug server, for the end-to-end tests"
# The browser tests run the WASM a deployment serves (built for size with flags of its own,
# scripts/build-release.sh) against a debug server, quicker to build; the server reads the site's
# file names from hash.txt beside its binary.
bash scripts/build-release.sh --frontend-only
cargo leptos build --split --server-only
cp target/release/hash.txt target/debug/hash.txt

echo "==> no server-only secret reaches a browser: the built site and what the server sends"
# The names of the server's secret settings (server/src/config.rs) must not be in the built site
# (JS, WASM, CSS, HTML, anything). The values cannot be known at build time, so a server is started
# with known fake values (demo sign-in, every provider, a management key for an OpenRouter that is
# not there) and everything it serves to a browser, signed out and as an admin, must hold none.
secret_checks=0
secret_names=(OPENROUTER_MANAGEMENT_KEY SESSION_SECRET GOOGLE_CLIENT_SECRET GITHUB_CLIENT_SECRET OIDC_CLIENT_SECRET
  DATABASE_URL management_key session_secret client_secret)
for name in "${secret_names[@]}"; do
  if hits="$(grep -r -a -F -l -e "$name" target/site)"; then
    echo "FAILED: the built site names the server-only $name in: $hits"; exit 1
  fi
  secret_checks=$((secret_checks + 1))
done
secrets_dir="$(mktemp -d)"
secrets_port="${SECRETS_PORT:-3150}"
token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
declare -A secret_values=(
  [OPENROUTER_MANAGEMENT_KEY]="sk-or-v1-site-check-$token"
  [SESSION_SECRET]="session-secret-site-check-$token"
  [GOOGLE_CLIENT_SECRET]="google-secret-site-check-$token"
  [GITHUB_CLIENT_SECRET]="github-secret-site-check-$token"
  [OIDC_CLIENT_SECRET]="oidc-secret-site-check-$token"
  [DATABASE_URL]="sqlite://$secrets_dir/db-site-check-$token.db"
)
env_args=()
for name in "${!secret_values[@]}"; do env_args+=("$name=${secret_values[$name]}"); done
env "${env_args[@]}" MINTER_DEMO=1 OPENROUTER_BASE_URL=http://127.0.0.1:9/api/v1 ADMIN_EMAILS=admin@example.org \
  PUBLIC_URL="http://127.0.0.1:$secrets_port" LEPTOS_SITE_ADDR="127.0.0.1:$secrets_port" LEPTOS_SITE_ROOT=target/site \
  GOOGLE_CLIENT_ID=site-check GOOGLE_ISSUER=http://127.0.0.1:9 GITHUB_CLIENT_ID=site-check \
  OIDC_ISSUER=http://127.0.0.1:9 OIDC_CLIENT_ID=site-check OIDC_LABEL=Keycloak RUST_LOG=error \
  target/debug/server >"$secrets_dir/server.log" 2>&1 &
secrets_pid=$!
trap 'rm -f "$broken"; kill "$secrets_pid" 2>/dev/null || true; rm -rf "$secrets_dir"' EXIT
base="http://127.0.0.1:$secrets_port"
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$base/healthz" >/dev/null || { cat "$secrets_dir/server.log"; echo "FAILED: server did not start"; exit 1; }
served="$secrets_dir/served"
mkdir -p "$served"
fetch() { curl -sS -D - -b "$secrets_dir/cookies" -c "$secrets_dir/cookies" "$base$1" >"$served/$2"; }
pages=("/" "/w/demo" "/w/demo/projector" "/w/demo-upcoming" "/w/demo-closed" "/w/demo?snippet=python"
  "/auth/dev?next=/w/demo" "/admin" "/admin/w/demo" "/no-such-page")
for i in "${!pages[@]}"; do fetch "${pages[$i]}" "anonymous-$i.html"; done
curl -sS -c "$secrets_dir/cookies" -o /dev/null -d 'email=admin@example.org&name=Admin&next=/' "$base/auth/dev"
grep -q minter_session "$secrets_dir/cookies" || { echo "FAILED: the admin could not sign in"; exit 1; }
for i in "${!pages[@]}"; do fetch "${pages[$i]}" "admin-$i.html"; done
fetch /admin/w/demo/attendance.csv attendance.csv
grep -q 'Build with LLMs' "$served/anonymous-1.html" && grep -q 'data-testid="signed-in-as"' "$served/admin-8.html" \
  || { echo "FAILED: the pages to search were not served"; exit 1; }
# Everything the pages link to and every file of the site, as the server sends it.
for asset in $( (grep -h -o -E '(href|src)="/[^"]*"' "$served"/*.html | sed -E 's/^[a-z]+="//; s/"$//'
  find target/site -type f | sed 's#^target/site##') | grep -v '^/auth/login/' | sort -u); do
  fetch "$asset" "asset-$(tr '/?=&' '____' <<<"$asset")"
done
ls "$served" | grep -q '^asset-_pkg_.*wasm$' || { ls "$served"; echo "FAILED: the WASM was not fetched"; exit 1; }
for name in "${!secret_values[@]}"; do
  for where in "$served" target/site; do
    if hits="$(grep -r -a -F -l -e "${secret_values[$name]}" "$where")"; then
      echo "FAILED: the value of $name is served to browsers in: $hits"; exit 1
    fi
    secret_checks=$((secret_checks + 1))
  done
done
for name in "${secret_names[@]}"; do
  if hits="$(grep -r -a -F -l -e "$name" "$served")"; then
    echo "FAILED: a served page or asset names the server-only $name in: $hits"; exit 1
  fi
  secret_checks=$((secret_checks + 1))
done
kill "$secrets_pid" 2>/dev/null || true
echo "secret checks passed (zero hits each): $secret_checks over $(ls "$served" | wc -l) served files and target/site"

echo "==> the container image, built from this build and run (buildah)"
bash scripts/container-test.sh

bash scripts/e2e.sh "$@"
