"""The runner's champion/challenger rule and lineage, with a tiny spec whose score we choose."""

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from model_registry import ModelRegistry
from training.frameworks.json import JsonSpec
from training.run import TrainingRun
from training.runner import PHASES_PER_STAGE, code_revision, train_and_publish
from training.spec import Floor, LoadContext, Schema, TrainConfig


class Number(Schema):
    value: float


class ScoreConfig(TrainConfig):
    score: float = 0.5


@dataclass(frozen=True)
class Score:
    value: float


class ScoredSpec(JsonSpec[Number, Number, ScoreConfig, bytes, Score]):
    name, module, kind = "scored-spec", 0, "regressor"
    title = "A spec whose held-out score is its config"
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

    def fit(self, config: ScoreConfig, data: bytes, run: TrainingRun) -> Score:
        run.step("fitting", 1, 1)
        return Score(config.score)

    def evaluate(
        self, artifact: Score, data: bytes, config: ScoreConfig, run: TrainingRun
    ) -> dict[str, float]:
        run.note("scored")
        return {"score": artifact.value}

    def predict(self, artifact: Score, batch: Sequence[Number]) -> list[Number]:
        return [Number(value=item.value * artifact.value) for item in batch]


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


class Listener:
    def __init__(self) -> None:
        self.phases: list[str] = []
        self.progress: list[tuple[str, int | None, int | None]] = []

    def on_phase(self, phase: str) -> None:
        self.phases.append(phase)

    def on_progress(self, message: str, done: int | None, total: int | None) -> None:
        self.progress.append((message, done, total))


def test_progress_counts_phases_apart_from_a_specs_own_steps(
    sqlite_registry: ModelRegistry,
) -> None:
    listener = Listener()
    train_and_publish(ScoredSpec(0.5), sqlite_registry, listener=listener)
    assert len(listener.phases) == PHASES_PER_STAGE
    assert listener.progress == [("fitting", 1, 1)]


def test_a_json_artifact_round_trips_through_its_framework(sqlite_registry: ModelRegistry) -> None:
    [outcome] = train_and_publish(ScoredSpec(0.25), sqlite_registry)
    files = sqlite_registry.read_files(outcome.version, ["score.json"])
    assert ScoredSpec(0).load(files, LoadContext()) == Score(0.25)


def test_lineage_names_the_production_version_it_was_compared_against(
    sqlite_registry: ModelRegistry,
) -> None:
    _train(sqlite_registry, 0.5)  # v1: no champion yet, so production
    _train(sqlite_registry, 0.4)  # v2: compared with v1, kept as a candidate
    _train(sqlite_registry, 0.7)  # v3: compared with v1, takes production
    _train(sqlite_registry, 0.6)  # v4: compared with v3
    parents = [v.lineage.parent_version for v in sqlite_registry.list_versions("scored-spec")]
    assert parents == [None, 1, 1, 3]


def test_a_given_config_replaces_the_profiles(sqlite_registry: ModelRegistry) -> None:
    spec = ScoredSpec(0.5)
    [outcome] = train_and_publish(spec, sqlite_registry, config=ScoreConfig(score=0.9))
    assert outcome.version.params == {"random_state": 0, "score": 0.9}
    assert outcome.version.metrics == {"score": 0.9}


def _git(checkout: Path, *arguments: str) -> None:
    identity = ("-c", "user.name=Practica", "-c", "user.email=practica@example.invalid")
    subprocess.run(["git", *identity, *arguments], cwd=checkout, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git repository with one commit holding code and a pipeline output."""
    (tmp_path / "metrics").mkdir()
    (tmp_path / "model.py").write_text("A = 1\n")
    (tmp_path / "metrics" / "model.json").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_code_revision_is_the_commit_and_clean_when_nothing_changed(checkout: Path) -> None:
    revision = code_revision(checkout)
    assert revision is not None
    assert len(revision.commit) == 40
    assert revision.has_uncommitted_changes is False


def test_code_revision_is_dirty_when_tracked_code_changed(checkout: Path) -> None:
    (checkout / "model.py").write_text("A = 2\n")
    revision = code_revision(checkout)
    assert revision is not None
    assert revision.has_uncommitted_changes is True


def test_code_revision_ignores_pipeline_outputs_and_untracked_files(checkout: Path) -> None:
    (checkout / "metrics" / "model.json").write_text('{"score": 1}\n')  # written by dvc repro
    (checkout / "notes.txt").write_text("scratch\n")
    revision = code_revision(checkout)
    assert revision is not None
    assert revision.has_uncommitted_changes is False


def test_code_revision_is_unknown_outside_git(tmp_path: Path) -> None:
    assert code_revision(tmp_path) is None


class FlooredSpec(ScoredSpec):
    floors = (Floor("score", minimum=0.6),)


def test_a_version_missing_its_floor_is_published_but_never_served(
    sqlite_registry: ModelRegistry,
) -> None:
    [first] = train_and_publish(FlooredSpec(0.5), sqlite_registry)
    assert not first.promoted
    assert first.reason == "misses its floor: score 0.5, floor >= 0.6"
    [second] = train_and_publish(FlooredSpec(0.65), sqlite_registry)
    [worse] = train_and_publish(FlooredSpec(0.55), sqlite_registry)
    assert (second.promoted, worse.promoted) == (True, False)
    [forced] = train_and_publish(FlooredSpec(0.55), sqlite_registry, force_promotion=True)
    assert (forced.promoted, forced.reason) == (True, "forced")
    model = sqlite_registry.get_model("scored-spec")
    assert model.versions == (1, 2, 3, 4)
    assert model.aliases == {"production": 4}


def test_floors_do_not_gate_smoke_versions_which_never_replace_full_ones(
    sqlite_registry: ModelRegistry,
) -> None:
    [smoke] = train_and_publish(FlooredSpec(0.1), sqlite_registry, profile="smoke")
    assert smoke.promoted  # seconds of training, for tests: no floor is expected of it
    [full] = train_and_publish(FlooredSpec(0.7), sqlite_registry)
    assert (full.promoted, full.reason) == (True, "replaces v1, trained with the smoke profile")
    [smoke_again] = train_and_publish(FlooredSpec(0.9), sqlite_registry, profile="smoke")
    assert not smoke_again.promoted  # better score, but a smoke run
    assert sqlite_registry.get_model("scored-spec").aliases == {"production": 2}


class RaisedBarSpec(FlooredSpec):
    """Two stages, as Titanic's modules 8 and 13: the second is held to a higher floor."""

    def stages_from(self, config: ScoreConfig) -> list[ScoreConfig]:
        return [config, config.model_copy(update={"score": config.score + 0.01})]

    def floors_for(self, config: ScoreConfig) -> tuple[Floor, ...]:
        return (Floor("score", minimum=0.7),) if config.score > self.score else self.floors


def test_a_later_stage_is_held_to_its_own_floor(sqlite_registry: ModelRegistry) -> None:
    first, second = train_and_publish(RaisedBarSpec(0.65), sqlite_registry)
    assert first.promoted
    assert not second.promoted  # 0.66 beats v1 but misses the second stage's 0.7
    assert second.reason == "misses its floor: score 0.66, floor >= 0.7"
    assert RaisedBarSpec(0.65).version_floors(second.version.params) == (
        Floor("score", minimum=0.7),
    )
    assert RaisedBarSpec(0.65).version_floors({"unknown": "params"}) == RaisedBarSpec.floors
