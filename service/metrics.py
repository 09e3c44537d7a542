"""Prometheus metrics, in a registry of the app's own so several apps can share a process.

With several worker processes (`practica serve --workers N`) each would count only the
requests it answered, and `/metrics`, answered by whichever worker the connection reached,
would show a different fraction on every scrape. `practica serve` then sets
PROMETHEUS_MULTIPROC_DIR before the workers start: prometheus_client keeps every value in
a file of that folder, and the exposition adds up all workers' files.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "practica_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "practica_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "practica_predict_requests",
            "Prediction requests per model and outcome",
            ["model", "outcome"],
            registry=self.registry,
        )
        self.predict_latency = Histogram(
            "practica_predict_duration_seconds",
            "Inference time per model (validation excluded)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "practica_predict_errors",
            "Error responses of predict routes per model and status",
            ["model", "status"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "practica_batch_size",
            "Instances per model call of the micro-batcher, per model",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.serving_version = Gauge(
            "practica_serving_version",
            "Version each model serves by default",
            ["model"],
            registry=self.registry,
            multiprocess_mode="livemostrecent",  # the workers agree; the latest move wins
        )

    def exposition(self) -> bytes:
        """The text format of every metric: this process's, or all workers' together."""
        if os.environ.get(MULTIPROCESS_DIR):
            combined = CollectorRegistry()
            MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            return generate_latest(combined)
        return generate_latest(self.registry)
