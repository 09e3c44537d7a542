"""Load: `bench/locustfile.py` run headless against a real `practica serve`, briefly.

A smoke test, not a benchmark: every documented route answers under concurrent traffic
without a single failed request, and moving the `production` alias back and forth under
load drops nothing.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ADMIN_TOKEN, Server

pytestmark = pytest.mark.e2e

LOCUSTFILE = Path(__file__).resolve().parents[2] / "bench" / "locustfile.py"
USERS = 8
# Routes the locustfile leaves alone: alias moves are admin actions, exercised below.
NOT_LOADED = {("PUT", "/v1/models/{name}/aliases/{alias}")}
MODEL = "titanic-survival"  # smoke training publishes v1 and v2 (modules 8 and 13)
MOVES_FOR_S = 10.0
# Between moves. A move loads the version again, which takes up to a second under this
# load on two cores, so ten seconds hold 7 to 20 moves.
MOVE_PAUSE_S = 0.5
# The `train` extra, which the serving image (where docker-compose runs locust) lacks.
TRAINING_LIBRARIES = ("torch", "transformers", "matplotlib", "mlxtend", "yaml", "onnx")


def start_locust(
    server: Server, out: Path, run_time_s: int, *options: str
) -> subprocess.Popen[str]:
    """Locust in its own process (gevent patches the interpreter it runs in)."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(USERS), "-r", str(USERS), "-t", f"{run_time_s}s", "--host", server.url,
        # The JSON file holds the final totals; `--csv` files are rewritten every second
        # and can miss the last requests.
        "--json-file", str(out / "stats"), "--exit-code-on-error", "1", "--only-summary",
        *options,
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out
    )


def finish(locust: subprocess.Popen[str], run_time_s: int) -> tuple[int, str]:
    # Generous: locust imports the catalog and reads the bundled data before it starts.
    output, _ = locust.communicate(timeout=run_time_s + 60)
    return locust.returncode, output


def request_counts(out: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(method, route) → (requests, failures), from locust's final statistics."""
    entries: list[dict[str, Any]] = json.loads((out / "stats.json").read_text())
    return {(e["method"], e["name"]): (e["num_requests"], e["num_failures"]) for e in entries}


def test_locustfile_imports_no_training_library() -> None:
    script = f"""
import runpy, sys
from service.import_guard import keep_training_libraries_out
keep_training_libraries_out()
runpy.run_path({str(LOCUSTFILE)!r})
print(sorted(set({TRAINING_LIBRARIES!r}) & set(sys.modules)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_locustfile_loads_every_route_without_a_failure(server: Server, tmp_path: Path) -> None:
    run_time_s = 15
    code, output = finish(start_locust(server, tmp_path, run_time_s), run_time_s)
    assert code == 0, f"locust reported failures or errors:\n{output[-6000:]}"

    counts = request_counts(tmp_path)
    assert sum(failures for _, failures in counts.values()) == 0, output[-6000:]
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    missed = sorted(routes - NOT_LOADED - {r for r, (n, _) in counts.items() if n > 0})
    assert not missed, f"routes without a request: {missed}"
    # Request names are documented routes, so the table above means what it says.
    assert set(counts) <= routes


def predictions_served(metrics: str, model: str) -> float:
    pattern = rf'^practica_predict_requests_total{{model="{re.escape(model)}",[^}}]*}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


def test_alias_moves_under_load_drop_no_request(server: Server, tmp_path: Path) -> None:
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    )
    with admin:
        assert admin.get(f"/v1/models/{MODEL}").json()["versions"] == [1, 2]
        # A bound only: the load is stopped once the alias has stopped moving.
        run_time_s = 60
        locust = start_locust(
            server, tmp_path, run_time_s,
            "--tags", MODEL, "--served-versions", str(tmp_path / "versions.json"),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while predictions_served(admin.get("/metrics").text, MODEL) == 0:
                assert locust.poll() is None, "locust ended before sending a request"
                assert time.monotonic() < deadline, "no prediction arrived in 60 s"
                time.sleep(0.2)
            moves, version = 0, 1
            stop = time.monotonic() + MOVES_FOR_S
            while time.monotonic() < stop:
                moved = admin.put(
                    f"/v1/models/{MODEL}/aliases/production", json={"version": version}
                )
                assert moved.status_code == 200, moved.text
                moves, version = moves + 1, 3 - version
                time.sleep(MOVE_PAUSE_S)
            assert locust.poll() is None, "the load ended before the alias stopped moving"
        finally:
            locust.terminate()  # locust stops its users, writes its statistics and exits
            code, output = finish(locust, run_time_s)

    assert code == 0, f"requests failed while the alias moved:\n{output[-6000:]}"
    requests, failures = request_counts(tmp_path)[("POST", f"/v1/models/{MODEL}/predict")]
    assert requests > 0
    assert failures == 0
    served = json.loads((tmp_path / "versions.json").read_text())[MODEL]
    assert moves >= 4  # there and back, twice
    assert set(served) == {"1", "2"}, f"answers per version: {served}"
    assert sum(served.values()) == requests
