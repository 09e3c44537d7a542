"""What a serving process sets up: the loaded models out of the collector's reach."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from service import process


@pytest.fixture
def serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(process, "_serving", True)
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_a_serving_process_freezes_what_is_loaded_and_frees_what_a_swap_let_go(
    serving: None,
) -> None:
    old_version = Node()
    alive = weakref.ref(old_version)
    process.models_loaded()
    assert gc.get_freeze_count() > 0
    del old_version  # swapped out
    gc.collect()
    assert alive() is not None, "frozen: a collection does not walk it"
    process.models_loaded()  # what follows a swap
    assert alive() is None
    assert gc.get_freeze_count() > 0


def test_a_process_that_does_not_serve_is_left_alone() -> None:
    process.models_loaded()
    assert gc.get_freeze_count() == 0
