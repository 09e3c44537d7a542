"""What a model call costs, measured when a version loads, and what the server makes of it.

A call expected to take under `INLINE_BUDGET_S` runs on the event loop, and concurrent
requests for such a model share one call: a compiled model's call is mostly fixed cost
(crossing into ONNX Runtime, building arrays, the Python around it), which a batch pays
once. titanic-survival, for instance, answered one passenger in 335 µs and sixteen in
814 µs (in process, one core).
"""

import time

from training import Predictor

INLINE_BUDGET_S = 1e-3
"""A call expected to take less runs on the event loop. On a busy loop a thread-pool hop
costs far more than handing the call over: the worker thread waits for the GIL while
the loop parses other requests, and a core switches between the two. Measured over HTTP
on one core, loan-default (a 70 µs graph) served 2,150 requests/s through the pool and
3,300 on the loop. Other requests wait for a call on the loop: a millisecond at most."""

MAX_COALESCED_ITEMS = 256
"""The most instances one call on the loop takes, whatever the measurements say."""

_MEASURED_BATCH = 16


def measured_call_s(predictor: Predictor, calls: int = 3) -> float:
    """The fastest of a few calls on the model's example: what one instance costs.

    It decides whether a request's call may run on the event loop (see `Inference`), and
    warms the model up before the first request. A model the example fails on is never
    run there.
    """
    return _fastest(predictor, 1, calls)


def measured_item_s(predictor: Predictor, call_s: float, calls: int = 3) -> float:
    """What each instance after the first adds to a call: a batch of copies of the
    example, timed as `measured_call_s` times one."""
    batch_s = _fastest(predictor, _MEASURED_BATCH, calls)
    return max(batch_s - call_s, 0.0) / (_MEASURED_BATCH - 1)


def coalesced_items(predictor: Predictor) -> int:
    """How many instances one call on the event loop may take and stay within
    `INLINE_BUDGET_S`, by the costs measured at load (1: the model is not batched)."""
    spare_s = INLINE_BUDGET_S - predictor.call_s
    if spare_s <= 0:
        return 1
    if predictor.item_s <= spare_s / MAX_COALESCED_ITEMS:
        return MAX_COALESCED_ITEMS
    return 1 + int(spare_s / predictor.item_s)


def _fastest(predictor: Predictor, size: int, calls: int) -> float:
    batch = [predictor.spec.example_input] * size
    fastest = float("inf")
    for _ in range(calls):
        started = time.perf_counter()
        try:
            predictor.predict(batch)
        except Exception:  # the first real request will say what is wrong
            return float("inf")
        fastest = min(fastest, time.perf_counter() - started)
    return fastest
