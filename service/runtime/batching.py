"""Adaptive micro-batching: concurrent requests for one model run as one call.

A network's call has a fixed cost (kernel launches, thread wake-ups, the Python around
it) that a batch shares. The batcher runs one call at a time. A request that finds the
model idle runs at once (after at most `max_wait_ms` for company, 0 by default), alone;
requests that arrive while a call runs queue up and go together, up to `max_items`
instances, as soon as it returns. So batches grow with the load, and a lone client
never waits for one.

- A request is never split and its results are never mixed with another's: the call's
  outputs are cut back into each request's slice, in order.
- Requests are grouped by a key (a text's length bucket): padding a short headline to a
  long one costs more than batching gains.
- If a batch fails, each of its requests runs alone, so one bad item fails only its own
  request.
- A request whose client went away (its future cancelled) is dropped before the call
  and ignored after it.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from training import BatchPolicy

logger = logging.getLogger(__name__)

RunBatch = Callable[[Sequence[Any]], list[Any]]


@dataclass
class _Job:
    instances: Sequence[Any]
    future: asyncio.Future[list[Any]]
    arrived: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Batches the requests of one predictor; `submit` from the event loop only."""

    def __init__(
        self,
        run_batch: RunBatch,
        policy: BatchPolicy,
        *,
        group_key: Callable[[Any], Hashable] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._policy = policy
        self._group_key = group_key
        self._on_batch = on_batch
        self._queues: OrderedDict[Hashable, deque[_Job]] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, instances: Sequence[Any]) -> list[Any]:
        """The predictions for `instances`, computed in some batch with other requests."""
        job = _Job(instances, asyncio.get_running_loop().create_future())
        key = self._group_key(instances[0]) if self._group_key is not None else None
        self._queues.setdefault(key, deque()).append(job)
        self._wakeup.set()
        if self.is_idle:
            self._worker = asyncio.create_task(self._work())
        return await job.future

    @property
    def is_idle(self) -> bool:
        """No call running and nothing queued: the worker has exited."""
        return self._worker is None or self._worker.done()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        # Runs while there is work and then exits (`submit` starts it again), so an idle
        # batcher, such as one of a version swapped out, holds no task.
        while any(self._queues.values()):
            key, queue = self._oldest_queue()
            deadline = queue[0].arrived + self._policy.max_wait_ms / 1000
            while self._items(queue) < self._policy.max_items:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
            batch = self._take(queue)
            if not queue:
                del self._queues[key]
            if batch:
                await self._run(batch)

    def _oldest_queue(self) -> tuple[Hashable, deque[_Job]]:
        return min(
            ((key, queue) for key, queue in self._queues.items() if queue),
            key=lambda item: item[1][0].arrived,
        )

    @staticmethod
    def _items(queue: deque[_Job]) -> int:
        return sum(len(job.instances) for job in queue)

    def _take(self, queue: deque[_Job]) -> list[_Job]:
        """Requests from the front while they fit; the first one always goes."""
        batch: list[_Job] = []
        items = 0
        while queue:
            job = queue[0]
            if job.future.done():  # its client went away
                queue.popleft()
                continue
            if batch and items + len(job.instances) > self._policy.max_items:
                break
            batch.append(queue.popleft())
            items += len(job.instances)
        return batch

    async def _run(self, batch: list[_Job]) -> None:
        instances = [instance for job in batch for instance in job.instances]
        if self._on_batch is not None:
            self._on_batch(len(instances))
        try:
            outputs = await run_in_threadpool(self._run_batch, instances)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error=error)
                return
            # Someone's item broke the batch: run each request alone to find whose.
            for job in batch:
                await self._run([job])
            return
        start = 0
        for job in batch:
            end = start + len(job.instances)
            _settle(job, result=outputs[start:end])
            start = end


def _settle(job: _Job, *, result: list[Any] | None = None, error: Exception | None = None) -> None:
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result or [])
