"""MicroBatcher: concurrent requests share calls, results stay each request's own."""

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from service.runtime import MicroBatcher
from service.runtime.batching import INLINE_WAIT_TURNS
from training import BatchPolicy

pytestmark = pytest.mark.anyio


class Recorder:
    """A model call that doubles numbers, records each batch and refuses negative ones."""

    def __init__(self, call_s: float = 0.02) -> None:
        self.batches: list[list[int]] = []
        self.threads: list[threading.Thread] = []
        self.call_s = call_s

    def __call__(self, items: Sequence[int]) -> list[int]:
        time.sleep(self.call_s)
        self.batches.append(list(items))
        self.threads.append(threading.current_thread())
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


def _inline_batcher(model: Recorder, max_items: int = 8) -> MicroBatcher:
    return MicroBatcher(model, BatchPolicy(max_items), runs_inline=True)


async def test_inline_requests_of_one_turn_share_a_call_on_the_event_loop() -> None:
    model = Recorder(call_s=0)
    batcher = _inline_batcher(model)
    answers = await asyncio.gather(*(batcher.submit([v, v + 100]) for v in range(6)))
    assert answers == [[2 * v, 2 * v + 200] for v in range(6)]
    # Four requests of two instances fill a call; the rest go in the next, in order.
    assert model.batches == [[0, 100, 1, 101, 2, 102, 3, 103], [4, 104, 5, 105]]
    assert model.threads == [threading.current_thread()] * 2, "no thread-pool hop"
    assert batcher.is_idle


async def test_inline_requests_of_later_turns_make_calls_of_their_own() -> None:
    model = Recorder(call_s=0)
    batcher = _inline_batcher(model)
    assert await batcher.submit([1]) == [2]
    assert await batcher.submit([2]) == [4]
    assert model.batches == [[1], [2]]


async def test_an_inline_batch_with_one_bad_item_fails_only_its_own_request() -> None:
    model = Recorder(call_s=0)
    batcher = _inline_batcher(model)
    results = await asyncio.gather(
        batcher.submit([1]), batcher.submit([-1]), batcher.submit([3]), return_exceptions=True
    )
    assert results[0] == [2]
    assert isinstance(results[1], ValueError)
    assert results[2] == [6]
    assert model.batches == [[1, -1, 3], [1], [-1], [3]]


async def test_an_inline_call_waits_a_turn_while_requests_keep_joining_it() -> None:
    model = Recorder(call_s=0)
    batcher = _inline_batcher(model)
    first = asyncio.ensure_future(batcher.submit([1]))
    second = asyncio.ensure_future(batcher.submit([2]))
    await asyncio.sleep(0)  # both submit: the call is due, and it already has company
    third = asyncio.ensure_future(batcher.submit([3]))  # one turn later
    assert await asyncio.gather(first, second, third) == [[2], [4], [6]]
    assert model.batches == [[1, 2, 3]]


async def test_a_stream_of_requests_does_not_hold_an_inline_call_back() -> None:
    model = Recorder(call_s=0)
    batcher = _inline_batcher(model, max_items=100)
    asked = []
    for value in range(3 * INLINE_WAIT_TURNS + 6):
        asked.append(asyncio.ensure_future(batcher.submit([value])))
        await asyncio.sleep(0)  # one request a turn, each turn
    answers = await asyncio.gather(*asked)
    assert answers == [[2 * v] for v in range(len(asked))]
    assert len(model.batches) > 2
    assert max(len(batch) for batch in model.batches) <= INLINE_WAIT_TURNS + 2
