"""The model plug-in contract: one `ModelSpec` subclass per roadmap module.

A spec is stateless code; what training learns lives in the artifact it returns. The
same spec records its signature at training time and validates requests at serving
time, so the schema a version was trained against is the schema it is served with.

    TrainableSpec            config, data, fit, evaluate, save/load
     ├── ModelSpec           + input/output schemas and predict: gets a typed route
     └── AnalysisSpec        report only (hypothesis tests, EDA): no predict route
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from training.run import TrainingRun

Profile = Literal["full", "smoke"]
PROFILES: tuple[Profile, ...] = ("full", "smoke")


class Schema(BaseModel):
    """Base of every request and response schema: unknown fields and NaN/inf are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class TrainConfig(BaseModel):
    """Base of every training config; stored with the version as its `params`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    random_state: int = 0


@dataclass(frozen=True)
class Floor:
    """A quality floor of DESIGN.md section 2, checked on the full profile."""

    metric: str
    minimum: float | None = None
    maximum: float | None = None

    def holds(self, metrics: Mapping[str, float]) -> bool:
        value = metrics[self.metric]
        return (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )


class PredictionError(Exception):
    """A well-formed request the model cannot answer (e.g. a non-convex quadratic)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


InT = TypeVar("InT", bound=Schema)
OutT = TypeVar("OutT", bound=Schema)
CfgT = TypeVar("CfgT", bound=TrainConfig)
DataT = TypeVar("DataT")
ArtT = TypeVar("ArtT")


class TrainableSpec(ABC, Generic[CfgT, DataT, ArtT]):
    """What every catalog entry can do: train on its data and describe itself."""

    name: ClassVar[str]
    """The slug: registry name and URL segment; the module is the slug with underscores."""
    module: ClassVar[int]
    """The roadmap module number."""
    title: ClassVar[str]
    kind: ClassVar[str]
    """classifier, regressor, clustering, embedding, optimiser, analysis..."""
    flavor: ClassVar[str]
    """How the artifact is stored: numpy, skops, xgboost, json."""
    config_schema: type[CfgT]
    floors: ClassVar[tuple[Floor, ...]] = ()
    selection_metric: ClassVar[str | None] = None
    """Higher is better; a new version takes `production` only if it beats the current one."""

    def config(self, profile: Profile) -> CfgT:
        """The training config of a profile: `full` is the default, `smoke` takes seconds."""
        return self.config_schema() if profile == "full" else self.smoke_config()

    def smoke_config(self) -> CfgT:
        return self.config_schema()

    def stages(self, profile: Profile) -> list[CfgT]:
        """The configs trained in order by `practica train`, one published version each.

        Most specs have one stage; a model revisited by a later roadmap module (Titanic,
        modules 8 then 13) has one per module, so its versions tell the story in order.
        """
        return [self.config(profile)]

    @abstractmethod
    def load_data(self, config: CfgT, run: TrainingRun) -> DataT:
        """Read the dataset, record its fingerprint, split off the held-out part."""

    @abstractmethod
    def fit(self, config: CfgT, data: DataT, run: TrainingRun) -> ArtT:
        """Learn from the training part only."""

    @abstractmethod
    def evaluate(self, artifact: ArtT, data: DataT, run: TrainingRun) -> dict[str, float]:
        """Metrics on held-out data, plus the report's plots and tables."""

    @abstractmethod
    def save(self, artifact: ArtT) -> dict[str, bytes]:
        """Pickle-free files of the artifact, by file name."""

    @abstractmethod
    def load(self, files: Mapping[str, bytes]) -> ArtT:
        """The artifact back from `save`'s files (already hash-verified by the registry)."""


class ModelSpec(TrainableSpec[CfgT, DataT, ArtT], Generic[InT, OutT, CfgT, DataT, ArtT]):
    """A servable model: typed instances in, typed predictions out."""

    input_schema: type[InT]
    output_schema: type[OutT]
    example_input: ClassVar[Any]
    """One valid instance: the OpenAPI example and the contract tests' input."""
    max_batch_size: ClassVar[int] = 1000

    @abstractmethod
    def predict(self, artifact: ArtT, batch: Sequence[InT]) -> list[OutT]:
        """Predictions for a validated batch, in order."""


class AnalysisSpec(TrainableSpec[CfgT, DataT, ArtT]):
    """A report-only entry: its result is the training report itself."""

    kind: ClassVar[str] = "analysis"


AnySpec = TrainableSpec[Any, Any, Any]
AnyModelSpec = ModelSpec[Any, Any, Any, Any, Any]


class Predictor:
    """A spec bound to one loaded version: what the server keeps in memory."""

    __slots__ = ("artifact", "spec", "version")

    def __init__(self, spec: AnyModelSpec, version: int, artifact: Any) -> None:
        self.spec = spec
        self.version = version
        self.artifact = artifact

    def predict(self, batch: Sequence[Any]) -> list[Any]:
        return self.spec.predict(self.artifact, batch)
