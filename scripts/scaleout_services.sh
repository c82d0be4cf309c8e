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

# pgvector (vectors in PostgreSQL for the scale-out profile; docs/deploy.md). Debian's
# PostgreSQL here has no pgvector package, so it is built once from the upstream source that
# lies beside the checkout (../shared/vendor, PostgreSQL licence, never committed): ~10 s.
PGVECTOR_VERSION=0.8.6
PGVECTOR_SOURCE=${PGVECTOR_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)/shared/vendor/pgvector-$PGVECTOR_VERSION.tar.gz}
PG_SHAREDIR=/usr/share/postgresql/$PG_VERSION
if [ ! -f "$PG_SHAREDIR/extension/vector--$PGVECTOR_VERSION.sql" ]; then
  if [ ! -f "$PGVECTOR_SOURCE" ]; then
    echo "pgvector $PGVECTOR_VERSION is not installed and $PGVECTOR_SOURCE is missing" >&2
    exit 1
  fi
  if [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/pg_config" ] || ! dpkg -s "postgresql-server-dev-$PG_VERSION" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-server-dev-$PG_VERSION" >/dev/null
  fi
  build=$(mktemp -d)
  tar -xzf "$PGVECTOR_SOURCE" -C "$build"
  (cd "$build/pgvector-$PGVECTOR_VERSION" &&
    make -s OPTFLAGS="" PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" >/dev/null &&
    $SUDO make -s install PG_CONFIG="/usr/lib/postgresql/$PG_VERSION/bin/pg_config" >/dev/null)
  rm -rf "$build"
fi
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
# The extension in the database and in template1, which Django's test databases copy.
for db in psbir template1; do
  as_postgres psql -q -d "$db" -c "SET client_min_messages = warning" \
    -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
done

REDIS_PORT=${PSBIR_TEST_REDIS_PORT:-6390}
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 20); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

echo "export DATABASE_URL=postgres://psbir:psbir@127.0.0.1:5432/psbir"
echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
