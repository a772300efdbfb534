# Weft's images, from one build: weft-global (with the console), weft-zone, weft-dp, and the
# demo (the shop's app with its sidecar, the load generator, weftctl for the setup).
#
#   docker build --target global -t weft/global:dev .
#
# The base images are build arguments with public defaults; `cargo xtask images` makes local
# equivalents on a machine that cannot pull them (docs/operations.md).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only what the build reads, so documentation and deployment files do not invalidate it.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY backend backend
COPY cli cli
COPY crates crates
COPY dataplane dataplane
COPY demo demo
COPY e2e e2e
COPY frontend frontend
COPY migrations migrations
COPY sim sim
COPY xtask xtask
COPY zone-cp zone-cp
RUN rustup target list --installed | grep -qx wasm32-unknown-unknown \
        || rustup target add wasm32-unknown-unknown
RUN cargo build --release --locked \
        -p weft-global -p weft-zone -p weft-dp -p weft-demo -p weftctl \
    && cargo xtask console \
    && mkdir -p /out/bin \
    && cp target/release/weft-global target/release/weft-zone target/release/weft-dp \
          target/release/weft-demo target/release/weftctl /out/bin/ \
    && cp -r target/console /out/console

FROM ${RUNTIME_IMAGE} AS runtime
# Volumes mounted on these directories start out owned by the weft user.
RUN useradd --system --uid 10001 --home-dir /var/lib/weft --create-home weft \
    && mkdir -p /var/lib/weft/global /var/lib/weft/zone /var/lib/weft/shared \
    && chown -R weft:weft /var/lib/weft
WORKDIR /var/lib/weft

FROM runtime AS global
COPY --from=build /out/bin/weft-global /usr/local/bin/
COPY --from=build /out/console /usr/share/weft/console
ENV WEFT_CONSOLE_DIR=/usr/share/weft/console WEFT_DATA_DIR=/var/lib/weft/global
USER weft
EXPOSE 5681 5685
ENTRYPOINT ["weft-global"]

FROM runtime AS zone
COPY --from=build /out/bin/weft-zone /usr/local/bin/
ENV WEFT_DATA_DIR=/var/lib/weft/zone
USER weft
EXPOSE 5678 5682
ENTRYPOINT ["weft-zone"]

FROM runtime AS dp
COPY --from=build /out/bin/weft-dp /usr/local/bin/
USER weft
EXPOSE 9901
ENTRYPOINT ["weft-dp"]

FROM runtime AS demo
COPY --from=build /out/bin/weft-demo /out/bin/weft-dp /out/bin/weftctl /usr/local/bin/
COPY deploy/compose/bin/ /usr/local/bin/
COPY deploy/compose/manifests/ /usr/share/weft/manifests/
USER weft
