#!/usr/bin/env bash
# Benchmarks a launch in three regions against a launch of as many tasks in one, against a local
# moto server, and prints the figures.
#   scripts/bench-regions.sh [TASKS]      (default 150; RUNS sets how many runs of each)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
cargo build --release --locked --quiet
exec .venv/bin/python scripts/bench_regions.py target/release/ecs-loadtest "$@"
