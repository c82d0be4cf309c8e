#!/usr/bin/env bash
# The scale-out profile: the same tests against PostgreSQL, Redis (django-q2 broker) and
# channels-redis, switched only by environment variables. Run after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
eval "$(bash scripts/scaleout_services.sh)"
echo "==> pytest on PostgreSQL + Redis ($DATABASE_URL, $REDIS_URL)"
.venv/bin/pytest -m "not browser" "$@"
