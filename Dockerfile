# Multi-stage image: builds the release server and site, then ships them on a slim Debian.
#   docker build -t workshop-key-minter .
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://… -e OPENROUTER_MANAGEMENT_KEY=… \
#     -e SESSION_SECRET=… -e PUBLIC_URL=https://keys.example.org -e GOOGLE_CLIENT_ID=… … workshop-key-minter
# Workshop YAML files are compiled in: a new workshop is a new image.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add wasm32-unknown-unknown \
    # wasm-opt for the release WASM; Debian's binaryen is too old.
    && npm install -g --no-audit --no-fund binaryen
WORKDIR /src
# Tools first, in their own layer: they change far less often than the code.
COPY Cargo.lock ./
RUN cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads \
    && cargo install wasm-bindgen-cli --version "$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
COPY . .
RUN cargo leptos build --release --precompress \
    && mkdir -p /out \
    && cp target/release/server /out/ \
    && cp -r target/site /out/site \
    && if [ -f target/release/hash.txt ]; then cp target/release/hash.txt /out/; fi

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app minter \
    && mkdir -p /app/data && chown minter /app/data
WORKDIR /app
COPY --from=build /out/ /app/
USER minter
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
