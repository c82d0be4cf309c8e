#!/usr/bin/env bash
# Set everything up and run the platform on the embedded default:
# SQLite + django-q2 ORM broker + database event outbox, media under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

HOST=${PSBIR_HOST:-127.0.0.1}
PORT=${PSBIR_PORT:-8000}

echo "==> preparing the demo organisation and library"
.venv/bin/python manage.py seed_demo

echo "==> starting the background worker (django-q2)"
.venv/bin/python manage.py qcluster &
worker_pid=$!
trap 'kill "$worker_pid" 2>/dev/null || true; wait "$worker_pid" 2>/dev/null || true' EXIT INT TERM

echo "==> starting the web server on http://$HOST:$PORT/ (Ctrl-C stops both)"
.venv/bin/daphne -b "$HOST" -p "$PORT" psbir_site.asgi:application
