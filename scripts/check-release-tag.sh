#!/usr/bin/env bash
# Refuses a release tag that is not `v` + the version in Cargo.toml: the binary reports its
# version, and an image tagged otherwise would name a release that is not what it holds.
# Usage: scripts/check-release-tag.sh TAG   (run from anywhere; reads the repository's Cargo.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:?usage: $0 TAG}"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ -z "$version" ]; then
  echo "::error::Cargo.toml names no package version" >&2
  exit 1
fi
if [ "$tag" != "v$version" ]; then
  echo "::error::the tag $tag does not match Cargo.toml's version $version: release v$version, or set the version to ${tag#v} first" >&2
  exit 1
fi
echo "The tag $tag matches Cargo.toml's version $version"
