"""The one inference path: every route that predicts (typed REST, SageMaker, OIP V2,
/classify, /recommend) calls `Inference.infer` and only adapts its input and output.

Lookup, pinned-version loading, batching, metrics and the thread-pool call live here
once. A request makes at most one thread-pool hop, the model call (or, when batched, the
batch's call it shares), and none when the call costs less than the hop would: a model
answering in microseconds (PCA, a linear model, a compiled graph) runs on the event loop,
and the requests for it that arrive together share one call (see `call_costs`).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from service.metrics import ServiceMetrics
from service.runtime.batching import MicroBatcher
from service.runtime.call_costs import INLINE_BUDGET_S, coalesced_items
from service.runtime.loaded_models import LoadedModels
from training import BatchPolicy, PredictionError, Predictor

LARGE_ANSWER_OUTPUTS = 64
LARGE_BODY_BYTES = 64 * 1024
"""A body over this is parsed and validated in the thread pool (~1 ms of work and more)."""

T = TypeVar("T")


async def off_loop_when(is_large: bool, work: Callable[[], T]) -> T:
    """`work()`, in the thread pool when it is large (a big body to parse, a big answer to
    write), so that the event loop goes on serving other requests meanwhile."""
    return await run_in_threadpool(work) if is_large else work()


class InferenceTimeoutError(Exception):
    """A model call that did not answer in time; the request gets a 504.

    A thread cannot be stopped: the call runs on and its answer is dropped. The timeout
    frees the client and the connection, and says which model is too slow for its batch.
    """

    def __init__(self, name: str, timeout_s: float) -> None:
        super().__init__(
            f"model {name!r} did not answer within {timeout_s:g} s "
            "(PRACTICA_INFERENCE_TIMEOUT_S): send fewer instances per request, or retry"
        )
        self.name = name


class WorkBudgetError(Exception):
    """A request asking a model for more work than one request may (`ModelSpec.max_work`)."""

    def __init__(self, name: str, asked: int, budget: int, unit: str) -> None:
        super().__init__(
            f"this request asks {name} for {asked:,} {unit}; one request may ask for at most "
            f"{budget:,}: split it into smaller requests"
        )


@dataclass(frozen=True)
class InferenceResult:
    model: str
    version: int
    outputs: list[Any]
    is_large: bool = False
    """Many outputs, or more than a tenth of the model's work budget (long trajectories,
    large tables): an answer worth serialising off the event loop."""


class Inference:
    """Runs validated instances through the predictor a request means."""

    def __init__(
        self,
        models: LoadedModels,
        metrics: ServiceMetrics,
        *,
        policies: dict[str, BatchPolicy] | None = None,
        batching: bool = True,
        timeout_s: float | None = None,
    ) -> None:
        self.models = models
        self._timeout_s = timeout_s
        self._metrics = metrics
        self._policies = {
            name: (policies or {}).get(name, spec.batch_policy)
            for name, spec in models.specs.items()
        }
        self._batching = batching
        self._batchers: dict[tuple[str, int], tuple[Predictor, MicroBatcher]] = {}

    def policy(self, name: str) -> BatchPolicy:
        return self._policies[name]

    async def infer(
        self,
        name: str,
        instances: Sequence[Any],
        *,
        version: int | None = None,
        alias: str | None = None,
    ) -> InferenceResult:
        work_share = self._check_work(name, instances)
        predictor = self.models.lookup(name, version, alias)
        if predictor is None:
            predictor = await run_in_threadpool(self.models.load_pinned, name, version, alias)
        started = time.perf_counter()
        try:
            outputs = await self._execute(name, predictor, instances)
        except PredictionError:
            self._metrics.observe_prediction(name, "rejected")
            raise
        self._metrics.observe_prediction(name, "ok", time.perf_counter() - started)
        is_large = len(outputs) > LARGE_ANSWER_OUTPUTS or work_share > 0.1
        return InferenceResult(name, predictor.version, outputs, is_large)

    def _check_work(self, name: str, instances: Sequence[Any]) -> float:
        """The share of the model's work budget the instances ask for (0 without one)."""
        spec = self.models.specs.get(name)
        if spec is None or spec.max_work is None:
            return 0.0  # an unknown name is the lookup's to refuse
        asked = sum(spec.work(instance) for instance in instances)
        if asked > spec.max_work:
            raise WorkBudgetError(name, asked, spec.max_work, spec.work_unit)
        return asked / spec.max_work

    async def _execute(
        self, name: str, predictor: Predictor, instances: Sequence[Any]
    ) -> list[Any]:
        policy = self._policies[name]
        if self._batching and policy.is_enabled:
            batcher = self._batcher(name, predictor, runs_inline=False)
            return await self._in_time(name, batcher.submit(instances))
        if predictor.call_s * len(instances) > INLINE_BUDGET_S:
            return await self._in_time(name, run_in_threadpool(predictor.predict, instances))
        # Cheaper than a hop: on the event loop, shared with the requests that came with it.
        if not self._batching or coalesced_items(predictor) == 1:
            return predictor.predict(instances)  # nothing to share, and nothing to time out
        return await self._batcher(name, predictor, runs_inline=True).submit(instances)

    def _batcher(self, name: str, predictor: Predictor, *, runs_inline: bool) -> MicroBatcher:
        key = (name, predictor.version)
        entry = self._batchers.get(key)
        if entry is None or entry[0] is not predictor:
            self._forget_unloaded()
            batcher = MicroBatcher(
                predictor.predict,
                # On the loop: as many instances as the load measured to fit the budget.
                BatchPolicy(coalesced_items(predictor)) if runs_inline else self._policies[name],
                group_key=predictor.spec.batch_group,
                on_batch=self._metrics.batch_observer(name),
                runs_inline=runs_inline,
            )
            entry = self._batchers[key] = (predictor, batcher)
        return entry[1]

    async def _in_time(self, name: str, call: Awaitable[list[Any]]) -> list[Any]:
        """The call's answer, or InferenceTimeoutError once the timeout has passed."""
        if self._timeout_s is None:
            return await call
        try:
            return await asyncio.wait_for(call, self._timeout_s)
        except TimeoutError:
            self._metrics.observe_prediction(name, "timed_out")
            raise InferenceTimeoutError(name, self._timeout_s) from None

    def _forget_unloaded(self) -> None:
        """Drop the idle batchers of predictors that were swapped out or evicted.

        A batcher holds its predictor, so keeping it would keep the version in memory.
        """
        for key, (predictor, batcher) in list(self._batchers.items()):
            if batcher.is_idle and not self.models.holds(predictor):
                del self._batchers[key]

    async def close(self) -> None:
        for _, batcher in self._batchers.values():
            await batcher.close()
