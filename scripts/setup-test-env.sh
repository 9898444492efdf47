#!/usr/bin/env bash
# Installs what the tests need, idempotently: cargo-nextest, the test runner, and a Python
# virtualenv in .venv holding the pinned moto server (tests/harness/requirements.txt). Safe to run
# again; it does nothing when both are there and the virtualenv matches the pins.
set -euo pipefail
cd "$(dirname "$0")/.."

# The test runner (crates.io), built once when the machine has none.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "Installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

requirements=tests/harness/requirements.txt
stamp=.venv/.installed-requirements

if [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "Installing python3-venv"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

echo "Creating .venv with the pinned moto server"
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
