#!/usr/bin/env bash
# Sets up what the tests need, then runs every check: the linters (workflows, docs, layering,
# Terraform, formatting), then clippy, the unit and the integration tests (which run the real
# binary against a local moto server, a Docker engine, a registry and GitHub API stubs) and the
# charts. `scripts/test.sh lint` or `scripts/test.sh tests` runs one half (CI runs them as two
# parallel jobs); with no argument, both. Each step prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

part=${1:-all}
case "$part" in
  all | lint | tests) ;;
  *)
    echo "scripts/test.sh: got \`$part\`; expected \`lint\`, \`tests\` or nothing (both)" >&2
    exit 2
    ;;
esac

step() {
  local started=$SECONDS
  echo "::: $*"
  "$@"
  echo "::: $*: $((SECONDS - started)) s (at $SECONDS s)"
}

# The Rust half needs one build of the dependency graph, for clippy, the tests, the end-to-end
# test and the charts' real run alike: every cargo command below runs with these settings, so
# none builds the graph again. Clippy's driver compiles this crate's own code (cargo hands the
# workspace wrapper only the workspace's crates), so its lints come with the build rather than
# from a second, check-only pass over the graph; `-D warnings` makes any lint or compiler warning
# fail it (dependencies are built with their lints capped). The build starts first, in the
# background, and the setup and the linters run beside it.
if [ "$part" != lint ]; then
  RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
  export RUSTC_WORKSPACE_WRAPPER
  export RUSTFLAGS="-D warnings"
  build_log=$(mktemp)
  cargo test --locked --all-targets --no-run >"$build_log" 2>&1 &
  build=$!
  # A check that fails while the build runs ends it too.
  trap 'kill "$build" 2>/dev/null || true' EXIT
  echo "::: the build runs in the background (at $SECONDS s)"
fi

step scripts/setup-test-env.sh

if [ "$part" != tests ]; then
  # The workflows, the example workflow, action.yml's inputs (also in the unit tests) and the
  # docs' links, workflow blocks and input names.
  step scripts/lint-workflows.sh
  # The layering src/ARCHITECTURE.md draws: no import runs upward, no loop of files.
  step python3 scripts/check_layers.py
  # The Terraform: format, checkov, and the CI policy against the AWS calls in the code.
  step scripts/lint-infra.sh
  step cargo fmt --all -- --check
fi

if [ "$part" != lint ]; then
  step scripts/setup-docker-env.sh
  started=$SECONDS
  if ! wait "$build"; then
    cat "$build_log"
    echo "::: the build failed"
    exit 1
  fi
  grep -v '^ *\(Compiling\|Checking\)' "$build_log" || true
  echo "::: the build: done at $SECONDS s (waited $((SECONDS - started)) s for it)"
  # The end-to-end test's action image is the same debug binary with its loader and libraries on
  # an empty base (no base image can be pulled here; releases build a static musl binary in the
  # Dockerfile). cargo-nextest runs every test in its own process, several at a time, with the
  # groups and time limits in .config/nextest.toml; the crate has no doctests for it to miss.
  step cargo nextest run --locked --all-targets

  # The report's charts through Mermaid itself and the HTML report offline, in headless Chromium.
  step scripts/check-charts.sh

  # Every local run removes its containers: whatever is still labelled as a run's is a leak.
  left=$(docker ps -aq --filter label=ecs-loadtest.run)
  if [ -n "$left" ]; then
    echo "Containers left behind by the tests:"
    docker ps -a --filter label=ecs-loadtest.run
    exit 1
  fi
fi
echo "::: every check passed in $SECONDS s"
