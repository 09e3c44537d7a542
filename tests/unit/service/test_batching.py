"""MicroBatcher: concurrent requests share calls, results stay each request's own."""

import asyncio
import time
from collections.abc import Sequence

import pytest

from service.runtime import MicroBatcher
from training import BatchPolicy

pytestmark = pytest.mark.anyio


class Recorder:
    """A model call that doubles numbers, records each batch and refuses negative ones."""

    def __init__(self, call_s: float = 0.02) -> None:
        self.batches: list[list[int]] = []
        self.call_s = call_s

    def __call__(self, items: Sequence[int]) -> list[int]:
        time.sleep(self.call_s)
        self.batches.append(list(items))
        if any(item < 0 for item in items):
            raise ValueError("negative item")
        return [2 * item for item in items]


def _batcher(model: Recorder, max_items: int = 8, max_wait_ms: float = 30) -> MicroBatcher:
    return MicroBatcher(model, BatchPolicy(max_items, max_wait_ms), group_key=lambda x: x >= 1000)


async def test_concurrent_requests_are_batched_and_each_gets_its_own_answer() -> None:
    model = Recorder()
    batcher = _batcher(model)
    requests = [[i, i + 100] for i in range(10)]
    answers = await asyncio.gather(*(batcher.submit(r) for r in requests))
    await batcher.close()
    assert answers == [[2 * a, 2 * b] for a, b in requests]
    assert max(len(b) for b in model.batches) > 2
    assert all(len(b) <= 8 for b in model.batches), "max_items counts instances"
    assert sorted(x for b in model.batches for x in b) == sorted(x for r in requests for x in r)


async def test_one_bad_item_fails_only_its_own_request() -> None:
    model = Recorder()
    batcher = _batcher(model)
    results = await asyncio.gather(
        batcher.submit([1]), batcher.submit([-1]), batcher.submit([3]), return_exceptions=True
    )
    await batcher.close()
    assert results[0] == [2]
    assert results[2] == [6]
    assert isinstance(results[1], ValueError)


async def test_requests_of_different_groups_never_share_a_call() -> None:
    model = Recorder()
    batcher = _batcher(model)
    await asyncio.gather(*(batcher.submit([v]) for v in (1, 2000, 3, 4000, 5)))
    await batcher.close()
    for batch in model.batches:
        assert len({item >= 1000 for item in batch}) == 1


async def test_a_request_larger_than_max_items_runs_alone() -> None:
    model = Recorder()
    batcher = _batcher(model, max_items=4)
    big, small = await asyncio.gather(batcher.submit(list(range(10))), batcher.submit([7]))
    await batcher.close()
    assert big == [2 * i for i in range(10)]
    assert small == [14]
    assert [len(b) for b in model.batches] == [10, 1]


async def test_a_client_that_goes_away_does_not_break_the_batch() -> None:
    model = Recorder(call_s=0.05)
    batcher = _batcher(model, max_wait_ms=50)
    leaving = asyncio.ensure_future(batcher.submit([1]))
    staying = asyncio.ensure_future(batcher.submit([2]))
    await asyncio.sleep(0.01)
    leaving.cancel()
    assert await staying == [4]
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await batcher.submit([3]) == [6], "the batcher keeps working"
    await batcher.close()


async def test_a_lone_request_waits_at_most_max_wait() -> None:
    model = Recorder(call_s=0)
    batcher = _batcher(model, max_wait_ms=40)
    started = time.perf_counter()
    assert await batcher.submit([5]) == [10]
    assert time.perf_counter() - started < 1.0
    await batcher.close()


async def test_a_request_that_finds_the_model_idle_runs_at_once_and_later_ones_share_a_call() -> (
    None
):
    model = Recorder(call_s=0.1)
    batcher = _batcher(model, max_wait_ms=0)
    first = asyncio.ensure_future(batcher.submit([1]))
    await asyncio.sleep(0.03)  # the first call is running now
    rest = await asyncio.gather(*(batcher.submit([v]) for v in (2, 3, 4)))
    assert await first == [2]
    assert rest == [[4], [6], [8]]
    assert model.batches == [[1], [2, 3, 4]]


async def test_an_idle_batcher_holds_no_task() -> None:
    batcher = _batcher(Recorder(call_s=0), max_wait_ms=0)
    assert batcher.is_idle
    assert await batcher.submit([1]) == [2]
    await asyncio.sleep(0)  # let the worker see the empty queue and return
    assert batcher.is_idle
    assert await batcher.submit([2]) == [4], "the next request starts a worker again"
