#!/usr/bin/env bash
# Sets up what the tests need, then runs every check: formatting, clippy, unit and integration
# tests (the integration tests run the real binary against a local moto server, a Docker engine, a
# registry and GitHub API stubs).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-env.sh
scripts/setup-docker-env.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
