"""Prometheus metrics, in a registry of the app's own so several apps can share a process.

With several worker processes (`practica serve --workers N`) each would count only the
requests it answered, and `/metrics`, answered by whichever worker the connection reached,
would show a different fraction on every scrape. `practica serve` then sets
PROMETHEUS_MULTIPROC_DIR before the workers start: prometheus_client keeps every value in
a file of that folder, and the exposition adds up all workers' files.

A request's observations are tallied in plain Python (`_Tally`) and handed to
prometheus_client in bulk: before each exposition, and a second after the first
observation that found nothing pending, so that the other workers' files are at most a
second behind. prometheus_client takes a lock for every increment, and a request made
eight: ~8 µs of a ~80 µs prediction over HTTP.
"""

import asyncio
import bisect
import os
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


FLUSH_AFTER_S = 1.0
"""How long an observation may wait for its metric's value to be updated."""


class _Tally:
    """Counter increments and histogram observations added up until `flush` hands them to
    their prometheus_client children, a child's increments and each bucket's count in
    one call each.

    Observations and flushes come from the event loop; the lock, uncontended there,
    keeps a flush from any other thread from losing an observation.
    """

    def __init__(self) -> None:
        self._counts: dict[Any, float] = {}  # counter child -> increments
        self._observed: dict[Any, list[float]] = {}  # histogram child -> [sum, per bucket]
        self._timer: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()

    def inc(self, counter: Any) -> None:
        with self._lock:
            self._counts[counter] = self._counts.get(counter, 0.0) + 1.0
        if self._timer is None:
            self._schedule()

    def observe(self, histogram: Any, value: float) -> None:
        # The first bucket whose upper bound is at least the value, as `observe` finds it.
        bucket = 1 + bisect.bisect_left(histogram._upper_bounds, value)
        with self._lock:
            pending = self._observed.get(histogram)
            if pending is None:
                pending = self._observed[histogram] = [0.0] * (1 + len(histogram._upper_bounds))
            pending[0] += value
            pending[bucket] += 1.0
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # observed outside a loop: nothing would flush it later
            self.flush()
            return
        self._timer = loop.call_later(FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
            observed, self._observed = self._observed, {}
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        for counter, amount in counts.items():
            counter.inc(amount)
        # prometheus_client has no public call adding many observations: its histogram
        # child keeps a value for the sum and one per bucket (tests/unit/service/
        # test_metrics.py checks the exposition against the values observed).
        for histogram, (total, *buckets) in observed.items():
            histogram._sum.inc(total)
            for bucket, count in zip(histogram._buckets, buckets, strict=True):
                if count:
                    bucket.inc(count)


class ServiceMetrics:
    def __init__(self) -> None:
        self._tally = _Tally()
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
        self._tally.inc(children[0])
        self._tally.observe(children[1], seconds)
        if len(children) > 2:
            self._tally.inc(children[2])

    def observe_prediction(self, model: str, outcome: str, seconds: float | None = None) -> None:
        """Count a prediction by outcome (`ok`, `rejected`, `timed_out`); time an `ok` one."""
        key = (model, outcome)
        counter = self._prediction_children.get(key)
        if counter is None:
            counter = self._prediction_children[key] = self.predictions.labels(model, outcome)
        self._tally.inc(counter)
        if seconds is not None:
            timer = self._prediction_children.get((model, ""))
            if timer is None:
                timer = self._prediction_children[(model, "")] = self.predict_latency.labels(model)
            self._tally.observe(timer, seconds)

    def batch_observer(self, model: str) -> Callable[[int], None]:
        """What records the size of each model call of `model`."""
        histogram = self.batch_size.labels(model)
        return lambda size: self._tally.observe(histogram, size)

    def flush(self) -> None:
        """Hand the tallied observations to prometheus_client (which the exposition does)."""
        self._tally.flush()

    def exposition(self) -> bytes:
        """The text format of every metric: this process's, or all workers' together."""
        self._tally.flush()
        if os.environ.get(MULTIPROCESS_DIR):
            combined = CollectorRegistry()
            MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            return generate_latest(combined)
        return generate_latest(self.registry)
