"""Every compiled classic model answers as the estimator it came from.

Each case is smoke-trained (its `fit` already refuses a graph or replay that disagrees),
saved and loaded as a server loads it, then asked about held-out instances twice: through
what serves (the ONNX graph or NumPy replay) and through the original estimator, which
the version keeps. Labels must be identical, numbers within 1e-5 relative (1e-4 where
a float32 graph or float32 distances are involved).
"""

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from model_registry import ModelRegistry, RegistrySettings, import_bundle
from training import CATALOG, LoadContext, ModelSpec, TrainingRun
from training.data import holdout
from training.data.loaders import load_airbnb_listings, load_titanic
from training.frameworks.compiled import (
    COMPILED_FILE,
    FLOAT32_RTOL,
    FLOAT64_RTOL,
    CompiledGraph,
    ParityError,
    check_parity,
    sklearn_graph,
)
from training.models import airbnb_price, loan_default, titanic_survival
from training.models._titanic import CATEGORICAL
from training.runner import REPORT_PREFIX, seed_everything

SPECS = {spec.name: spec for spec in CATALOG if isinstance(spec, ModelSpec)}
OLD_BUNDLE = Path(__file__).parents[1] / "fixtures" / "versions_before_layout.tar.gz"


def _valid(schema: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """The rows the request schema accepts (a few CSV rows fall outside its bounds)."""
    instances = []
    for row in rows:
        try:
            instances.append(schema.model_validate(row))
        except ValidationError:
            continue
    return instances


def _none_for_nan(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _passengers(config: Any, data: Any) -> list[Any]:
    frame = load_titanic(TrainingRun()).rename(columns=str.lower)
    split = holdout(frame, frame["survived"].to_numpy(), config)  # the spec's own split
    rows = _none_for_nan(split.X_test[list(titanic_survival.Passenger.model_fields)])
    return _valid(titanic_survival.Passenger, rows)


def _loans(config: Any, data: Any) -> list[Any]:
    rows = []
    for x in data.X_test:
        row: dict[str, Any] = dict(zip(loan_default.NUMERIC, x.tolist(), strict=False))
        for name in ("fico", "inq_last_6mths", "delinq_2yrs", "pub_rec"):
            row[name] = int(row[name])
        row["credit_policy"] = bool(row["credit_policy"])
        row["purpose"] = loan_default.PURPOSES[int(np.argmax(x[len(loan_default.NUMERIC) :]))]
        rows.append(row)
    return _valid(loan_default.LoanApplication, rows)


def _listings(config: Any, data: Any) -> list[Any]:
    frame = load_airbnb_listings(TrainingRun())
    price = airbnb_price.clean_prices(frame["price"])
    usable = price.notna() & (price > 0)
    split = holdout(frame[usable], price[usable].to_numpy(), config, stratify=False)
    rows = _none_for_nan(split.X_test[list(airbnb_price.Listing.model_fields)])
    return _valid(airbnb_price.Listing, rows)


def _texts(config: Any, data: Any) -> list[Any]:
    return _valid(SPECS["spam-svm"].input_schema, [{"text": str(text)} for text in data.X_test])


def _digits(config: Any, data: Any) -> list[Any]:
    pixels = np.rint(data.X_test * 255).astype(int)
    return _valid(SPECS["mnist-knn"].input_schema, [{"pixels": row.tolist()} for row in pixels])


@dataclass(frozen=True)
class Case:
    name: str
    stage: int  # which of the spec's stages (Titanic: 0 basic, 1 engineered)
    instances: Callable[[Any, Any], list[Any]]  # (config, data) → held-out requests
    rtol: float
    numbers: Callable[[Any, list[Any]], np.ndarray] | None = None
    """The numbers compared, before any rounding the prediction schema applies."""


def _log_price(artifact: Any, batch: list[Any]) -> np.ndarray:
    inputs = airbnb_price.request_inputs(batch, artifact.meta.reference_date)
    return airbnb_price.served_log_price(artifact, inputs)


CASES = [
    Case("titanic-survival", 0, _passengers, FLOAT32_RTOL),
    Case("titanic-survival", 1, _passengers, FLOAT32_RTOL),
    Case("loan-default", 0, _loans, FLOAT32_RTOL),
    Case("airbnb-price", 0, _listings, FLOAT32_RTOL, _log_price),
    Case("spam-svm", 0, _texts, FLOAT64_RTOL),
    Case("review-sentiment", 0, _texts, FLOAT64_RTOL),  # the same `text` field as spam-svm
    Case("mnist-knn", 0, _digits, FLOAT32_RTOL),
]


@dataclass(frozen=True)
class Trained:
    case: Case
    spec: Any
    served: Any  # loaded from the saved files, as a server loads it
    files: dict[str, bytes]
    instances: list[Any]


def estimator_only(artifact: Any) -> Any:
    """The artifact without what serves (graph, replay): its original estimator answers."""
    runtime = {f.name: None for f in dataclasses.fields(artifact) if f.metadata.get("runtime")}
    assert runtime, "a compiled model's artifact has a runtime field"
    return dataclasses.replace(artifact, **runtime)


@pytest.fixture(scope="module", params=CASES, ids=[f"{c.name}-{c.stage}" for c in CASES])
def trained(request: pytest.FixtureRequest) -> Trained:
    case: Case = request.param
    spec = SPECS[case.name]
    config = spec.stages("smoke")[case.stage]
    seed_everything(config.random_state)
    data = spec.load_data(config, TrainingRun())
    files = spec.save(spec.fit(config, data, TrainingRun()))
    instances = case.instances(config, data)[:200]
    assert len(instances) >= 20, "enough held-out instances pass the request schema"
    return Trained(case, spec, spec.load(files, LoadContext()), files, instances)


def _dumped(spec: Any, artifact: Any, batch: list[Any]) -> dict[str, np.ndarray]:
    """Each output field across the batch, as an array."""
    predictions = [p.model_dump() for p in spec.predict(artifact, batch)]
    return {key: np.array([p[key] for p in predictions]) for key in predictions[0]}


def test_served_path_answers_held_out_requests_as_the_estimator(trained: Trained) -> None:
    spec, served, batch = trained.spec, trained.served, trained.instances
    original = estimator_only(served)
    compiled, expected = _dumped(spec, served, batch), _dumped(spec, original, batch)
    for key, values in expected.items():
        check_parity(f"{spec.name} {key}", values, compiled[key], rtol=trained.case.rtol)
    if trained.case.numbers is not None:
        numbers = trained.case.numbers
        check_parity(
            spec.name, numbers(original, batch), numbers(served, batch), rtol=trained.case.rtol
        )
    # One at a time as in a batch: a request's neighbours never change its answer.
    alone = [spec.predict(served, [item])[0] for item in batch[:5]]
    assert alone == spec.predict(served, batch[:5])


def test_served_path_is_what_the_loaded_version_runs(trained: Trained) -> None:
    runtime = [
        getattr(trained.served, f.name)
        for f in dataclasses.fields(trained.served)
        if f.metadata.get("runtime")
    ]
    assert any(value is not None for value in runtime), "the loaded version serves compiled"
    if trained.case.name == "mnist-knn":  # digits are ranked on their 8-bit pixels
        assert trained.served.replay.integer_products is trained.served.compiled is not None


def test_version_without_its_graph_still_loads_and_predicts(trained: Trained) -> None:
    if COMPILED_FILE not in trained.files:
        pytest.skip("this model is replayed from its estimator: it stores no graph")
    files = {k: v for k, v in trained.files.items() if k != COMPILED_FILE}
    loaded = trained.spec.load(files, LoadContext())
    assert loaded.compiled is None
    batch = trained.instances[:20]
    expected, actual = (_dumped(trained.spec, a, batch) for a in (loaded, trained.served))
    for key in expected:
        check_parity(key, expected[key], actual[key], rtol=trained.case.rtol)


def test_a_version_storing_its_whole_pipeline_as_the_graph_is_served_by_it() -> None:
    """titanic-survival's versions stored the whole pipeline, one graph input per column,
    before the forest alone was compiled: they are still served by that graph."""
    spec = SPECS["titanic-survival"]
    config = spec.stages("smoke")[1]
    data = spec.load_data(config, TrainingRun())
    files = spec.save(spec.fit(config, data, TrainingRun()))
    pipeline = spec.load(files, LoadContext()).estimator
    types = {name: "string" if name in CATEGORICAL["engineered"] else "float"
             for name in data.X_test.columns}  # fmt: skip
    old_graph = sklearn_graph(pipeline, types)
    served = spec.load({**files, COMPILED_FILE: old_graph}, LoadContext())
    assert set(served.compiled.inputs) == set(types)
    batch = _passengers(config, data)[:100]
    expected, actual = (_dumped(spec, a, batch) for a in (estimator_only(served), served))
    for key in expected:
        check_parity(key, expected[key], actual[key], rtol=FLOAT32_RTOL)


def test_training_refuses_a_graph_that_answers_differently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = CompiledGraph.run

    def off_by_a_bit(self: CompiledGraph, feeds: Any) -> list[np.ndarray]:
        labels, probabilities = run(self, feeds)
        return [labels, probabilities * 0.99]

    monkeypatch.setattr(CompiledGraph, "run", off_by_a_bit)
    spec = SPECS["titanic-survival"]
    config = spec.smoke_config()
    data = spec.load_data(config, TrainingRun())
    with pytest.raises(ParityError, match="titanic-survival probability"):
        spec.fit(config, data, TrainingRun())


@pytest.mark.parametrize(
    ("expected", "actual", "problem"),
    [
        (np.array([True, False]), np.array([True, True]), "changes 1 of 2 answers"),
        (np.array([0.5, 0.25]), np.array([0.5, 0.2503]), "differs from the estimator"),
        (np.array([100.0, 200.0]), np.array([100.0, 200.1]), "differs from the estimator"),
        (np.array([0.5]), np.array([0.5, 0.5]), "shape"),
    ],
)
def test_check_parity_refuses_changed_answers(
    expected: np.ndarray, actual: np.ndarray, problem: str
) -> None:
    with pytest.raises(ParityError, match=problem):
        check_parity("model", expected, actual, rtol=1e-4)


def test_check_parity_accepts_float32_rounding() -> None:
    expected = np.array([0.123456789, 1e-9, 250.0])
    check_parity("model", expected, expected.astype(np.float32), rtol=FLOAT32_RTOL)


@pytest.fixture(scope="module")
def old_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    registry = ModelRegistry.from_settings(
        RegistrySettings(home=tmp_path_factory.mktemp("old-versions"))
    )
    import_bundle(registry, OLD_BUNDLE)
    return registry


@pytest.mark.parametrize("name", ["airbnb-price", "spam-svm", "review-sentiment", "mnist-knn"])
def test_versions_published_before_compilation_are_replayed_exactly(
    old_registry: ModelRegistry, name: str
) -> None:
    """Replays are rebuilt from the estimator a version holds, old versions' included."""
    spec = SPECS[name]
    version = old_registry.get_version(name, 1)
    files = old_registry.read_files(
        version, [f for f in version.files if not f.startswith(REPORT_PREFIX)]
    )
    served = spec.load(files, LoadContext())
    example = spec.example_input.model_dump()
    text_field = next((k for k in ("text", "name") if k in example), None)
    variants = [spec.example_input]
    if text_field is not None:
        variants += [
            spec.input_schema.model_validate({**example, text_field: text})
            for text in ("free entry now", "Übergroßes Café, 2BR", "zzz qqq")
        ]
    expected, actual = (_dumped(spec, a, variants) for a in (estimator_only(served), served))
    for key in expected:
        check_parity(key, expected[key], actual[key], rtol=FLOAT32_RTOL)


def test_serving_compiled_models_imports_no_converter(tmp_path: Path) -> None:
    """Conversion happens at publish time: a server opens graphs with ONNX Runtime alone."""
    registry = ModelRegistry.from_settings(RegistrySettings(home=tmp_path))
    try:
        for name in ("titanic-survival", "loan-default"):
            spec = SPECS[name]
            config = spec.smoke_config()
            data = spec.load_data(config, TrainingRun())
            files = spec.save(spec.fit(config, data, TrainingRun()))
            assert COMPILED_FILE in files
            registry.publish(name, files, flavor=spec.flavor)
    finally:
        registry.close()
    script = f"""
import sys
from model_registry import ModelRegistry, RegistrySettings
from training import CATALOG, LoadContext
registry = ModelRegistry.from_settings(RegistrySettings(home={str(tmp_path)!r}))
for spec in CATALOG:
    if spec.name in ("titanic-survival", "loan-default"):
        version = registry.get_version(spec.name, 1)
        artifact = spec.load(registry.read_files(version), LoadContext())
        assert artifact.compiled is not None
        spec.predict(artifact, [spec.example_input])
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"skl2onnx", "onnxmltools", "onnx"}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
