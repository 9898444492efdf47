#!/usr/bin/env bash
# Checks infra/terraform where no provider can be downloaded: `terraform fmt -check` (when the
# terraform binary is installed; nothing is installed for it), checkov (every skip is inline with
# its reason), and the policy-sync test (every .tf file parses, and the CI role allows exactly
# the AWS calls the binary makes). Installs checkov and python-hcl2, pinned, in .venv-infra.
set -euo pipefail
cd "$(dirname "$0")/.."

pins="checkov==3.3.30 python-hcl2==8.1.4"
stamp=.venv-infra/.installed
if ! [ -x .venv-infra/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ]; then
  echo "Installing $pins into .venv-infra"
  python3 -m venv .venv-infra
  # shellcheck disable=SC2086
  .venv-infra/bin/pip install --quiet --disable-pip-version-check $pins
  echo "$pins" > "$stamp"
fi

if command -v terraform >/dev/null 2>&1; then
  terraform fmt -check -recursive -diff infra/terraform
  echo "terraform fmt: infra/terraform is formatted"
else
  echo "terraform is not installed: skipping terraform fmt -check"
fi
.venv-infra/bin/checkov -d infra/terraform --framework terraform --quiet --compact --skip-download
.venv-infra/bin/python tests/infra/policy_sync.py
