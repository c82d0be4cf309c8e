#!/usr/bin/env bash
# The load test on the scale-out stack: PostgreSQL + Redis (django-q2 broker, channels-redis,
# cache), 2 daphne web processes and 2 qclusters, the real engine and the demo library.
# Searches are spread over both web processes while a zip import (new photos the workers
# embed), a re-index and a head training run. Run after scripts/setup.sh; figures in
# docs/reliability.md. A fresh database psbir_load and Redis db 1 are used and kept.
#   bash scripts/loadtest_scaleout.sh [extra loadtest.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/scaleout_services.sh)"
export REDIS_URL=${REDIS_URL%/*}/1
export DATABASE_URL=${DATABASE_URL%/*}/psbir_load
export PSBIR_DATA_DIR=${PSBIR_LOAD_DIR:-/tmp/psbir-load-scaleout}
export PSBIR_MODEL_DIR=${PSBIR_MODEL_DIR:-$PWD/var/models} PSBIR_DEVICE=${PSBIR_DEVICE:-cpu}
WORK=$PSBIR_DATA_DIR.run
PORTS=(8031 8032)
BASES=$(printf "http://127.0.0.1:%s," "${PORTS[@]}"); BASES=${BASES%,}

PGPASSWORD=psbir psql -q -h 127.0.0.1 -U psbir -d psbir -c "DROP DATABASE IF EXISTS psbir_load" \
  -c "CREATE DATABASE psbir_load"
redis-cli -u "$REDIS_URL" flushdb >/dev/null
rm -rf "$PSBIR_DATA_DIR" "$WORK"; mkdir -p "$PSBIR_DATA_DIR" "$WORK"
.venv/bin/python manage.py migrate -v0
echo "==> seeding the demo library with the real engine"
.venv/bin/python manage.py seed_demo
# 80 new photos for the import under load (mirrored demo photos: the library refuses copies).
.venv/bin/python - "$WORK/new-photos.zip" <<'PY'
import io, sys, zipfile
from pathlib import Path
from PIL import Image, ImageOps
photos = sorted(Path("retrieval/demo_library/images").glob("*.jpg"))[::3][:80]
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    for i, path in enumerate(photos):
        buffer = io.BytesIO()
        ImageOps.mirror(Image.open(path).convert("RGB")).save(buffer, "JPEG", quality=90)
        archive.writestr(f"mirrored-{i:03d}-{path.name}", buffer.getvalue())
PY

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
for n in 1 2; do
  PSBIR_Q_WORKERS=1 .venv/bin/python manage.py qcluster >"$WORK/qcluster-$n.log" 2>&1 &
  pids+=($!)
done
for port in "${PORTS[@]}"; do
  .venv/bin/daphne -b 127.0.0.1 -p "$port" psbir_site.asgi:application >"$WORK/daphne-$port.log" 2>&1 &
  pids+=($!)
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 1 90); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 1; done
done
# Peak resident memory per process, sampled every 2 s.
( while sleep 2; do ps -eo pid=,rss=,args= | grep -E "[q]cluster|[d]aphne"; done ) >"$WORK/rss.log" &
pids+=($!)

echo "==> warm-up: one search per web process"
.venv/bin/python scripts/loadtest.py --base-url "$BASES" --users 2 --searches 1 >/dev/null
echo "==> searches only"
.venv/bin/python scripts/loadtest.py --base-url "$BASES" --users 4 --searches 10 "$@"
echo "==> searches during a zip import, a re-index and a head training run"
.venv/bin/python scripts/loadtest.py --base-url "$BASES" --users 4 --searches 10 \
  --upload-zip "$WORK/new-photos.zip" --reindex --train --wait 1200 "$@"
echo "==> peak resident memory (MB)"
awk '{ if ($2 > peak[$1]) { peak[$1] = $2; what[$1] = $4 " " $5 } }
     END { for (p in peak) printf "%6d  %s (pid %s)\n", peak[p] / 1024, what[p], p }' \
  "$WORK/rss.log" | sort -n
