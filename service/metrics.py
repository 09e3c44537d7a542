"""Prometheus metrics, in a registry of the app's own so several apps can share a process.

With several worker processes (`practica serve --workers N`) each would count only the
requests it answered, and `/metrics`, answered by whichever worker the connection reached,
would show a different fraction on every scrape. `practica serve` then sets
PROMETHEUS_MULTIPROC_DIR before the workers start: prometheus_client keeps every value in
a file of that folder, and the exposition adds up all workers' files.
"""

import os
from typing import Any

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

        # Labelled children, looked up once: `labels()` checks and locks on every call.
        self._request_children: dict[tuple[str, str, int], list[Any]] = {}
        self._prediction_children: dict[tuple[str, str], Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request answered by `route` (its path template) and time it."""
        children = self._request_children.get((method, route, status))
        if children is None:
            children = [
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            ]
            # A model's own predict route; not the catch-all of unknown names.
            is_predict = route.startswith("/v1/models/") and route.endswith("/predict")
            if status >= 400 and is_predict and "{" not in route:
                children.append(self.errors.labels(route.split("/")[3], str(status)))
            self._request_children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)
        if len(children) > 2:
            children[2].inc()

    def observe_prediction(self, model: str, outcome: str, seconds: float | None = None) -> None:
        """Count a prediction by outcome (`ok`, `rejected`, `timed_out`); time an `ok` one."""
        key = (model, outcome)
        counter = self._prediction_children.get(key)
        if counter is None:
            counter = self._prediction_children[key] = self.predictions.labels(model, outcome)
        counter.inc()
        if seconds is not None:
            timer = self._prediction_children.get((model, ""))
            if timer is None:
                timer = self._prediction_children[(model, "")] = self.predict_latency.labels(model)
            timer.observe(seconds)

    def exposition(self) -> bytes:
        """The text format of every metric: this process's, or all workers' together."""
        if os.environ.get(MULTIPROCESS_DIR):
            combined = CollectorRegistry()
            MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            return generate_latest(combined)
        return generate_latest(self.registry)
