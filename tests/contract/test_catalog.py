"""The contract every catalog model honours: a new model is tested by being listed.

Smoke profile here (seconds per model); the quality floors are in test_floors.py.
"""

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import training.models
from model_registry import ModelRegistry, RegistrySettings
from model_registry.names import MODEL_NAME
from service import ServiceSettings, create_app
from training import CATALOG, AnySpec, LoadContext, ModelSpec, TrainableSpec
from training.runner import REPORT_PREFIX

SERVABLE = [spec for spec in CATALOG if isinstance(spec, ModelSpec)]


def _ids(specs: list[AnySpec]) -> list[str]:
    return [spec.name for spec in specs]


def test_catalog_names_are_unique() -> None:
    names = [spec.name for spec in CATALOG]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", CATALOG, ids=_ids(list(CATALOG)))
def test_spec_lives_in_the_module_named_after_its_slug(spec: AnySpec) -> None:
    assert MODEL_NAME.fullmatch(spec.name)
    module = importlib.import_module(f"training.models.{spec.name.replace('-', '_')}")
    assert type(spec).__module__ == module.__name__


def test_every_model_file_is_exactly_one_catalog_entry() -> None:
    """`training/models/x.py` is a catalog entry; family helpers start with an underscore."""
    folder = Path(training.models.__file__).parent
    files = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    entries = [spec.name.replace("-", "_") for spec in CATALOG]
    assert sorted(entries) == sorted(files)
    for stem in files:
        module = importlib.import_module(f"training.models.{stem}")
        specs = [
            value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, TrainableSpec)
            and value.__module__ == module.__name__ and not inspect.isabstract(value)
        ]  # fmt: skip
        assert len(specs) == 1, f"{stem}.py defines {len(specs)} catalog specs"


@pytest.mark.parametrize("spec", CATALOG, ids=_ids(list(CATALOG)))
def test_smoke_training_publishes_a_complete_version(spec: AnySpec, trained_home: Path) -> None:
    registry = ModelRegistry.from_settings(RegistrySettings(home=trained_home))
    try:
        versions = registry.list_versions(spec.name)
        assert len(versions) == len(spec.stages("smoke"))
        for version in versions:
            assert version.flavor == spec.flavor
            assert version.lineage.dataset_sha256, "the datasets it trained on are fingerprinted"
            assert version.lineage.library_versions
            assert version.lineage.training_seconds is not None
            assert {f"{REPORT_PREFIX}metrics.json", f"{REPORT_PREFIX}report.json"} <= set(
                version.files
            )
            assert any(f.endswith(".png") for f in version.files), "a report has plots"
            assert set(version.params) >= set(spec.config_schema.model_fields)
            for floor in spec.floors:
                assert floor.metric in version.metrics, f"metric key {floor.metric} is public API"
            artifact_files = {
                k: v
                for k, v in registry.read_files(version).items()
                if not k.startswith(REPORT_PREFIX)
            }
            spec.load(artifact_files, LoadContext())  # loads back, pickle-free, hashes verified
    finally:
        registry.close()


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_loaded_version_predicts_its_example(spec: ModelSpec, trained_home: Path) -> None:  # type: ignore[type-arg]
    registry = ModelRegistry.from_settings(RegistrySettings(home=trained_home))
    try:
        version = registry.resolve(spec.name)
        signature = version.signature
        assert signature.inputs == spec.input_schema.model_json_schema()
        assert signature.outputs == spec.output_schema.model_json_schema()
        files = registry.read_files(
            version, [f for f in version.files if not f.startswith(REPORT_PREFIX)]
        )
        predictions = spec.predict(
            spec.load(files, LoadContext()), [spec.example_input, spec.example_input]
        )
    finally:
        registry.close()
    assert len(predictions) == 2
    for prediction in predictions:
        spec.output_schema.model_validate(prediction.model_dump())
    assert predictions[0] == predictions[1], "predictions are deterministic"


@pytest.fixture(scope="module")
def served(trained_home: Path) -> TestClient:
    app = create_app(ServiceSettings(home=trained_home, log_json=False))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_openapi_example_predicts_over_http(spec: ModelSpec, served: TestClient) -> None:  # type: ignore[type-arg]
    operation = served.get("/openapi.json").json()["paths"][f"/v1/models/{spec.name}/predict"][
        "post"
    ]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["example"][
        "value"
    ]
    response = served.post(f"/v1/models/{spec.name}/predict", json=example)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == spec.name
    assert len(body["predictions"]) == 1
    spec.output_schema.model_validate(body["predictions"][0])


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_openapi_shows_the_models_own_schemas(spec: ModelSpec, served: TestClient) -> None:  # type: ignore[type-arg]
    schemas = served.get("/openapi.json").json()["components"]["schemas"]
    assert spec.input_schema.__name__ in schemas
    assert spec.output_schema.__name__ in schemas


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_wrong_types_and_unknown_fields_get_422_naming_the_field(
    spec: ModelSpec, served: TestClient
) -> None:  # type: ignore[type-arg]
    example = spec.example_input.model_dump(mode="json")
    field = next(iter(example))
    for broken in ({**example, field: {"not": "valid"}}, {**example, "unexpected_field": 1}):
        response = served.post(f"/v1/models/{spec.name}/predict", json={"instances": [broken]})
        assert response.status_code == 422, response.text
        locations = [issue["loc"] for issue in response.json()["detail"]]
        assert any(loc[:3] == ["body", "instances", 0] for loc in locations)
    missing = {k: v for k, v in example.items() if k != field}
    response = served.post(f"/v1/models/{spec.name}/predict", json={"instances": [missing]})
    if field in spec.input_schema.model_json_schema().get("required", []):
        assert response.status_code == 422
        assert ["body", "instances", 0, field] in [i["loc"] for i in response.json()["detail"]]


def _type_swaps(value: object) -> list[object]:
    """Values of another JSON type than `value`'s, each of which lax validation would read
    as `value`'s type: the number as text, a boolean as a number and the reverse."""
    if isinstance(value, bool):
        return [int(value), str(value).lower()]
    if isinstance(value, int | float):
        return [str(value), True]
    if isinstance(value, list) and value and isinstance(value[0], int | float):
        return [[str(value[0]), *value[1:]], [True, *value[1:]]]
    return []


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_json_types_are_taken_as_the_schema_states_them(
    spec: ModelSpec, served: TestClient
) -> None:  # type: ignore[type-arg]
    url = f"/v1/models/{spec.name}/predict"
    example = spec.example_input.model_dump(mode="json")
    for field, value in example.items():
        for swapped in _type_swaps(value):
            response = served.post(url, json={"instances": [{**example, field: swapped}]})
            assert response.status_code == 422, f"{field}={swapped!r}: {response.text}"
            locations = [issue["loc"][:5] for issue in response.json()["detail"]]
            assert ["body", "instances", 0, field] in [loc[:4] for loc in locations]
    # JSON Schema's integer takes 3.0: so does every integer field.
    integral = {
        field: float(value) if type(value) is int else
        [float(v) for v in value] if isinstance(value, list) and value and type(value[0]) is int
        else value
        for field, value in example.items()
    }  # fmt: skip
    assert served.post(url, json={"instances": [integral]}).status_code == 200


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_too_many_instances_get_422(spec: ModelSpec, served: TestClient) -> None:  # type: ignore[type-arg]
    example = spec.example_input.model_dump(mode="json")
    response = served.post(f"/v1/models/{spec.name}/predict", json={"instances": [example] * 1001})
    assert response.status_code in (413, 422)
    response = served.post(f"/v1/models/{spec.name}/predict", json={"instances": []})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "instances"]


@pytest.mark.parametrize("spec", CATALOG, ids=_ids(list(CATALOG)))
def test_report_route_serves_metrics_and_plots(spec: AnySpec, served: TestClient) -> None:
    report = served.get(f"/v1/models/{spec.name}/report")
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["metrics"]
    assert body["notes"]
    assert body["plots"]
    for plot in body["plots"]:
        image = served.get(plot["url"])
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")


def _out_of_range_values(spec: ModelSpec) -> list[tuple[str, object]]:  # type: ignore[type-arg]
    """(field, value) pairs just outside each bound the input schema declares."""
    schema = spec.input_schema.model_json_schema()
    cases: list[tuple[str, object]] = []
    for field, prop in schema["properties"].items():
        options = prop.get("anyOf", [prop])
        for option in options:
            for key, delta in (
                ("minimum", -1),
                ("exclusiveMinimum", 0),
                ("maximum", 1),
                ("exclusiveMaximum", 0),
            ):
                if key in option:
                    value = (
                        option[key] + delta
                        if option.get("type") == "integer"
                        else option[key] + delta * max(1, abs(option[key]))
                    )
                    cases.append((field, value))
            if option.get("type") == "string" and option.get("minLength", 0) >= 1:
                cases.append((field, "   "))  # empty once trimmed
            if "enum" in option:
                cases.append((field, "not-a-choice"))
            if option.get("type") == "array" and option.get("minItems", 0) >= 1:
                cases.append((field, []))
    return cases


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_out_of_range_and_empty_values_get_422_naming_the_field(
    spec: ModelSpec, served: TestClient
) -> None:  # type: ignore[type-arg]
    example = spec.example_input.model_dump(mode="json")
    cases = _out_of_range_values(spec)
    assert cases, f"{spec.name}'s input schema declares no bounds at all"
    for field, value in cases:
        response = served.post(
            f"/v1/models/{spec.name}/predict", json={"instances": [{**example, field: value}]}
        )
        assert response.status_code == 422, f"{field}={value!r}: {response.text}"
        locations = [issue["loc"] for issue in response.json()["detail"]]
        assert any(field in loc for loc in locations), f"{field}={value!r}: {locations}"


def _boundary_values(spec: ModelSpec) -> list[tuple[str, object]]:  # type: ignore[type-arg]
    """(field, value) pairs at each inclusive bound, plus null where a field allows it."""
    cases: list[tuple[str, object]] = []
    for field, prop in spec.input_schema.model_json_schema()["properties"].items():
        for option in prop.get("anyOf", [prop]):
            cases += [(field, option[key]) for key in ("minimum", "maximum") if key in option]
            if option.get("type") == "null":
                cases.append((field, None))
            is_text = "enum" not in option and "contentEncoding" not in option  # not base64
            if option.get("type") == "string" and "maxLength" in option and is_text:
                cases.append((field, "x" * option["maxLength"]))
    return cases


@pytest.mark.parametrize("spec", SERVABLE, ids=_ids(SERVABLE))
def test_valid_extreme_values_are_answered(spec: ModelSpec, served: TestClient) -> None:  # type: ignore[type-arg]
    """Every value the schema accepts gets a prediction: no overflow, NaN or crash at the edges."""
    example = spec.example_input.model_dump(mode="json")
    extremes = [{**example, field: value} for field, value in _boundary_values(spec)]
    url = f"/v1/models/{spec.name}/predict"
    response = served.post(url, json={"instances": extremes[:100] or [example]})
    if response.status_code == 404 and response.json()["code"].startswith("unknown_"):
        # A lookup model (the recommender) may know no item by an edge value ("x" * 300):
        # each edge alone must then get an answer or that 404, never an error.
        for instance in extremes[:100]:
            alone = served.post(url, json={"instances": [instance]})
            assert alone.status_code in (200, 404), alone.text
            assert alone.status_code == 200 or alone.json()["code"].startswith("unknown_")
        return
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == min(len(extremes), 100) or not extremes


def test_serving_every_model_never_imports_torch(trained_home: Path) -> None:
    """A server that loaded and ran every catalog model has not loaded PyTorch (nor matplotlib)."""
    script = f"""
import os, sys
from fastapi.testclient import TestClient
from service.app import create_server_app
from training import CATALOG, ModelSpec
os.environ["PRACTICA_HOME"] = {str(trained_home)!r}
app = create_server_app()
with TestClient(app) as client:
    for spec in CATALOG:
        if isinstance(spec, ModelSpec):
            body = {{"instances": [spec.example_input.model_dump(mode="json")]}}
            response = client.post(f"/v1/models/{{spec.name}}/predict", json=body)
            assert response.status_code == 200, (spec.name, response.text)
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "matplotlib", "transformers"}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
