#!/usr/bin/env bash
# Set everything up and run the platform on the embedded default:
# SQLite + django-q2 ORM broker + database event outbox, media under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

HOST=${PSBIR_HOST:-127.0.0.1}
PORT=${PSBIR_PORT:-8000}
# Debug is off, as in production: Django's debug pages list the site's routes to anyone who
# hits a missing URL. Developers who want them: DJANGO_DEBUG=1 bash scripts/start.sh.
export DJANGO_DEBUG=${DJANGO_DEBUG:-0}
# The web process loads the search model at start-up, off the request path.
export PSBIR_PRELOAD_MODEL=${PSBIR_PRELOAD_MODEL:-1}
# Keep in step with retrieval/management/commands/seed_demo.py (tests/psbir_site check it).
DEMO_LOGINS="demo logins: demo / demo-sketch-2026, demo-admin / demo-sketch-2026"

echo "==> preparing the demo organisation and library"
.venv/bin/python manage.py seed_demo

echo "==> starting the background worker (django-q2)"
.venv/bin/python manage.py qcluster &
worker_pid=$!
server_pid=
stop() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  kill "$worker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

case "$DJANGO_DEBUG" in
  1|true|yes|on) debug_note="debug mode is ON (Django's debug pages; for developers only)" ;;
  *) debug_note="debug mode is off (DJANGO_DEBUG=1 turns Django's debug pages on)" ;;
esac
echo "==> starting the web server on $HOST:$PORT; $debug_note"
.venv/bin/daphne -b "$HOST" -p "$PORT" psbir_site.asgi:application &
server_pid=$!
if .venv/bin/python -m psbir_site.announce --wait-search "$HOST" "$PORT" "$server_pid" "$DEMO_LOGINS"; then
  echo "    Ctrl-C stops the web server and the worker."
fi
wait "$server_pid"
