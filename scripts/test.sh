#!/usr/bin/env bash
# Run Postern's whole test suite: lint, then pytest on SQLite, then on PostgreSQL.
#
# PostgreSQL is taken from TEST_DATABASE_URL (default postgresql://127.0.0.1:5432/test). Without
# a reachable server the PostgreSQL pass is reported as not run (and CI, where CI=true, fails).
# Browser tests need Debian's chromium at /usr/bin/chromium (installed here when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2
    exit 2
  fi
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --check .; exit 1; }

echo "== pytest on SQLite"
env -u TEST_DATABASE_URL .venv/bin/pytest -q -p no:cacheprovider "$@"

pg_url="${TEST_DATABASE_URL:-postgresql://127.0.0.1:5432/test}"
if .venv/bin/python - "$pg_url" <<'PY'
import sys
import psycopg
try:
    psycopg.connect(sys.argv[1].replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
except Exception:
    sys.exit(1)
PY
then
  echo "== pytest on PostgreSQL ($pg_url)"
  TEST_DATABASE_URL="$pg_url" .venv/bin/pytest -q -p no:cacheprovider "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL at $pg_url is not reachable, and CI requires the PostgreSQL pass." >&2
  exit 1
else
  echo "== PostgreSQL pass NOT RUN: no server at $pg_url (set TEST_DATABASE_URL to run it)."
fi
