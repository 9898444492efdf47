#!/usr/bin/env bash
# Sets up what the tests need, then runs every check: formatting, clippy, unit and integration
# tests (the integration tests run the real binary against a local moto server, a Docker engine, a
# registry and GitHub API stubs).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-env.sh
scripts/setup-docker-env.sh
# The workflows, the example workflow and action.yml's inputs (the last in the unit tests).
scripts/lint-workflows.sh
# The layering src/ARCHITECTURE.md draws: no import runs upward, no loop of files.
python3 scripts/check_layers.py
# The Terraform: format, checkov, and the CI policy against the AWS calls in the code.
scripts/lint-infra.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

# One build of the dependency graph serves the tests and the end-to-end test, whose action image
# is the same debug binary with its loader and libraries on an empty base (no base image can be
# pulled here; releases build a static musl binary in the Dockerfile). cargo-nextest runs every
# test in its own process, several at a time, with the groups and time limits in
# .config/nextest.toml; the crate has no doctests for it to miss.
cargo nextest run --locked

# The report's charts through Mermaid itself and the HTML report offline, in headless Chromium.
scripts/check-charts.sh

# Every local run removes its containers: whatever is still labelled as a run's is a leak.
left=$(docker ps -aq --filter label=ecs-loadtest.run)
if [ -n "$left" ]; then
  echo "Containers left behind by the tests:"
  docker ps -a --filter label=ecs-loadtest.run
  exit 1
fi
