# The action image: a static binary on an empty base with CA certificates. Built natively on the
# architecture it is for (releases build linux/amd64 and linux/arm64 on runners of each), so the
# musl target is the build machine's own.
FROM rust:1-bookworm AS build
RUN rustup target add "$(uname -m)-unknown-linux-musl" \
 && apt-get update && apt-get install -y --no-install-recommends musl-tools cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies in their own layer: rebuilt only when Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked --target "$(uname -m)-unknown-linux-musl" \
 && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && target="$(uname -m)-unknown-linux-musl" \
 && cargo build --release --locked --target "$target" \
 && mkdir -p /out/etc/ssl/certs /out/tmp \
 && chmod 1777 /out/tmp \
 && cp "target/$target/release/ecs-loadtest" /out/ecs-loadtest \
 && ln -s ecs-loadtest /out/ecs-loadtest-cleanup \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/

FROM scratch
# No USER and no WORKDIR: the runner needs root and sets the working directory itself. /tmp
# exists for the spooled task logs.
COPY --from=build /out/ /
# A release names the image it publishes (ghcr.io/OWNER/ecs-loadtest:vX.Y.Z): the tasks run the
# built-in generator from it when a workflow gives no image and no Dockerfile.
ARG ECS_LOADTEST_IMAGE=
ENV ECS_LOADTEST_IMAGE=${ECS_LOADTEST_IMAGE}
ENTRYPOINT ["/ecs-loadtest"]
