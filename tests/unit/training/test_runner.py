"""The runner's champion/challenger rule and lineage, with a tiny spec whose score we choose."""

from collections.abc import Mapping, Sequence

from model_registry import ModelRegistry
from model_registry.flavors import dump_json, load_json
from training.run import TrainingRun
from training.runner import train_and_publish
from training.spec import ModelSpec, Schema, TrainConfig


class Number(Schema):
    value: float


class ScoreConfig(TrainConfig):
    score: float = 0.5


class ScoredSpec(ModelSpec[Number, Number, ScoreConfig, bytes, float]):
    name = "scored-spec"
    module = 0
    title = "A spec whose held-out score is its config"
    kind = "regressor"
    flavor = "json"
    input_schema = Number
    output_schema = Number
    config_schema = ScoreConfig
    example_input = Number(value=1.0)
    selection_metric = "score"

    def __init__(self, score: float) -> None:
        self.score = score  # stands in for training: the metric this run will report

    def config(self, profile: str) -> ScoreConfig:  # type: ignore[override]
        return ScoreConfig(score=self.score)

    def load_data(self, config: ScoreConfig, run: TrainingRun) -> bytes:
        data = b"1,2,3"
        run.record_dataset("numbers", data)
        return data

    def fit(self, config: ScoreConfig, data: bytes, run: TrainingRun) -> float:
        return config.score

    def evaluate(self, artifact: float, data: bytes, run: TrainingRun) -> dict[str, float]:
        run.note("scored")
        return {"score": artifact}

    def save(self, artifact: float) -> dict[str, bytes]:
        return {"score.json": dump_json(artifact)}

    def load(self, files: Mapping[str, bytes]) -> float:
        return float(load_json(files["score.json"]))

    def predict(self, artifact: float, batch: Sequence[Number]) -> list[Number]:
        return [Number(value=item.value * artifact) for item in batch]


def _train(registry: ModelRegistry, score: float) -> bool:
    [outcome] = train_and_publish(ScoredSpec(score), registry)
    return outcome.promoted


def test_only_a_better_challenger_takes_production(sqlite_registry: ModelRegistry) -> None:
    assert _train(sqlite_registry, 0.5) is True  # first version: production
    assert _train(sqlite_registry, 0.4) is False  # worse: stays a candidate
    assert _train(sqlite_registry, 0.5) is False  # a tie does not displace the champion
    assert _train(sqlite_registry, 0.7) is True
    model = sqlite_registry.get_model("scored-spec")
    assert model.versions == (1, 2, 3, 4)
    assert model.aliases == {"production": 4}


def test_lineage_records_what_produced_the_version(sqlite_registry: ModelRegistry) -> None:
    _train(sqlite_registry, 0.5)
    version = sqlite_registry.get_version("scored-spec", 1)
    lineage = version.lineage
    assert set(lineage.dataset_sha256) == {"numbers"}
    assert lineage.profile == "full"
    assert lineage.python_version
    assert "numpy" in lineage.library_versions
    assert lineage.report_files == ["report/metrics.json", "report/report.json"]
    assert version.params == {"random_state": 0, "score": 0.5}
    assert version.signature.inputs == Number.model_json_schema()
