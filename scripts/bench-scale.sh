#!/usr/bin/env bash
# Benchmarks `task-count: 1000` against a local moto server and prints the figures.
#   scripts/bench-scale.sh [TASKS]      (default 1000; RUN_SECONDS sets how long each task runs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
cargo build --release --locked --quiet
exec .venv/bin/python scripts/bench_scale.py target/release/ecs-loadtest "$@"
