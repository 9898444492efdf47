#!/usr/bin/env bash
# Measures a second, unchanged build+push against the first (time, and bytes that reached the
# registry) with the real binary, a Docker engine and the test registry (scripts/setup-docker-env.sh)
# behind a local moto server. Prints the figures. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
scripts/setup-docker-env.sh
cargo build --release --locked --quiet
exec .venv/bin/python scripts/bench_image.py target/release/ecs-loadtest
