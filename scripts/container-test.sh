#!/usr/bin/env bash
# The container image, built from a build's artifacts and run as a container runtime would run it
# (docs/container.md). Needs root on Debian bookworm; installs buildah, podman and debootstrap when
# missing. No registry is needed: the runtime base is a local Debian bookworm (debootstrap, slimmed
# like debian:bookworm-slim, kept as an image so later runs skip it).
#
#   bash scripts/container-test.sh [SERVER [SITE [HASH_TXT]]]
#     defaults: target/debug/server, target/site, hash.txt beside SERVER when it exists
#
# Builds the Dockerfile's `runtime-from-artifacts` target with buildah, then runs the image with
# `buildah run --isolation chroot` (podman run cannot set up its cgroups/rlimits in every sandbox;
# chroot isolation shares the host's network, so the server listens on a loopback port) and checks:
# the image's run contract, a non-root process, /healthz 200, the site's assets, a demo claim that
# mints a key, the SQLite file in a host directory bound to /app/data, SIGTERM → exit 0 within a
# few seconds, and after a restart on the same directory the same key.
#
# Environment: CONTAINER_IMAGE (default localhost/workshop-key-minter:test), CONTAINER_BASE_IMAGE
# (default localhost/minter-base:bookworm-slim; any other name is pulled instead, e.g.
# debian:bookworm-slim where Docker Hub is reachable), CONTAINER_BASE_REFRESH=1 rebuilds the local
# base (security updates), DEBIAN_MIRROR, CONTAINER_TEST_PORT (default: first free from 3190).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

server_bin="${1:-target/debug/server}"
site_dir="${2:-target/site}"
hash_file="${3:-$(dirname "$server_bin")/hash.txt}"
image="${CONTAINER_IMAGE:-localhost/workshop-key-minter:test}"
base_image="${CONTAINER_BASE_IMAGE:-localhost/minter-base:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
container=minter-container-test
stop_within=10 # seconds SIGTERM may take

fail() { echo "FAILED: $*" >&2; exit 1; }
step() { echo "==> $*"; }
# Keys never reach the output, not even from the server's log.
redact() { sed -E 's/sk-or-v1-[A-Za-z0-9_-]+/sk-or-v1-<redacted>/g'; }

[[ $EUID -eq 0 ]] || fail "run as root (buildah with chroot isolation, debootstrap)"
[[ -x "$server_bin" ]] || fail "no server binary at $server_bin (cargo leptos build --split first)"
[[ -d "$site_dir/pkg" ]] || fail "no built site at $site_dir (expected $site_dir/pkg)"

missing=()
for tool in buildah podman debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work="$(mktemp -d /var/tmp/minter-container-test.XXXXXX)"
run_pid=""
server_pid=""
cleanup() {
  local status=$?
  stop_server >/dev/null 2>&1 || true
  buildah rm "$container" >/dev/null 2>&1 || true
  if [[ -d "$work" ]]; then
    # debootstrap mounts /proc and /sys in its target: never delete through a mount.
    grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap "exit 129" HUP
trap "exit 130" INT
trap "exit 143" TERM

# ---- the local Debian base image ------------------------------------------------------------
if [[ "$base_image" == localhost/* ]] && { [[ "${CONTAINER_BASE_REFRESH:-}" == 1 ]] ||
  ! buildah inspect --type image "$base_image" >/dev/null 2>&1; }; then
  step "creating $base_image (debootstrap bookworm minbase from $mirror, slimmed)"
  root="$work/rootfs"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  # As debian:bookworm-slim: no documentation, manuals or translations, now or from later installs.
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root"/var/log/apt/* \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/tmp/*
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
EOF
  # The build host's resolver and name do not belong in the image (buildah supplies its own).
  : >"$root/etc/resolv.conf"
  rm -f "$root/etc/hostname"
  tar --numeric-owner --xattrs -C "$root" -c . | podman import --change 'CMD ["bash"]' - "$base_image" >"$work/import.log" 2>&1 ||
    { cat "$work/import.log"; fail "podman import"; }
  rm -rf --one-file-system "$root"
fi

# ---- the image from the artifacts -----------------------------------------------------------
step "building $image (Dockerfile target runtime-from-artifacts) from $server_bin, $site_dir$([[ -f "$hash_file" ]] && echo ", $hash_file")"
context="$work/context"
mkdir -p "$context"
cp "$server_bin" "$context/server"
cp -r "$site_dir" "$context/site"
[[ -f "$hash_file" ]] && cp "$hash_file" "$context/hash.txt"
old_image="$(buildah images --quiet --no-trunc "$image" 2>/dev/null || true)"
buildah build --isolation chroot --layers --force-rm --pull=false --quiet \
  --build-arg RUNTIME_IMAGE="$base_image" --target runtime-from-artifacts \
  -f Dockerfile -t "$image" "$context" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "buildah build"; }
new_image="$(buildah images --quiet --no-trunc "$image")"
# The previous build of this tag is replaced, not left behind (the cached base layers stay).
if [[ -n "$old_image" && "$old_image" != "$new_image" ]]; then buildah rmi "$old_image" >/dev/null 2>&1 || true; fi
image_bytes="$(podman image inspect --format '{{.Size}}' "$image")"
server_bytes="$(stat -c %s "$context/server")"

# The run contract, as any runtime reads it from the image.
config() { buildah inspect --type image --format "{{$1}}" "$image"; }
[[ "$(config .OCIv1.Config.User)" == minter ]] || fail "image user is $(config .OCIv1.Config.User), not minter"
[[ "$(config .OCIv1.Config.StopSignal)" == SIGTERM ]] || fail "stop signal is not SIGTERM"
[[ "$(config '.OCIv1.Config.Cmd')" == "[/app/server]" ]] || fail "command is $(config .OCIv1.Config.Cmd)"
grep -q '3000/tcp' <<<"$(config .OCIv1.Config.ExposedPorts)" || fail "port 3000 is not exposed"
grep -q '/app/data' <<<"$(config .OCIv1.Config.Volumes)" || fail "/app/data is not a volume"
image_env="$(config .OCIv1.Config.Env)"
for env in DATABASE_URL=sqlite:///app/data/minter.db LEPTOS_SITE_ROOT=/app/site LEPTOS_SITE_ADDR=0.0.0.0:3000; do
  grep -qF "$env" <<<"$image_env" || fail "image environment lacks $env"
done

buildah rm "$container" >/dev/null 2>&1 || true # left by a run that was killed
buildah from --pull=false --name "$container" "$image" >/dev/null
in_container() { buildah run --isolation chroot "$container" -- "$@"; }

# The binary was linked on this machine: every library it needs must be in the image.
libs="$(in_container ldd /app/server)"
grep -q 'not found' <<<"$libs" && { echo "$libs"; fail "the image lacks libraries the server needs"; }
glibc_needed="$(grep -ao 'GLIBC_2\.[0-9]*' "$context/server" | sort -uV | tail -1)"
glibc_image="$(in_container ldd --version)"
glibc_image="$(head -1 <<<"$glibc_image" | grep -o '[0-9.]*$')"
user_id="$(in_container id -u)"
user_name="$(in_container id -un)"
[[ "$user_id" != 0 ]] || fail "the container runs as root"

# ---- running it -----------------------------------------------------------------------------
port="${CONTAINER_TEST_PORT:-}"
if [[ -z "$port" ]]; then
  for candidate in $(seq 3190 3289); do
    (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null || { port=$candidate; break; }
  done
fi
[[ -n "$port" ]] || fail "no free port in 3190-3289"
base="http://127.0.0.1:$port"
data="$work/data"
mkdir -p "$data"
chown "$user_id:$(in_container id -g)" "$data"

start_server() {
  local log="$work/server-$1.log"
  # The image's own user, working directory and environment; demo mode (no OpenRouter key: the
  # built-in simulator) on loopback, where demo sign-in is allowed.
  buildah run --isolation chroot --volume "$data:/app/data" \
    --env MINTER_DEMO=1 --env PUBLIC_URL="$base" --env LEPTOS_SITE_ADDR="127.0.0.1:$port" \
    --env RUST_LOG=info "$container" -- /app/server >"$log" 2>&1 &
  run_pid=$!
  server_pid=""
  for _ in $(seq 1 150); do
    [[ -z "$server_pid" ]] && server_pid="$(server_process)"
    [[ -n "$server_pid" ]] && [[ "$(status_of /healthz)" == 200 ]] && return 0
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.2
  done
  redact <"$log" | tail -30
  fail "the server did not answer /healthz with 200 on $base"
}
# Every process under buildah run (buildah's chroot helper, then the server), parents first.
descendants() {
  local pids=("$run_pid") pid child
  while ((${#pids[@]})); do
    pid="${pids[0]}"
    pids=("${pids[@]:1}")
    for child in $(pgrep -P "$pid" || true); do
      echo "$child"
      pids+=("$child")
    done
  done
  return 0
}
# The server process itself: the descendant running /app/server.
server_process() {
  local pid
  for pid in $(descendants); do
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == server ]] && { echo "$pid"; return 0; }
  done
  return 0
}
# SIGTERM to the server, as `docker stop` sends it; sets stop_ms (or "timeout") and stop_rc, buildah
# run's exit status: the process's own, 0 only when it exited with 0. Past the grace period, or
# when no server process is there to stop, everything under buildah run is killed.
stop_server() {
  stop_ms="" stop_rc=""
  [[ -n "$run_pid" ]] || return 0
  local t0 pids
  t0="$(date +%s%N)"
  for _ in $(seq 1 20); do
    [[ -n "$server_pid" ]] || ! kill -0 "$run_pid" 2>/dev/null && break
    server_pid="$(server_process)"
    [[ -n "$server_pid" ]] || sleep 0.1
  done
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 $((stop_within * 10))); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if kill -0 "$run_pid" 2>/dev/null; then
    pids="$(descendants | tac)"
    # shellcheck disable=SC2086 # one pid a word
    kill -KILL $pids "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
    run_pid="" server_pid=""
    stop_ms=timeout
    return 0
  fi
  stop_rc=0
  wait "$run_pid" || stop_rc=$?
  run_pid="" server_pid=""
  stop_ms=$((($(date +%s%N) - t0) / 1000000))
}
no_errors_logged() {
  if grep -q '"level":"ERROR"' "$work/server-$1.log"; then
    redact <"$work/server-$1.log" | grep '"level":"ERROR"'
    fail "the server logged errors (run $1)"
  fi
}
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base$1" || true; }

# Demo sign-in (a fresh session: demo mode signs sessions with a secret made at start-up).
sign_in() {
  rm -f "$work/cookies"
  curl -sS --max-time 10 -c "$work/cookies" -o /dev/null \
    --data-urlencode email=container-test@example.org --data-urlencode name='Container Test' \
    --data-urlencode next=/w/demo "$base/auth/dev"
  grep -q minter_session "$work/cookies" || fail "demo sign-in set no minter_session cookie"
}
workshop_page() { curl -sS --max-time 10 -b "$work/cookies" "$base/w/demo"; }
# The claim as the hydrated page posts it (JSON answer), to the server-function path of the form
# the signed-in page renders; prints the key.
claim() {
  local path answer
  path="$(workshop_page | grep -o 'action="/api/claim_key[^"]*"' | head -1 | cut -d'"' -f2 || true)"
  [[ -n "$path" ]] || fail "the signed-in workshop page has no claim form"
  echo "$path" >"$work/claim-path"
  answer="$(curl -sS --max-time 30 -b "$work/cookies" -H 'accept: application/json' \
    --data-urlencode slug=demo -w '\n%{http_code}' "$base$path")"
  [[ "${answer##*$'\n'}" == 200 ]] || fail "claim answered ${answer##*$'\n'}: $(head -1 <<<"$answer" | redact)"
  grep -o '"key":"sk-or-v1-[^"]*"' <<<"$answer" | head -1 | cut -d'"' -f4
}

step "running it (buildah run --isolation chroot, $base, host directory bound to /app/data)"
start_server 1
process_uid="$(awk '/^Uid:/ { print $2 }' "/proc/$server_pid/status")"
[[ "$process_uid" == "$user_id" && "$process_uid" != 0 ]] || fail "the server process runs as uid $process_uid"
health="$(status_of /healthz)"
page="$(curl -sS --max-time 10 "$base/w/demo")"
asset="$(grep -o '/pkg/[^"]*\.wasm' <<<"$page" | head -1)"
[[ -n "$asset" ]] || fail "the workshop page links no WASM"
[[ "$(status_of "$asset")" == 200 ]] || fail "$asset is not served from /app/site"
sign_in
key="$(claim)"
[[ "$key" == sk-or-v1-?* ]] || fail "the claim returned no sk-or-v1- key"
[[ -s "$data/minter.db" ]] || fail "no SQLite database in the volume directory"
stop_server
[[ "$stop_ms" != timeout ]] || fail "the server did not exit within ${stop_within}s of SIGTERM"
[[ "$stop_rc" == 0 ]] || { redact <"$work/server-1.log" | tail -20; fail "exit status $stop_rc after SIGTERM"; }
no_errors_logged 1

step "restarting on the same /app/data"
start_server 2
sign_in
grep -qF "$key" <<<"$(workshop_page)" || fail "after a restart the workshop page does not show the attendee's key"
first_stop="exit $stop_rc after $stop_ms ms"
stop_server
[[ "$stop_ms" != timeout && "$stop_rc" == 0 ]] || fail "the restarted server did not stop cleanly ($stop_ms, exit $stop_rc)"
no_errors_logged 2
data_files="$(cd "$data" && stat -c '%n %s B, uid %u' minter.db* | paste -sd ';' | sed 's/;/; /g')"

cat <<EOF
container test passed in $((SECONDS - started)) s
  image          $image: $((image_bytes / 1000000)) MB (server binary $((server_bytes / 1000000)) MB; base $base_image)
  glibc          server needs ${glibc_needed#GLIBC_}, image has $glibc_image; no library missing
  user           $user_name (uid $user_id); server process uid $process_uid
  health         GET /healthz -> $health; $asset -> 200
  claim          demo sign-in, POST $(cat "$work/claim-path") -> key ${key:0:12}… (${#key} chars)
  volume         host directory bound to /app/data, after the last stop: $data_files
  SIGTERM        $first_stop; after the restart: exit $stop_rc after $stop_ms ms
  restart        same /app/data: the signed-in workshop page shows the same key
EOF
