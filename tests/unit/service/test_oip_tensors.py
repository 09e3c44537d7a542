"""The Open Inference Protocol's tensors of each catalog model, and its binary extension.

No server and no trained model: the mapping is derived from the schemas alone. The
answers are read back with tritonclient's own decoder.
"""

import base64
import json
import math
import struct
from typing import Any

import numpy as np
import pytest
from tritonclient.http import InferResult

from service.routes.oip_tensors import ModelTensors, Tensor, TensorError
from service.routes.oip_wire import HEADER_LENGTH, InferCall, infer_response, read_request
from training import CATALOG, ModelSpec, get_spec

MODELS = [spec for spec in CATALOG if isinstance(spec, ModelSpec)]


def tensors(name: str) -> ModelTensors:
    spec = get_spec(name)
    assert isinstance(spec, ModelSpec)
    return ModelTensors.of(spec)


def binary_body(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, str]:
    encoded = json.dumps(header).encode()
    return encoded + b"".join(blobs), str(len(encoded))


def bytes_tensor(*items: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


@pytest.mark.parametrize("spec", MODELS, ids=lambda spec: spec.name)
def test_example_request_round_trips_to_the_example_instance(spec: Any) -> None:
    model = ModelTensors.of(spec)  # every servable model has a tensor form
    body = json.dumps(model.example_request()).encode()
    (instance,) = model.instances(read_request(body, None).inputs)
    assert instance == spec.example_input


def test_metadata_names_fields_datatypes_and_fixed_lengths() -> None:
    assert [spec.metadata() for spec in tensors("mnist-mlp").inputs] == [
        {"name": "pixels", "datatype": "INT64", "shape": [-1, 784]}
    ]
    titanic = {spec.name: spec.metadata() for spec in tensors("titanic-survival").inputs}
    assert titanic["pclass"] == {"name": "pclass", "datatype": "INT64", "shape": [-1]}
    assert titanic["sex"]["datatype"] == "BYTES"
    assert titanic["fare"]["datatype"] == "FP64"
    outputs = [spec.metadata() for spec in tensors("cat-dog").outputs]
    assert [output["name"] for output in outputs] == [
        "label",
        "probabilities.cat",
        "probabilities.dog",
    ]
    assert {output["datatype"] for output in outputs[1:]} == {"FP64"}
    names = [spec.name for spec in tensors("movie-recommender").outputs]
    assert names == ["matched_title", "recommendations.title", "recommendations.score"]


def test_missing_values_of_nullable_fields_and_left_out_optional_inputs() -> None:
    model = tensors("titanic-survival")
    sent = [
        Tensor("pclass", "INT32", (2, 1), [3, 1]),
        Tensor("name", "BYTES", (2,), [b"Braund, Mr. Owen Harris", "Cumings, Mrs. John"]),
        Tensor("sex", "BYTES", (2,), ["male", "female"]),
        Tensor("age", "FP32", (2,), [22.0, math.nan]),
        Tensor("cabin", "BYTES", (2,), ["", "C85"]),
    ]
    first, second = model.instances(sent)
    assert (first.pclass, first.age, first.cabin, first.sibsp) == (3, 22.0, None, 0)
    assert (second.name, second.age, second.cabin) == ("Cumings, Mrs. John", None, "C85")


def test_nan_in_a_required_number_is_refused_naming_input_and_instance() -> None:
    sent = [
        Tensor(name, "FP64", (2,), [1.0, math.nan if name == "petal_width_cm" else 1.0])
        for name in ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")
    ]
    with pytest.raises(TensorError, match=r"input 'petal_width_cm', instance 1: .*finite"):
        tensors("iris-pca").instances(sent)


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ([Tensor("pixels", "FP32", (1, 784), [0.0] * 784)], "is FP32, expected INT64"),
        ([Tensor("pixels", "INT64", (1, 28, 28), [0] * 784)], r"expected \[-1, 784\]"),
        ([Tensor("pixels", "INT64", (1, 783), [0] * 783)], r"expected \[-1, 784\]"),
        ([Tensor("pixel", "INT64", (1, 784), [0] * 784)], "no input 'pixel'; its inputs are"),
        ([Tensor("pixels", "INT64", (0, 784), [])], "a batch of 0"),
        ([Tensor("pixels", "INT64", (1001, 0), [])], "a batch of 1001"),
        ([Tensor("pixels", "INT64", (1, 784), [256] * 784)], "instance 0 at \\[0\\]: .*255"),
    ],
)
def test_tensors_that_do_not_fit_are_refused(sent: list[Tensor], message: str) -> None:
    with pytest.raises(TensorError, match=message):
        tensors("mnist-knn").instances(sent)


def test_inputs_must_agree_on_the_batch_and_required_ones_be_sent() -> None:
    model = tensors("xor-net")
    with pytest.raises(TensorError, match="input 'b' is missing"):
        model.instances([Tensor("a", "INT64", (1,), [1])])
    with pytest.raises(TensorError, match="first dimensions"):
        model.instances([Tensor("a", "INT64", (1,), [1]), Tensor("b", "INT64", (2,), [0, 1])])


def test_binary_inputs_follow_the_json_in_order() -> None:
    pixels = (np.arange(784) % 256).astype(np.uint8)
    header = {
        "inputs": [
            {"name": "text", "shape": [2], "datatype": "BYTES",
             "parameters": {"binary_data_size": len(bytes_tensor(b"hello", "caf\u00e9".encode()))}},
            {"name": "pixels", "shape": [1, 784], "datatype": "UINT8",
             "parameters": {"binary_data_size": 784}},
        ]
    }  # fmt: skip
    body, length = binary_body(
        header, bytes_tensor(b"hello", "caf\u00e9".encode()), pixels.tobytes()
    )
    call = read_request(body, length)
    text, image = call.inputs
    assert text.data == [b"hello", "café".encode()]
    assert image.data == pixels.tolist()
    with pytest.raises(TensorError, match="belong to no input"):
        read_request(body + b"\0", length)
    with pytest.raises(TensorError, match=HEADER_LENGTH):
        read_request(body, str(len(body) + 1))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "x", "shape": [2], "datatype": "FP64", "data": [1.0]}, "holds 2 elements"),
        ({"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}, "are integers"),
        ({"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}, "true or false"),
        ({"name": "x", "shape": [1], "datatype": "BYTES", "data": [3]}, "are strings"),
        ({"name": "x", "shape": [1], "datatype": "FP64", "data": [[1.0]]}, "nested deeper"),
        ({"name": "x", "shape": [1, 10**9, 0], "datatype": "FP64", "data": []}, "too large"),
        ({"name": "x", "shape": [1], "datatype": "FP64"}, "no `data`"),
        ({"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}, "datatype"),
        ({"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0],
          "parameters": {"shared_memory_region": "r"}}, "not supported"),
    ],
)  # fmt: skip
def test_malformed_inputs_are_refused(item: dict[str, Any], message: str) -> None:
    with pytest.raises(TensorError, match=message):
        read_request(json.dumps({"inputs": [item]}).encode(), None)


def test_bytes_elements_must_fill_their_binary_data_exactly() -> None:
    header = {
        "inputs": [
            {"name": "text", "shape": [2], "datatype": "BYTES",
             "parameters": {"binary_data_size": 9}},
        ]
    }  # fmt: skip
    body, length = binary_body(header, bytes_tensor(b"hello"))  # 9 bytes, one element
    with pytest.raises(TensorError, match="not 2 BYTES elements"):
        read_request(body, length)


def test_outputs_in_json_and_binary_read_back_by_tritonclient() -> None:
    model = tensors("movie-recommender")
    prediction_type = model.spec.output_schema
    predictions = [
        prediction_type(
            matched_title="Toy Story (1995)",
            recommendations=[{"title": "Toy Story 2 (1999)", "score": 0.9},
                             {"title": "Aladdin (1992)", "score": 0.5}],
        ),
        prediction_type(
            matched_title="Heat (1995)",
            recommendations=[{"title": "Casino (1995)", "score": 0.8},
                             {"title": "Ronin (1998)", "score": 0.7}],
        ),
    ]  # fmt: skip
    columns = model.output_columns(predictions, None)
    call = InferCall(
        id="r1",
        inputs=[],
        output_names=None,
        is_binary={"recommendations.score": False},
        binary_default=True,
    )
    response = infer_response("movie-recommender", 3, call, columns)
    header = response.headers[HEADER_LENGTH]
    result = InferResult.from_response_body(bytes(response.body), header_length=int(header))
    assert result.get_response()["id"] == "r1"
    assert result.get_response()["model_version"] == "3"
    titles = result.as_numpy("recommendations.title")
    assert titles.shape == (2, 2)
    assert titles[1, 0] == b"Casino (1995)"
    assert result.as_numpy("recommendations.score").tolist() == [[0.9, 0.5], [0.8, 0.7]]
    assert result.as_numpy("matched_title").tolist() == [b"Toy Story (1995)", b"Heat (1995)"]


def test_ragged_outputs_are_refused_unless_left_out() -> None:
    model = tensors("movie-recommender")
    prediction_type = model.spec.output_schema
    predictions = [
        prediction_type(matched_title="A", recommendations=[{"title": "B", "score": 1.0}]),
        prediction_type(matched_title="C", recommendations=[]),
    ]
    with pytest.raises(TensorError, match="one per request"):
        model.output_columns(predictions, None)
    ((spec, shape, flat),) = model.output_columns(predictions, ["matched_title"])
    assert (spec.name, shape, flat) == ("matched_title", [2], ["A", "C"])
    with pytest.raises(TensorError, match="no output 'score'"):
        model.output_columns(predictions, ["score"])


def test_images_come_as_file_bytes_in_binary_and_base64_in_json() -> None:
    model = tensors("cat-dog")
    encoded = model.spec.example_input.image_base64
    raw = base64.b64decode(encoded)
    (from_binary,) = model.instances([Tensor("image", "BYTES", (1,), [raw])])
    (from_json,) = model.instances([Tensor("image", "BYTES", (1,), [encoded])])
    assert from_binary.image().size == from_json.image().size
    with pytest.raises(ValueError, match="image"):
        model.instances([Tensor("image", "BYTES", (1,), [b"not an image"])])
    with pytest.raises(TensorError, match="input 'image', instance 0"):
        model.instances([Tensor("image", "BYTES", (1,), ["not base64!"])])
