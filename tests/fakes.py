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
from training.schemas import ImageInput

TINY_PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAD0lEQVR4nGP4z8DA8J8BAAf/Af8Bf4mnAAAAAElFTkSuQmCC"
"""A 2x1 PNG: a red pixel, then a green one."""


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
    name, module, kind = "echo", 0, "test"
    title = "Echo: value + offset"
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
    batch_policy = BatchPolicy(max_items=16)
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


class ImageShape(Schema):
    width: int
    height: int
    top_left: list[int] = Field(description="RGB of the top-left pixel")


class ImageShapeSpec(NumpySpec[ImageInput, ImageShape, EchoConfig, None, EchoArtifact]):
    """Answers the decoded image's size and corner colour: what an image model would see."""

    name, module, kind = "image-shape", 0, "test"
    title = "Image shape"
    example_input = ImageInput(image_base64=TINY_PNG_BASE64)

    def load_data(self, config: EchoConfig, run: TrainingRun) -> None:
        run.record_dataset("nothing", b"")

    def fit(self, config: EchoConfig, data: None, run: TrainingRun) -> EchoArtifact:
        return EchoArtifact(offset=np.array(0.0))

    def evaluate(
        self, artifact: EchoArtifact, data: None, config: EchoConfig, run: TrainingRun
    ) -> dict[str, float]:
        return {}

    def predict(self, artifact: EchoArtifact, batch: Sequence[ImageInput]) -> list[ImageShape]:
        shapes = []
        for instance in batch:
            image = instance.image()
            corner = [int(v) for v in image.getpixel((0, 0))]  # type: ignore[union-attr]
            shapes.append(ImageShape(width=image.width, height=image.height, top_left=corner))
        return shapes
