"""Toy models for service and runtime tests, so they never wait for the real catalog.

`EchoSpec` answers `value + offset` (the offset is what "training" learns, so versions
differ) and says how many instances shared its call; `SlowEchoSpec` takes 30 ms per call
and allows micro-batching, for the batching tests.
"""

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from model_registry import ModelRegistry, ModelVersion
from training import BatchPolicy, LoadContext, PredictionError, Schema, TrainConfig, TrainingRun
from training.frameworks.numpy import NumpySpec
from training.runner import train_stage


class EchoInput(Schema):
    value: float = Field(ge=-1e6, le=1e6)
    fail: bool = Field(False, description="ask the model to refuse this instance")


class EchoOutput(Schema):
    value: float
    batch_size: int = Field(description="instances in the model call that answered")


class EchoConfig(TrainConfig):
    offset: float = 0.0


@dataclass(frozen=True)
class EchoArtifact:
    offset: np.ndarray


class EchoSpec(NumpySpec[EchoInput, EchoOutput, EchoConfig, None, EchoArtifact]):
    name = "echo"
    module = 0
    title = "Echo: value + offset"
    kind = "test"
    example_input = EchoInput(value=1.0)
    loads: ClassVar[list[tuple[str, float]]] = []
    """Every load, for tests that count them."""
    load_delay_s: ClassVar[float] = 0.0

    def load_data(self, config: EchoConfig, run: TrainingRun) -> None:
        run.record_dataset("nothing", b"")

    def fit(self, config: EchoConfig, data: None, run: TrainingRun) -> EchoArtifact:
        return EchoArtifact(offset=np.array(config.offset))

    def evaluate(
        self, artifact: EchoArtifact, data: None, config: EchoConfig, run: TrainingRun
    ) -> dict[str, float]:
        return {"offset": float(artifact.offset)}

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> EchoArtifact:
        time.sleep(self.load_delay_s)
        artifact = super().load(files, context)
        self.loads.append((threading.current_thread().name, float(artifact.offset)))
        return artifact

    def predict(self, artifact: EchoArtifact, batch: Sequence[EchoInput]) -> list[EchoOutput]:
        for instance in batch:
            if instance.fail:
                raise PredictionError("fail", "this instance asked to fail")
        offset = float(artifact.offset)
        return [EchoOutput(value=i.value + offset, batch_size=len(batch)) for i in batch]


class SlowEchoSpec(EchoSpec):
    name = "slow-echo"
    batch_policy = BatchPolicy(max_items=16, max_wait_ms=20)
    call_s: ClassVar[float] = 0.03

    def predict(self, artifact: EchoArtifact, batch: Sequence[EchoInput]) -> list[EchoOutput]:
        time.sleep(self.call_s)
        return super().predict(artifact, batch)

    def batch_group(self, instance: EchoInput) -> Any:
        return instance.value >= 1000  # large values batch apart from small ones


def publish_fake_version(
    registry: ModelRegistry, spec: EchoSpec | None = None, *, offset: float = 0.0
) -> ModelVersion:
    """Train and publish one version of a fake spec through the real runner."""
    return train_stage(
        spec or EchoSpec(), EchoConfig(offset=offset), registry, profile="full"
    ).version
