#!/usr/bin/env bash
# Run Postern's whole test suite: lint, then pytest on SQLite, then on PostgreSQL.
#
# PostgreSQL is taken from TEST_DATABASE_URL (default postgresql://127.0.0.1:5432/test). Without
# a reachable server the PostgreSQL pass is reported as not run (and CI, where CI=true, fails).
# Browser tests need Debian's chromium at /usr/bin/chromium (installed here when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

# Debian's chromium drives the browser tests; nginx is the production-like stack's TLS proxy;
# pg_dump dumps the PostgreSQL pass's database for the end-of-run card-number scan; promtool
# (Debian's prometheus package) tests the alert rules; pgbouncer fronts the pooling test.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v envsubst >/dev/null || missing+=(gettext-base)
command -v pg_dump >/dev/null || missing+=(postgresql-client)  # the PostgreSQL pass's dump scan
command -v promtool >/dev/null || missing+=(prometheus)  # promtool tests the alert rules
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)  # the transaction-pooling test
command -v npm >/dev/null || missing+=(nodejs npm)  # tests/oidc's OpenID Provider
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)  # private clusters: the key store, restarts
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's ${missing[*]} for the tests..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
      >/dev/null
  else
    echo "The tests need Debian's ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

# The single sign-on tests' OpenID Provider (tests/oidc): panva's oidc-provider from npm, at
# the versions its lock file pins, on the machine's Node.js (20 or later).
command -v npm >/dev/null || { echo "The tests need Node.js 20+ and npm (tests/oidc)." >&2; exit 2; }
npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --check .; exit 1; }

echo "== bandit (no medium or high finding)"
.venv/bin/bandit -q -c pyproject.toml -r portal config stripe_sandbox -ll

echo "== semgrep (local rules only, offline)"
semgrep_venv=.venv/semgrep
if [ ! -x "$semgrep_venv/bin/semgrep" ] || [ .semgrep/requirements.txt -nt "$semgrep_venv/bin/semgrep" ]; then
  python3 -m venv "$semgrep_venv"
  "$semgrep_venv/bin/pip" install --quiet --disable-pip-version-check -r .semgrep/requirements.txt
  touch "$semgrep_venv/bin/semgrep"
fi
export SEMGREP_ENABLE_VERSION_CHECK=0 SEMGREP_SEND_METRICS=off
for example in .semgrep/postern.py .semgrep/postern.html; do  # each rule against its examples
  "$semgrep_venv/bin/semgrep" --test --metrics=off --quiet --config .semgrep/postern.yml \
    "$example" >/dev/null
done
"$semgrep_venv/bin/semgrep" scan --config .semgrep/ --metrics=off --error --quiet --exclude .semgrep .

# The production-like stack (tests/prodlike: nginx, gunicorn, PostgreSQL, Redis, the workers)
# always runs on PostgreSQL, so its tests run once, in the PostgreSQL pass.
# Both passes run on pytest-xdist workers (POSTERN_TEST_WORKERS, default 2: one per core of the
# CI machine), a test file per worker at a time, so a file's module-level servers start once.
# Each worker has its own SQLite file, PostgreSQL database, Stripe sandbox, Chromium and
# production-like stack (tests/support/database.py, tests/prodlike/fixtures.py).
workers=(-n "${POSTERN_TEST_WORKERS:-2}" --dist loadfile)

echo "== pytest on SQLite (the production-like stack's tests run in the PostgreSQL pass)"
env -u TEST_DATABASE_URL .venv/bin/pytest -q -p no:cacheprovider "${workers[@]}" -m "not prodlike" "$@"

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
  # Browser tests against the development server ran in the SQLite pass, on the database that
  # server is meant for; here they run against the production-like stack (marked prodlike),
  # the deployed shape on PostgreSQL. Every other test runs on both databases.
  echo "== pytest on PostgreSQL ($pg_url)"
  TEST_DATABASE_URL="$pg_url" .venv/bin/pytest -q -p no:cacheprovider "${workers[@]}" \
    -m "not browser or prodlike or postgres" "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL at $pg_url is not reachable, and CI requires the PostgreSQL pass." >&2
  exit 1
else
  echo "== PostgreSQL pass NOT RUN: no server at $pg_url (set TEST_DATABASE_URL to run it)."
fi
