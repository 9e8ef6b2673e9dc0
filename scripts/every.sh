#!/usr/bin/env bash
# Run a command every N seconds until stopped: what cron does in production, for `make run`.
# Usage: scripts/every.sh SECONDS COMMAND [ARG...]
#
# The sleep (and the command) run as a child this script waits for, and a TERM stops that
# child too.
# A bare `(while sleep 60; do ...; done) &` cannot: killing the subshell leaves its sleep
# running, an orphan, and a background job of a script ignores the terminal's Ctrl-C.
set -uo pipefail
seconds="$1"
shift
child=""
stop() {
  [ -n "$child" ] && kill "$child" 2>/dev/null
  exit 0
}
trap stop INT TERM
while :; do
  sleep "$seconds" &
  child=$!
  wait "$child"
  "$@" &
  child=$!
  wait "$child"
  child=""
done
