#!/usr/bin/env bash
# Mutation testing of the security-critical modules (docs/mutation.md), then a score per module.
#
# Usage: scripts/mutation.sh [mutant-name glob ...]
#   scripts/mutation.sh                           every module in [tool.mutmut] only_mutate
#   scripts/mutation.sh 'portal.refunds.service*' one module (its mutants are re-run)
#
# mutmut copies the tree to mutants/ and keeps its results there between runs: a second run
# only tries mutants of functions that changed since. `rm -rf mutants/` starts afresh.
# Not part of `make test` or CI: a full run takes tens of minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

# SQLite, like the rest of the fast suite: the mutants never need PostgreSQL or Redis.
unset TEST_DATABASE_URL
# The same hypothesis examples on every run (the "ci" profile in tests/conftest.py), so that a
# mutant's verdict does not depend on which random inputs a run happened to draw.
export CI=true
# Logs and screenshots of the mutant runs stay inside mutants/, away from the real suite's.
export POSTERN_TEST_ARTIFACTS="$PWD/mutants/_artifacts"
mkdir -p "$POSTERN_TEST_ARTIFACTS"

children="${MUTATION_JOBS:-2}"
.venv/bin/mutmut run --max-children "$children" "$@" || status=$?
echo
.venv/bin/python scripts/mutation_scores.py --survivors
exit "${status:-0}"
