#!/usr/bin/env bash
# Run the whole test suite (lint included) on a fresh machine: installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium for the browser tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

# axe-core (package.json, a devDependency) for the accessibility browser tests.
if ! command -v npm >/dev/null 2>&1; then
  echo "==> installing Debian's npm for the accessibility tests' axe-core"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi
echo "==> npm ci (axe-core for the accessibility tests)"
npm ci --no-audit --no-fund --loglevel=error

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "==> pytest"
mkdir -p test-artifacts
.venv/bin/pytest "$@"
