"""What a call costs, measured at load, and how many instances a call on the loop takes."""

import time
from collections.abc import Sequence

import numpy as np

from service.runtime.call_costs import (
    INLINE_BUDGET_S,
    MAX_COALESCED_ITEMS,
    coalesced_items,
    measured_item_s,
)
from tests.fakes import EchoArtifact, EchoInput, EchoOutput, EchoSpec
from training import Predictor


class FixedAndPerItemSpec(EchoSpec):
    """2 ms a call plus 1 ms an instance."""

    def predict(self, artifact: EchoArtifact, batch: Sequence[EchoInput]) -> list[EchoOutput]:
        time.sleep(0.002 + 0.001 * len(batch))
        return super().predict(artifact, batch)


def _predictor(call_s: float, item_s: float) -> Predictor:
    predictor = Predictor(EchoSpec(), 1, EchoArtifact(offset=np.array(0.0)))
    predictor.call_s, predictor.item_s = call_s, item_s
    return predictor


def test_a_call_on_the_loop_takes_as_many_instances_as_fit_in_the_budget() -> None:
    assert coalesced_items(_predictor(200e-6, 20e-6)) == 1 + int((INLINE_BUDGET_S - 200e-6) / 20e-6)
    assert coalesced_items(_predictor(5e-6, 0.0)) == MAX_COALESCED_ITEMS
    assert coalesced_items(_predictor(5e-6, 1e-9)) == MAX_COALESCED_ITEMS
    assert coalesced_items(_predictor(INLINE_BUDGET_S, 1e-6)) == 1, "no room for a second"
    assert coalesced_items(_predictor(float("inf"), float("inf"))) == 1, "never measured"


def test_the_cost_of_each_further_instance_is_measured_apart_from_the_call() -> None:
    predictor = Predictor(FixedAndPerItemSpec(), 1, EchoArtifact(offset=np.array(0.0)))
    item_s = measured_item_s(predictor, call_s=0.003)
    assert 0.0009 <= item_s < 0.002
