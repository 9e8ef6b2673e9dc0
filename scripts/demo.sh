#!/usr/bin/env bash
# Set up and start Postern on the embedded default: SQLite under instance/, the offline Stripe
# sandbox, and the development outbox. Prints where to go and how to sign in. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt

export FLASK_APP=wsgi.py POSTERN_ENV=development
host=127.0.0.1
port="${POSTERN_PORT:-5000}"
sandbox_port="${STRIPE_SANDBOX_PORT:-12111}"
export POSTERN_PUBLIC_BASE_URL="http://$host:$port"
export STRIPE_API_BASE="http://$host:$sandbox_port" STRIPE_JS_URL="http://$host:$sandbox_port/v3/"
mkdir -p instance

# Alembic logs a line per migration at INFO: keep them in a log, show them only if it fails.
echo "Preparing the database (instance/postern.sqlite3)..."
if ! .venv/bin/flask db upgrade >instance/migrate.log 2>&1; then
  cat instance/migrate.log >&2
  exit 1
fi
echo
.venv/bin/flask demo seed

pids=()
# Stop every helper started below, and wait for them, on any way out (Ctrl-C included).
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

.venv/bin/python -m stripe_sandbox --host "$host" --port "$sandbox_port" \
  --webhook-url "http://$host:$port/webhooks/stripe" \
  --webhook-secret "${STRIPE_WEBHOOK_SECRET:-whsec_dev-only-webhook-secret}" \
  --allowed-frame-ancestors "http://$host:$port" >instance/stripe-sandbox.log 2>&1 &
pids+=($!)

# The outbox worker sends queued link messages (to the development outbox page here).
.venv/bin/flask outbox work >instance/outbox-worker.log 2>&1 &
pids+=($!)
# The webhook worker applies the Stripe events the webhook endpoint has queued.
.venv/bin/flask webhooks work >instance/webhook-worker.log 2>&1 &
pids+=($!)
.venv/bin/flask hooks work >instance/hooks-worker.log 2>&1 &
pids+=($!)
# The audit sealer. Here, on SQLite, each commit seals its own audit rows (POSTERN_AUDIT_SEAL is
# "inline" in development), so it finds nothing to do unless that is set to "worker".
.venv/bin/flask audit seal >instance/audit-sealer.log 2>&1 &
pids+=($!)
# What cron does in production: repair anything a lost webhook left behind, every minute.
# (scripts/every.sh stops its own sleep when stopped: a bare `while sleep 60` loop left an
# orphaned sleep behind after Ctrl-C.)
scripts/every.sh 60 .venv/bin/flask payments reconcile >>instance/reconcile.log 2>&1 &
pids+=($!)

cat <<MSG

Postern is starting on the embedded default (SQLite, Stripe sandbox, development outbox).
  Open:           http://$host:$port/login
  Sign in with:   one of the accounts above. Every account with "MFA: on" asks for a code
                  after the password: add its TOTP secret to an authenticator app, or print
                  the current code with  .venv/bin/flask demo code office.olu  (any username)
  Refunds:        a refund above the dual-control limit waits for a second back-office
                  person: ask as office.olu, approve as office.pat
  Messages sent:  http://$host:$port/dev/outbox  (the development outbox: every SMS and
                  email "sent", with its link; also under "Development outbox" once signed in)
  Stripe sandbox: http://$host:$sandbox_port  (log: instance/stripe-sandbox.log)
  Ports:          POSTERN_PORT=$port, STRIPE_SANDBOX_PORT=$sandbox_port (set either to change it)
Press Ctrl-C to stop.

MSG
POSTERN_BIND="$host:$port" POSTERN_WORKERS=1 .venv/bin/gunicorn -c config/gunicorn.conf.py wsgi:app
