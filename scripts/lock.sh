#!/usr/bin/env bash
# Write requirements/*.lock: every distribution each install resolves to, pinned exactly,
# transitive ones included. Run after changing a pin in pyproject.toml; CI installs with
# requirements/dev.lock as constraints, the Dockerfile from serving.lock and train.lock.
#   serving.lock  practica[s3]                   the serving image
#   train.lock    practica[train,s3]             the trainer image
#   dev.lock      practica[dev,train,dvc,s3,aws] tests and CI (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}

lock() {  # lock NAME EXTRAS [PIP OPTIONS...]
  local report name=$1 extras=$2
  shift 2
  report=$(mktemp)
  "$python" -m pip install --quiet --dry-run --ignore-installed --report "$report" "$@" ".[$extras]"
  "$python" - "$report" "requirements/$name.lock" "$extras" <<'PY'
import json
import sys

report, target, extras = sys.argv[1:]
resolved = sorted(
    (item["metadata"]["name"].lower(), item["metadata"]["version"])
    for item in json.load(open(report))["install"]
    if item["metadata"]["name"].lower() != "practica"
)
with open(target, "w") as lock:
    lock.write(f"# practica[{extras}], resolved by scripts/lock.sh: do not edit by hand.\n")
    lock.writelines(f"{name}=={version}\n" for name, version in resolved)
PY
  rm -f "$report"
  echo "requirements/$name.lock: $(grep -vc '^#' "requirements/$name.lock") distributions"
}

# The images' locks are cut from the development one, so CI tests the versions they ship.
lock dev dev,train,dvc,s3,aws
lock serving s3 --constraint requirements/dev.lock
lock train train,s3 --constraint requirements/dev.lock
