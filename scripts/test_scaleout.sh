#!/usr/bin/env bash
# The scale-out profile: the same tests against PostgreSQL, Redis (django-q2 broker) and
# channels-redis, switched only by environment variables. Run after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
eval "$(bash scripts/scaleout_services.sh)"
echo "==> pytest on PostgreSQL + Redis ($DATABASE_URL, $REDIS_URL)"
.venv/bin/pytest -m "not browser" "$@"
# Vectors in pgvector at a library size (issue 23): recall against exact search must hold.
# 60,000 photos: past PSBIR_PGVECTOR_ANN_MIN_ROWS (50,000), so the IVF lists are searched.
echo "==> scale_benchmark smoke: 60,000 photos in pgvector"
.venv/bin/python manage.py scale_benchmark --photos 60000 --engine pgvector --queries 20 \
  --min-recall 0.95 --json "${PSBIR_SCALE_SMOKE_JSON:-/tmp/psbir-scale-smoke.json}"
