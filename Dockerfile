# Two ways to the same runtime image (docs/container.md):
#
#   Full multi-stage build on a Docker host (Rust + Node build the release server and site):
#     docker build -t workshop-key-minter .
#   Already-built artifacts (a context directory holding `server`, `site/` and, if the build wrote
#   one, `hash.txt`), no Rust image needed:
#     docker build -f Dockerfile --target runtime-from-artifacts -t workshop-key-minter path/to/artifacts
#
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://… -e OPENROUTER_MANAGEMENT_KEY=… \
#     -e SESSION_SECRET=… -e PUBLIC_URL=https://keys.example.org -e GOOGLE_CLIENT_ID=… … workshop-key-minter
#
# Workshop YAML files are compiled in: a new workshop is a new image.
# Base images are build arguments (a mirror, a pinned digest, a locally imported Debian); the
# runtime base must be Debian bookworm, the glibc the server is built against.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- the runtime, shared by both final images -------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log \
    && useradd --system --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin minter \
    && mkdir -p /app/data && chown minter:minter /app/data
WORKDIR /app
# SQLite in a volume for a single box; set DATABASE_URL=postgres://… for replicas.
VOLUME /app/data
ENV DATABASE_URL=sqlite:///app/data/minter.db \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_OUTPUT_NAME=minter \
    LOG_FORMAT=json
EXPOSE 3000
# docker stop sends SIGTERM: the server stops accepting and finishes claims in flight.
STOPSIGNAL SIGTERM
CMD ["/app/server"]

# ---- packaged from artifacts built elsewhere (scripts/container-test.sh) ---------------------
# Before the full build on purpose: builders that run every stage up to --target never need the
# Rust image for this one. `hash.tx[t]` matches nothing when the build wrote no hash.txt.
FROM runtime AS runtime-from-artifacts
COPY server hash.tx[t] /app/
COPY site /app/site/
USER minter

# ---- the full build --------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add wasm32-unknown-unknown \
    # The WASM's standard library is compiled from source, for size (scripts/build-release.sh).
    && rustup component add rust-src \
    # wasm-opt for the release WASM; Debian's binaryen is too old.
    && npm install -g --no-audit --no-fund binaryen
WORKDIR /src
# Tools first, in their own layer: they change far less often than the code.
COPY Cargo.lock ./
RUN cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads \
    && cargo install wasm-bindgen-cli --version "$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
COPY . .
RUN bash scripts/build-release.sh \
    && mkdir -p /out \
    && cp target/release/server /out/ \
    && cp -r target/site /out/site \
    && if [ -f target/release/hash.txt ]; then cp target/release/hash.txt /out/; fi

# ---- the default target: the full build's output on the shared runtime -----------------------
FROM runtime AS runtime-full
COPY --from=build /out/ /app/
USER minter
