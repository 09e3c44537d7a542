"""`practica serve --workers 2`: two processes behind one port, counted as one server."""

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from service.metrics import FLUSH_AFTER_S
from tests.e2e.conftest import free_port, practica_command, wait_until_ready

pytestmark = pytest.mark.e2e

IRIS = {
    "sepal_length_cm": 5.1,
    "sepal_width_cm": 3.5,
    "petal_length_cm": 1.4,
    "petal_width_cm": 0.2,
}
COUNTED = re.compile(
    r'^practica_predict_requests_total\{model="iris-pca",outcome="ok"\} ([0-9.e+]+)$', re.M
)


def test_metrics_add_up_every_workers_requests(trained_home: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PRACTICA_HOME": str(trained_home)}
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*practica_command(), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, timeout_s=120)
        for _ in range(40):  # a connection each: the kernel spreads them over the workers
            answer = httpx.post(f"{url}/v1/models/iris-pca/predict", json={"instances": [IRIS]})
            assert answer.status_code == 200
        # Each worker hands its tallies to the shared files within FLUSH_AFTER_S.
        time.sleep(FLUSH_AFTER_S + 0.5)
        for _ in range(6):  # whichever worker answers the scrape, it counts all 40
            scraped = httpx.get(f"{url}/metrics").text
            assert [float(v) for v in COUNTED.findall(scraped)] == [40.0], scraped[-2000:]
    finally:
        process.terminate()
        process.wait(timeout=30)
