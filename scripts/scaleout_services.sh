#!/usr/bin/env bash
# Start PostgreSQL and Redis on loopback for the scale-out test profile (CI and developers).
# Prints the environment to use; idempotent. Needs root (or sudo) for apt and for postgres.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql redis-server >/dev/null
fi

PG_VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! $SUDO pg_lsclusters -h | grep -q "^$PG_VERSION main"; then
  $SUDO pg_createcluster "$PG_VERSION" main >/dev/null
fi
$SUDO pg_ctlcluster "$PG_VERSION" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  as_postgres psql -qtAc "SELECT 1" >/dev/null 2>&1 && break
  sleep 1
done
as_postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='psbir'" | grep -q 1 ||
  as_postgres psql -qc "CREATE ROLE psbir LOGIN PASSWORD 'psbir' CREATEDB" >/dev/null
as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='psbir'" | grep -q 1 ||
  as_postgres createdb -O psbir psbir

REDIS_PORT=${PSBIR_TEST_REDIS_PORT:-6390}
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 20); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

echo "export DATABASE_URL=postgres://psbir:psbir@127.0.0.1:5432/psbir"
echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
