"""Tallied observations reach the exposition exactly as prometheus_client's own would."""

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from service import metrics as metrics_module
from service.metrics import LATENCY_BUCKETS, ServiceMetrics

# On a bucket's bound, between bounds, beyond the last one, zero: where `observe` puts each.
SECONDS = [0.0, 0.0005, 0.0007, 0.001, 0.3, 2.5, 7.0, 0.0005]


def reference_exposition(seconds: list[float]) -> list[str]:
    """The request metrics' lines as prometheus_client writes them when observed directly."""
    registry = CollectorRegistry()
    requests = Counter(
        "practica_http_requests", "", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "practica_http_request_duration_seconds", "", ["route"], buckets=LATENCY_BUCKETS,
        registry=registry,
    )  # fmt: skip
    for value in seconds:
        requests.labels("POST", "/r", "200").inc()
        latency.labels("/r").observe(value)
    return samples(generate_latest(registry), "practica_http_request")


def samples(exposition: bytes, prefix: str) -> list[str]:
    return sorted(
        line
        for line in exposition.decode().splitlines()
        if line.startswith(prefix) and "_created" not in line
    )


def test_observations_on_the_loop_are_exposed_as_observed() -> None:
    metrics = ServiceMetrics()

    async def serve() -> None:
        for value in SECONDS:
            metrics.observe_request("POST", "/r", 200, value)

    asyncio.run(serve())
    exposition = samples(metrics.exposition(), "practica_http_request")
    assert exposition == reference_exposition(SECONDS)
    assert 'practica_http_requests_total{method="POST",route="/r",status="200"} 8.0' in exposition


def test_observations_reach_prometheus_client_without_a_scrape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another worker's scrape reads this one's values from its files: they are handed
    over after `FLUSH_AFTER_S`, not only when this worker is scraped."""
    monkeypatch.setattr(metrics_module, "FLUSH_AFTER_S", 0.01)
    metrics = ServiceMetrics()
    stored: list[float | None] = []

    async def serve() -> None:
        metrics.observe_prediction("iris-pca", "ok", 0.002)
        metrics.batch_observer("iris-pca")(3)
        stored.append(sample(metrics, "practica_predict_requests_total"))
        await asyncio.sleep(0.1)
        stored.append(sample(metrics, "practica_predict_requests_total"))
        stored.append(sample(metrics, "practica_batch_size_sum"))

    asyncio.run(serve())
    assert stored == [0.0, 1.0, 3.0]


def sample(metrics: ServiceMetrics, name: str) -> float | None:
    """A value as prometheus_client holds it (read without flushing the tally)."""
    value = metrics.registry.get_sample_value(name, {"model": "iris-pca", "outcome": "ok"})
    return (
        value
        if value is not None
        else metrics.registry.get_sample_value(name, {"model": "iris-pca"})
    )


def test_observations_outside_a_loop_are_handed_over_at_once() -> None:
    metrics = ServiceMetrics()
    metrics.observe_prediction("iris-pca", "rejected")
    value = metrics.registry.get_sample_value(
        "practica_predict_requests_total", {"model": "iris-pca", "outcome": "rejected"}
    )
    assert value == 1.0


def test_workers_files_add_up_to_what_each_observed(tmp_path: Path) -> None:
    """In multiprocess mode the histogram's values are files: two processes' tallies,
    handed over in bulk, add up in the exposition as if observed one by one."""
    script = textwrap.dedent(f"""
        import asyncio
        from service.metrics import ServiceMetrics

        async def serve():
            metrics = ServiceMetrics()
            for value in {SECONDS!r}:
                metrics.observe_request("POST", "/r", 200, value)
            metrics.flush()

        asyncio.run(serve())
    """)
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], env=environment, check=True)
    exposition = subprocess.run(
        [sys.executable, "-c", "import sys; from service.metrics import ServiceMetrics; "
         "sys.stdout.buffer.write(ServiceMetrics().exposition())"],
        env=environment, check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert samples(exposition, "practica_http_request") == [
        line.replace("8.0", "16.0") if "_total" in line else line
        for line in reference_exposition(SECONDS + SECONDS)
    ]
