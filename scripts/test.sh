#!/usr/bin/env bash
# Install Practica with its training libraries and development tools, then run every
# check CI runs: lint, format, strict typing, import layering, and the whole test suite
# (the quality floors of every model included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Constrained by the lock, so CI tests the transitive versions the images install.
.venv/bin/python -m pip install --quiet --constraint requirements/dev.lock -e ".[dev,train,dvc,s3,aws]"

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/pytest "$@"
