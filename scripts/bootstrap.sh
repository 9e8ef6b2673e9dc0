#!/usr/bin/env bash
# Create .venv (if missing) and install Postern's pinned dependencies into it. Idempotent.
# Usage: scripts/bootstrap.sh [requirements-file]   (default: requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
# pip is quiet and the first install takes minutes: say what is happening, so nobody waiting
# at a silent terminal thinks it has hung.
if [ ! -x .venv/bin/python ]; then
  echo "Creating the Python environment in .venv/ ..."
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi
stamp=".venv/.installed-$(basename "$requirements")"
if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  echo "Installing dependencies from $requirements (the first run takes a few minutes)..."
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
  echo "Dependencies installed."
fi
