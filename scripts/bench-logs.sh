#!/usr/bin/env bash
# Benchmarks the log follower against a local moto server and prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
cargo build --release --locked --quiet
exec .venv/bin/python scripts/bench_logs.py target/release/ecs-loadtest
