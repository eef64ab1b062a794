# infrasage-readiness image: build with the Rust toolchain, run as a non-root user on a slim
# Debian with only CA certificates added. Not built by the tests (no container engine there).
#   docker build --build-arg INFRASAGE_REVISION=$(git rev-parse --short=12 HEAD) -t infrasage/infrasage-readiness:0.1.0 .
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY benches benches
ARG INFRASAGE_REVISION=""
RUN INFRASAGE_REVISION="$INFRASAGE_REVISION" cargo build --release --locked --bin infrasage-readiness

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/infrasage-readiness /usr/local/bin/infrasage-readiness
# The Deployment's runAsUser; no home, no shell login, nothing writable needed.
USER 65532:65532
EXPOSE 9745
ENTRYPOINT ["/usr/local/bin/infrasage-readiness"]
CMD ["serve", "--config", "/etc/infrasage-readiness/config.yaml"]
