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
# The Terraform: format, checkov, and the CI policy against the AWS calls in the code.
scripts/lint-infra.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

# The end-to-end test runs the action image, which is built FROM scratch around a statically
# linked binary (no base image can be pulled here; releases build a musl binary in the
# Dockerfile instead).
# A debug build: what the test checks does not depend on the optimisation, and it builds in a
# fraction of a release build's time on two cores.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked \
  --target x86_64-unknown-linux-gnu --target-dir target/static
export ECS_LOADTEST_ACTION_BINARY="$PWD/target/static/x86_64-unknown-linux-gnu/debug/ecs-loadtest"

cargo test --locked

# The report's charts through Mermaid itself and the HTML report offline, in headless Chromium.
scripts/check-charts.sh

# Every local run removes its containers: whatever is still labelled as a run's is a leak.
left=$(docker ps -aq --filter label=ecs-loadtest.run)
if [ -n "$left" ]; then
  echo "Containers left behind by the tests:"
  docker ps -a --filter label=ecs-loadtest.run
  exit 1
fi
