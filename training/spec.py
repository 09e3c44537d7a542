"""The model plug-in contract: one `ModelSpec` subclass per roadmap module.

A spec is stateless code; what training learns lives in the artifact it returns. The
same spec records its signature at training time and validates requests at serving
time, so the schema a version was trained against is the schema it is served with.

    TrainableSpec            config, data, fit, evaluate, save/load
     ├── ModelSpec           + input/output schemas and predict: gets a typed route
     └── AnalysisSpec        report only (hypothesis tests, EDA): no predict route

Each framework (`training/frameworks/`) subclasses these with default save/load, so a
model file holds only its data, its model and its report.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from training.integers import integer_fields
from training.run import TrainingRun

Profile = Literal["full", "smoke"]
PROFILES: tuple[Profile, ...] = ("full", "smoke")


class Schema(BaseModel):
    """Base of every request and response schema: unknown fields and NaN/inf are refused,
    and JSON types are taken as the schema states them (no `"3"` for 3, no `1` for true).
    Formats whose values arrive as text (CSV cells, query strings) validate with
    `strict=False`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats_as_ints(cls, data: Any) -> Any:
        converters = integer_fields(cls)
        if not converters or not isinstance(data, dict):
            return data
        return {k: converters[k](v) if k in converters else v for k, v in data.items()}


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


@dataclass(frozen=True)
class HeldOut:
    """The data a version's floors are measured on, as the API receives it.

    Tests re-score every published version with it (DESIGN.md section 2): `instances` go
    to the predict route as JSON, and `score` turns the JSON predictions, in order, back
    into metrics under the keys `evaluate` reports. A floor then holds for what the API
    answers, not only for the number training wrote down.
    """

    instances: list[dict[str, Any]]
    score: Callable[[list[dict[str, Any]]], dict[str, float]]
    tolerance: float = 1e-6
    """How far a re-scored metric may lie from the reported one (absolute): more than
    rounding only where serving runs a compiled graph whose float32 sums may tip a tie."""


@dataclass(frozen=True)
class LoadContext:
    """How the server wants an artifact loaded: compute threads per call and device."""

    threads: int = 1
    device: Literal["cpu", "cuda"] = "cpu"


@dataclass(frozen=True)
class BatchPolicy:
    """How the server may group concurrent requests for one model into one call.

    `max_items` counts instances, not requests. A policy with `max_items == 1` (the
    default) runs each request on its own: batching pays only where a call's fixed cost
    dominates, as in the neural networks. A request that finds the model idle waits
    `max_wait_ms` for company (0: none); requests that arrive while a call runs share
    the next one.
    """

    max_items: int = 1
    max_wait_ms: float = 0.0

    @property
    def is_enabled(self) -> bool:
        return self.max_items > 1


class PredictionError(Exception):
    """A well-formed request the model cannot answer (e.g. a non-convex quadratic)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class UnknownItemError(PredictionError):
    """The request names an item the model does not know (a movie title): not found.

    `suggestions` are the closest items the model does know, for the caller to pick from.
    """

    def __init__(self, field: str, message: str, suggestions: Sequence[str]) -> None:
        super().__init__(field, message)
        self.suggestions = list(suggestions)


InT = TypeVar("InT", bound=Schema)
OutT = TypeVar("OutT", bound=Schema)
CfgT = TypeVar("CfgT", bound=TrainConfig)
DataT = TypeVar("DataT")
ArtT = TypeVar("ArtT")


def type_arguments(cls: type, generic: type) -> dict[str, Any]:
    """The concrete types `cls` binds to the type parameters of its generic ancestor.

    `SpamSvm(SklearnSpec[SmsMessage, ...])` with `SklearnSpec(ModelSpec[InT, ...])`
    gives `{"InT": SmsMessage, ...}`: each level's arguments are substituted into the next.
    """
    return {parameter.__name__: value for parameter, value in _bindings(cls, generic).items()}


def _bindings(cls: type, generic: type) -> dict[Any, Any]:
    for base in getattr(cls, "__orig_bases__", ()):
        origin = get_origin(base) or base
        if not (isinstance(origin, type) and issubclass(origin, generic)):
            continue
        bound = dict(zip(getattr(origin, "__parameters__", ()), get_args(base), strict=False))
        if origin is generic:
            return bound
        inner = _bindings(origin, generic)
        return {key: bound.get(value, value) for key, value in inner.items()}
    return {}


def snake_case(name: str) -> str:
    """`LinearModel` → `linear_model`: the default file name of an artifact class."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


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
    """How the artifact is stored: numpy, skops, xgboost, json, onnx; set by the framework."""
    config_schema: type[CfgT]
    artifact_type: type[ArtT]
    """The artifact class, from the type parameters: frameworks rebuild it on load."""
    floors: ClassVar[tuple[Floor, ...]] = ()
    selection_metric: ClassVar[str | None] = None
    """Higher is better; a new version takes `production` only if it beats the current one."""
    data_folders: ClassVar[tuple[str, ...]] = ()
    """The folders under `data/` that `load_data` reads (none where a package ships the
    data): the model's DVC stage depends on them, so changed data reruns it."""

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        module: int | None = None,
        kind: str | None = None,
        title: str | None = None,
        **kwargs: Any,
    ) -> None:
        """A catalog entry states who it is in its class line:

        `class SpamSvm(SklearnSpec[...], name="spam-svm", module=7, kind="classifier",
        title="Spam vs ham with a linear SVM")`.
        """
        super().__init_subclass__(**kwargs)
        identity = {"name": name, "module": module, "kind": kind, "title": title}
        for attribute, value in identity.items():
            if value is not None:
                setattr(cls, attribute, value)
        for parameter, attribute in (("CfgT", "config_schema"), ("ArtT", "artifact_type")):
            value = type_arguments(cls, TrainableSpec).get(parameter)
            if isinstance(value, type) and attribute not in cls.__dict__:
                setattr(cls, attribute, value)

    def floors_for(self, config: CfgT) -> tuple[Floor, ...]:
        """The floors of a version trained with `config`: `floors`, unless a later stage
        raises the bar (Titanic's engineered features, module 13)."""
        return self.floors

    def version_floors(self, params: Mapping[str, Any]) -> tuple[Floor, ...]:
        """The floors of a published version, from the config it recorded as `params`."""
        try:
            config = self.config_schema.model_validate(params)
        except ValidationError:  # a version trained with a config this code no longer reads
            return self.floors
        return self.floors_for(config)

    def config(self, profile: Profile) -> CfgT:
        """The training config of a profile: `full` is the default, `smoke` takes seconds."""
        return self.config_schema() if profile == "full" else self.smoke_config()

    def smoke_config(self) -> CfgT:
        return self.config_schema()

    def stages(self, profile: Profile) -> list[CfgT]:
        """The configs trained in order by `practica train`, one published version each."""
        return self.stages_from(self.config(profile))

    def stages_from(self, config: CfgT) -> list[CfgT]:
        """The stage configs derived from one base config (a profile's, or params.yaml's).

        Most specs have one stage; a model revisited by a later roadmap module (Titanic,
        modules 8 then 13) has one per module, so its versions tell the story in order.
        """
        return [config]

    @abstractmethod
    def load_data(self, config: CfgT, run: TrainingRun) -> DataT:
        """Read the dataset, record its fingerprint, split off the held-out part."""

    @abstractmethod
    def fit(self, config: CfgT, data: DataT, run: TrainingRun) -> ArtT:
        """Learn from the training part only."""

    @abstractmethod
    def evaluate(
        self, artifact: ArtT, data: DataT, config: CfgT, run: TrainingRun
    ) -> dict[str, float]:
        """Metrics on held-out data, plus the report's plots and tables."""

    @abstractmethod
    def save(self, artifact: ArtT) -> dict[str, bytes]:
        """Pickle-free files of the artifact, by file name."""

    @abstractmethod
    def load(self, files: Mapping[str, bytes], context: LoadContext) -> ArtT:
        """The artifact back from `save`'s files (already hash-verified by the registry)."""


class ModelSpec(TrainableSpec[CfgT, DataT, ArtT], Generic[InT, OutT, CfgT, DataT, ArtT]):
    """A servable model: typed instances in, typed predictions out."""

    input_schema: type[InT]
    output_schema: type[OutT]
    example_input: ClassVar[Any]
    """One valid instance: the OpenAPI example and the contract tests' input."""
    max_batch_size: ClassVar[int] = 1000
    batch_policy: ClassVar[BatchPolicy] = BatchPolicy()
    max_work: ClassVar[int | None] = None
    """The most work one request may ask for, counted by `work`, where an instance's cost
    (CPU, size of the answer) varies with what it asks: the server refuses more with a 422
    before running the model. None: the instance count alone bounds a request."""
    work_unit: ClassVar[str] = "instances"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bound = type_arguments(cls, ModelSpec)
        for parameter, attribute in (("InT", "input_schema"), ("OutT", "output_schema")):
            value = bound.get(parameter)
            if isinstance(value, type) and attribute not in cls.__dict__:
                setattr(cls, attribute, value)

    @abstractmethod
    def predict(self, artifact: ArtT, batch: Sequence[InT]) -> list[OutT]:
        """Predictions for a validated batch, in order."""

    def work(self, instance: InT) -> int:
        """What answering `instance` costs, in `work_unit`s (see `max_work`)."""
        return 1

    def held_out(self, config: CfgT, run: TrainingRun) -> HeldOut | None:
        """The data `evaluate` measured the floors on, as requests (see `HeldOut`), for the
        version trained with `config`: the same split, rebuilt from the raw rows.

        Every model with floors answers one; None (the default) for one without.
        """
        return None

    def batch_group(self, instance: InT) -> Hashable:
        """Requests whose first instances share this key may be batched together.

        Text models return a length bucket: padding a short text to a long one in the
        same batch costs more than batching gains.
        """
        return None


class AnalysisSpec(TrainableSpec[CfgT, DataT, ArtT]):
    """A report-only entry: its result is the training report itself."""

    kind: ClassVar[str] = "analysis"


AnySpec = TrainableSpec[Any, Any, Any]
AnyModelSpec = ModelSpec[Any, Any, Any, Any, Any]


class Predictor:
    """A spec bound to one loaded version: what the server keeps in memory."""

    __slots__ = ("artifact", "call_s", "item_s", "spec", "version")

    def __init__(self, spec: AnyModelSpec, version: int, artifact: Any) -> None:
        self.spec = spec
        self.version = version
        self.artifact = artifact
        self.call_s = float("inf")
        """What one instance costs, as the server measured it at load (unknown: infinite)."""
        self.item_s = float("inf")
        """What each further instance of a batch adds to a call (unknown: infinite)."""

    def predict(self, batch: Sequence[Any]) -> list[Any]:
        return self.spec.predict(self.artifact, batch)
