#!/usr/bin/env bash
# Check every distribution of the locks against the known vulnerabilities of PyPI's
# advisory database (needs https://pypi.org; `--vulnerability-service osv` asks OSV).
# Fails on a vulnerable pin, and on a pin it could not check: nothing passes unaudited.
set -euo pipefail
cd "$(dirname "$0")/.."
for lock in requirements/*.lock; do
  echo "auditing $lock"
  .venv/bin/pip-audit --strict --no-deps --disable-pip --requirement "$lock" "$@"
done
