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

A batcher that `runs_inline` makes its calls on the event loop, in a callback scheduled
by the first request of a turn, instead of in the thread pool: for models cheaper than
the hop. It batches the requests that reach the model in the same turn of the loop, and
while each turn brings more, it waits another (`INLINE_WAIT_TURNS` at most): a turn is
one look at the sockets, microseconds when nothing else is due. A lone client's request
brings no company, so its call runs in the next turn.
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

INLINE_WAIT_TURNS = 1
"""How many more turns of the loop an inline call waits while requests keep joining it.
Measured over HTTP on one core with 8 clients, two runs each, titanic-survival served
2,479 and 2,945 requests/s calling in the first turn (2.8 and 2.5 passengers a call on
average), 3,960 and 4,040 waiting one more turn (5.3 and 5.1), and 3,668 and 2,786
waiting up to three (5.6 and 5.1): one turn brings most of the company there is."""


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
        runs_inline: bool = False,
    ) -> None:
        self._run_batch = run_batch
        self._policy = policy
        self.runs_inline = runs_inline
        self._group_key = group_key
        self._on_batch = on_batch
        self._queues: OrderedDict[Hashable, deque[_Job]] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._inline_items = 0  # instances queued for the inline call that is due (0: none)
        self._inline_seen = 0  # of which the call had seen when it last looked
        self._inline_waits = 0

    async def submit(self, instances: Sequence[Any]) -> list[Any]:
        """The predictions for `instances`, computed in some batch with other requests."""
        loop = asyncio.get_running_loop()
        job = _Job(instances, loop.create_future())
        key = self._group_key(instances[0]) if self._group_key is not None else None
        self._queues.setdefault(key, deque()).append(job)
        if self.runs_inline:
            if not self._inline_items:
                # After the requests already due this turn: they join the call.
                loop.call_soon(self._run_queued_inline)
                self._inline_seen = len(instances)
                self._inline_waits = 0
            self._inline_items += len(instances)
        else:
            self._wakeup.set()
            if self.is_idle:
                self._worker = asyncio.create_task(self._work())
        return await job.future

    @property
    def is_idle(self) -> bool:
        """No call running or due and nothing queued: the worker has exited."""
        return not self._inline_items and (self._worker is None or self._worker.done())

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
            batch = self._take(key, queue)
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

    def _take(self, key: Hashable, queue: deque[_Job]) -> list[_Job]:
        """Requests from the front while they fit; the first one always goes. An emptied
        queue is dropped."""
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
        if not queue:
            del self._queues[key]
        return batch

    def _run_queued_inline(self) -> None:
        if (
            self._inline_seen < self._inline_items < self._policy.max_items
            and self._inline_waits < INLINE_WAIT_TURNS
        ):
            self._inline_seen = self._inline_items
            self._inline_waits += 1
            asyncio.get_running_loop().call_soon(self._run_queued_inline)
            return
        self._inline_items = 0
        while any(self._queues.values()):
            batch = self._take(*self._oldest_queue())
            if batch:
                self._call_inline(batch)

    def _call_inline(self, batch: list[_Job]) -> None:
        try:
            outputs = self._run_batch(self._instances(batch))
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error=error)
                return
            for job in batch:  # someone's item broke the batch: find whose
                self._call_inline([job])
            return
        _share(batch, outputs)

    async def _run(self, batch: list[_Job]) -> None:
        try:
            outputs = await run_in_threadpool(self._run_batch, self._instances(batch))
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error=error)
                return
            # Someone's item broke the batch: run each request alone to find whose.
            for job in batch:
                await self._run([job])
            return
        _share(batch, outputs)

    def _instances(self, batch: list[_Job]) -> list[Any]:
        instances = [instance for job in batch for instance in job.instances]
        if self._on_batch is not None:
            self._on_batch(len(instances))
        return instances


def _share(batch: list[_Job], outputs: list[Any]) -> None:
    """Each request's slice of the call's outputs, in order."""
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
