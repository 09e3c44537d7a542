"""The Open Inference Protocol (KServe V2) on a real `practica serve`.

tritonclient, the protocol's reference client, reads the metadata and runs a tabular, a
text and an image model, with tensors in binary and in JSON; its answers must equal the
REST predict route's for the same instances. KServe-style JSON bodies and the errors are
sent with httpx.
"""

import base64
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from PIL import Image
from tritonclient.utils import InferenceServerException

from model_registry import ModelRegistry, RegistrySettings
from tests.e2e.conftest import Server
from training import CATALOG, ModelSpec, get_spec

pytestmark = pytest.mark.e2e

PASSENGERS = [
    {"pclass": 3, "name": "Braund, Mr. Owen Harris", "sex": "male", "age": 22.0, "fare": 7.25,
     "embarked": "S"},
    {"pclass": 1, "name": "Cumings, Mrs. John Bradley", "sex": "female", "age": 38.0,
     "fare": 71.28, "cabin": "C85", "embarked": "C"},
    {"pclass": 2, "name": "Nobody, Master. Unknown", "sex": "male", "fare": 13.0},  # no age
]  # fmt: skip
MESSAGES = [
    "URGENT! You have won a 1 week FREE holiday. Call 09061234567 now to claim your prize!",
    "are we still on for lunch tomorrow? i'll be at the cafe by noon",
]
IRIS = [
    {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2},
    {"sepal_length_cm": 6.7, "sepal_width_cm": 3.0, "petal_length_cm": 5.2, "petal_width_cm": 2.3},
]


@pytest.fixture(scope="module")
def client(read_only_server: Server) -> Iterator[triton.InferenceServerClient]:
    connection = triton.InferenceServerClient(urlsplit(read_only_server.url).netloc)
    yield connection
    connection.close()


def predict(server: Server, name: str, instances: list[Any], **pins: int) -> dict[str, Any]:
    """The REST predict route's answer, the reference every tensor answer is held to."""
    response = httpx.post(
        f"{server.url}/v1/models/{name}/predict",
        json={"instances": instances},
        params=pins,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def tensor(name: str, datatype: str, values: np.ndarray, *, binary: bool) -> Any:
    item = triton.InferInput(name, list(values.shape), datatype)
    item.set_data_from_numpy(values, binary_data=binary)
    return item


def text_array(values: list[str]) -> np.ndarray:
    return np.array([value.encode() for value in values], dtype=np.object_)


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str)
    message: str = body["error"]
    return message


def test_server_health_and_metadata(client: Any) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    server = client.get_server_metadata()
    assert server["name"] == "practica"
    assert "binary_tensor_data" in server["extensions"]
    assert client.is_model_ready("titanic-survival")
    assert client.is_model_ready("titanic-survival", "1")  # a pinned version, loaded on asking


def test_model_metadata_maps_the_typed_schemas_to_tensors(client: Any) -> None:
    titanic = client.get_model_metadata("titanic-survival")
    assert titanic["name"] == "titanic-survival"
    assert titanic["versions"] == ["1", "2"]
    assert titanic["platform"].startswith("practica_")
    spec = get_spec("titanic-survival")
    assert isinstance(spec, ModelSpec)
    inputs = {item["name"]: item for item in titanic["inputs"]}
    assert list(inputs) == list(spec.input_schema.model_fields)
    assert inputs["pclass"] == {"name": "pclass", "datatype": "INT64", "shape": [-1]}
    assert inputs["age"]["datatype"] == "FP64"
    assert inputs["sex"]["datatype"] == "BYTES"
    assert titanic["outputs"] == [
        {"name": "survived", "datatype": "BOOL", "shape": [-1]},
        {"name": "probability", "datatype": "FP64", "shape": [-1]},
    ]
    assert client.get_model_metadata("titanic-survival", "1")["name"] == "titanic-survival"
    cifar = client.get_model_metadata("cifar10-cnn")
    assert cifar["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    names = [output["name"] for output in cifar["outputs"]]
    assert names[0] == "label"
    assert len(names) == 11
    assert all(name.startswith("probabilities.") for name in names[1:])
    mnist = client.get_model_metadata("mnist-mlp")
    assert mnist["inputs"] == [{"name": "pixels", "datatype": "INT64", "shape": [-1, 784]}]
    assert {"name": "probabilities", "datatype": "FP64", "shape": [-1, 10]} in mnist["outputs"]


@pytest.mark.parametrize("version", [None, 1])
def test_tabular_model_answers_as_the_rest_route(
    client: Any, read_only_server: Server, version: int | None
) -> None:
    rows = len(PASSENGERS)
    # Binary and JSON tensors mixed; a NaN age and an empty cabin are missing values.
    inputs = [
        tensor("pclass", "INT64", np.array([p["pclass"] for p in PASSENGERS]), binary=True),
        tensor("name", "BYTES", text_array([p["name"] for p in PASSENGERS]), binary=True),
        tensor("sex", "BYTES", text_array([p["sex"] for p in PASSENGERS]), binary=False),
        tensor("age", "FP64", np.array([p.get("age", math.nan) for p in PASSENGERS]), binary=True),
        tensor("fare", "FP32", np.array([p["fare"] for p in PASSENGERS], dtype=np.float32),
               binary=False),
        tensor("cabin", "BYTES", text_array([p.get("cabin", "") for p in PASSENGERS]),
               binary=True),
        tensor("embarked", "BYTES", text_array([p.get("embarked", "") for p in PASSENGERS]),
               binary=False),
    ]  # fmt: skip
    outputs = [
        triton.InferRequestedOutput("survived", binary_data=True),
        triton.InferRequestedOutput("probability", binary_data=False),
    ]
    pinned = "" if version is None else str(version)
    result = client.infer("titanic-survival", inputs, model_version=pinned, outputs=outputs)
    # The REST route gets the FP32 fares the tensor carried.
    sent = [{**p, "fare": float(np.float32(p["fare"]))} for p in PASSENGERS]
    expected = predict(read_only_server, "titanic-survival", sent, **_pins(version))
    answer = result.get_response()
    assert answer["model_name"] == "titanic-survival"
    assert answer["model_version"] == str(expected["version"])
    assert result.as_numpy("survived").shape == (rows,)
    assert result.as_numpy("survived").tolist() == [p["survived"] for p in expected["predictions"]]
    assert result.as_numpy("probability").tolist() == pytest.approx(
        [p["probability"] for p in expected["predictions"]], rel=1e-9
    )


def _pins(version: int | None) -> dict[str, int]:
    return {} if version is None else {"version": version}


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_text_model_answers_as_the_rest_route(
    client: Any, read_only_server: Server, binary: bool
) -> None:
    inputs = [tensor("text", "BYTES", text_array(MESSAGES), binary=binary)]
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("label", "score")]
    result = client.infer("spam-svm", inputs, outputs=outputs, request_id="sms-1")
    expected = predict(read_only_server, "spam-svm", [{"text": text} for text in MESSAGES])
    assert result.get_response()["id"] == "sms-1"
    labels = [label.decode() if binary else label for label in result.as_numpy("label").tolist()]
    assert labels == [p["label"] for p in expected["predictions"]]
    assert result.as_numpy("score").tolist() == pytest.approx(
        [p["score"] for p in expected["predictions"]], rel=1e-9
    )


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_image_model_answers_as_the_rest_route(
    client: Any, read_only_server: Server, binary: bool
) -> None:
    spec = get_spec("cifar10-cnn")
    assert isinstance(spec, ModelSpec)
    images = [base64.b64decode(spec.example_input.image_base64), _png(seed=7)]  # JPEG, PNG
    # In binary the elements are the files; in JSON, BYTES must be text: their base64.
    elements = images if binary else [base64.b64encode(image) for image in images]
    inputs = [tensor("image", "BYTES", np.array(elements, dtype=np.object_), binary=binary)]
    result = client.infer("cifar10-cnn", inputs)  # no outputs named: all, in binary
    expected = predict(
        read_only_server,
        "cifar10-cnn",
        [{"image_base64": base64.b64encode(image).decode()} for image in images],
    )["predictions"]
    assert [label.decode() for label in result.as_numpy("label")] == [p["label"] for p in expected]
    for name, probability in expected[0]["probabilities"].items():
        column = result.as_numpy(f"probabilities.{name}")
        assert column.tolist() == pytest.approx(
            [probability, expected[1]["probabilities"][name]], rel=1e-6
        )


def test_kserve_json_bodies(read_only_server: Server) -> None:
    body = {
        "id": "iris-42",
        "inputs": [
            # KServe clients may nest the data as the shape; [batch, 1] for a column
            {"name": name, "shape": [2, 1], "datatype": "FP64", "data": [[row[name]] for row in IRIS]}
            for name in IRIS[0]
        ],
    }  # fmt: skip
    url = f"{read_only_server.url}/v2/models/iris-pca/infer"
    response = httpx.post(url, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    expected = predict(read_only_server, "iris-pca", IRIS)
    assert answer["id"] == "iris-42"
    assert answer["model_version"] == str(expected["version"])
    (components,) = answer["outputs"]
    assert components["name"] == "components"
    assert components["shape"] == [2, 2]
    assert components["datatype"] == "FP64"
    flat = [value for p in expected["predictions"] for value in p["components"]]
    assert components["data"] == pytest.approx(flat, rel=1e-9)

    # Asking for one output in binary: the JSON comes first, its length in a header.
    binary_body = {**body, "outputs": [{"name": "components", "parameters": {"binary_data": True}}]}
    response = httpx.post(url, json=binary_body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["Inference-Header-Content-Length"])
    header = json.loads(response.content[:length])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 32}
    values = np.frombuffer(response.content[length:], dtype="<f8").reshape(2, 2)
    assert values.flatten().tolist() == pytest.approx(flat, rel=1e-9)

    assert httpx.get(f"{read_only_server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{read_only_server.url}/v2/health/ready").json() == {"ready": True}
    ready = httpx.get(f"{read_only_server.url}/v2/models/iris-pca/ready")
    assert ready.json() == {"name": "iris-pca", "ready": True}


def test_errors_are_json_with_the_status_that_fits(read_only_server: Server) -> None:
    v2 = f"{read_only_server.url}/v2"
    row = {"name": "a", "shape": [1], "datatype": "INT64", "data": [1]}
    xor = {"inputs": [row, {**row, "name": "b"}]}

    assert "no model 'nope'" in error_of(httpx.get(f"{v2}/models/nope"), 404)
    assert "no model" in error_of(httpx.post(f"{v2}/models/nope/infer", json=xor), 404)
    assert "no model" in error_of(httpx.get(f"{v2}/models/netflix-eda"), 404)  # report only
    error_of(httpx.get(f"{v2}/models/xor-net/versions/99"), 404)
    error_of(httpx.get(f"{v2}/models/xor-net/versions/99/ready"), 404)
    error_of(httpx.post(f"{v2}/models/xor-net/versions/99/infer", json=xor), 404)
    assert "versions are numbers" in error_of(httpx.get(f"{v2}/models/xor-net/versions/x1"), 404)
    assert httpx.post(f"{v2}/models/xor-net/infer", json=xor).status_code == 200

    wrong_type = {"inputs": [row, {**row, "name": "b", "datatype": "FP32", "data": [1.0]}]}
    message = error_of(httpx.post(f"{v2}/models/xor-net/infer", json=wrong_type), 400)
    assert "'b' is FP32, expected INT64" in message
    unknown = {"inputs": [row, {**row, "name": "c"}]}
    assert "no input 'c'" in error_of(httpx.post(f"{v2}/models/xor-net/infer", json=unknown), 400)
    missing = {"inputs": [row]}
    assert "'b' is missing" in error_of(httpx.post(f"{v2}/models/xor-net/infer", json=missing), 400)
    out_of_range = {"inputs": [row, {**row, "name": "b", "data": [7]}]}
    message = error_of(httpx.post(f"{v2}/models/xor-net/infer", json=out_of_range), 400)
    assert "input 'b', instance 0" in message
    not_json = httpx.post(f"{v2}/models/xor-net/infer", content=b"{", headers={})
    assert "invalid infer request" in error_of(not_json, 400)
    lying = httpx.post(
        f"{v2}/models/xor-net/infer",
        content=json.dumps(xor).encode(),
        headers={"Inference-Header-Content-Length": "100000"},
    )
    assert "Inference-Header-Content-Length" in error_of(lying, 400)
    gzipped = httpx.post(
        f"{v2}/models/xor-net/infer", json=xor, headers={"content-encoding": "gzip"}
    )
    error_of(gzipped, 415)
    not_an_image = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                                "data": [base64.b64encode(b"plain text").decode()]}]}  # fmt: skip
    message = error_of(httpx.post(f"{v2}/models/cifar10-cnn/infer", json=not_an_image), 400)
    assert "input 'image'" in message


def test_tritonclient_raises_the_servers_error(client: Any) -> None:
    inputs = [tensor("text", "BYTES", text_array(["hello", "world"]), binary=True)]
    with pytest.raises(InferenceServerException) as refused:
        client.infer("review-sentiment", inputs, outputs=[triton.InferRequestedOutput("score")])
    assert refused.value.status() == "400"
    assert "no output 'score'" in refused.value.message()
    assert not client.is_model_ready("no-such-model")


def test_a_version_that_cannot_be_loaded_is_not_ready(server: Server, home_copy: Path) -> None:
    """A corrupted artifact: 503 from readiness and inference, while v2 keeps serving."""
    registry = ModelRegistry.from_settings(RegistrySettings(home=home_copy))
    try:
        old = registry.get_version("titanic-survival", 1).files
        current = registry.get_version("titanic-survival", 2).files
    finally:
        registry.close()
    kept = {ref.sha256 for ref in current.values()}
    for ref in old.values():
        if ref.sha256 not in kept:
            blob = home_copy / "artifacts" / "sha256" / ref.sha256[:2] / ref.sha256
            blob.write_bytes(b"corrupted")
    v2 = f"{server.url}/v2/models/titanic-survival"
    assert "not ready" in error_of(httpx.get(f"{v2}/versions/1/ready"), 503)
    passenger = {
        "inputs": [
            {"name": name, "shape": [1], "datatype": datatype, "data": [value]}
            for name, datatype, value in (
                ("pclass", "INT64", 1), ("name", "BYTES", "A, Mr. B"), ("sex", "BYTES", "male")
            )
        ]
    }  # fmt: skip
    error_of(httpx.post(f"{v2}/versions/1/infer", json=passenger), 503)
    assert httpx.post(f"{v2}/infer", json=passenger).status_code == 200


def test_every_servable_model_is_on_v2(read_only_server: Server) -> None:
    for spec in CATALOG:
        if isinstance(spec, ModelSpec):
            response = httpx.get(f"{read_only_server.url}/v2/models/{spec.name}")
            assert response.status_code == 200, (spec.name, response.text)
