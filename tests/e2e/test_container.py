"""`practica container serve`, SageMaker's `serve`, as a real process on an /opt/ml-style tree.

Each server reads an exported bundle from `$SAGEMAKER_BASE_DIR/model`, listens on
`SAGEMAKER_BIND_TO_PORT`, and is driven over HTTP. The Dockerfile is checked to run this
very command on these very paths.
"""

import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from model_registry import ModelRegistry, RegistrySettings, export_bundle
from service import ServiceSettings, create_app
from service.import_guard import TRAINING_ONLY
from service.routes.sagemaker import build_sagemaker_router
from service.settings import SAGEMAKER_MAX_BODY_BYTES, SageMakerEnvironment
from tests.dockerfile import dockerfile_stages, lineage
from tests.e2e.conftest import practica_command
from tests.e2e.containers import (
    IRIS,
    TARGET,
    Container,
    image,
    left_in_tmpdir,
    opt_ml,
    serving,
    size_bomb,
    special,
    start,
    unpacked,
    with_member,
)
from training import get_spec

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BUNDLED = ("iris-pca", "titanic-survival", "spam-svm", "cifar10-cnn")  # cifar10-cnn: an image model
PASSENGER = {"pclass": 3, "name": "Braund, Mr. Owen Harris", "sex": "male", "age": 22, "fare": 7.25}


# ----------------------------------------------------------------- the bundle and the container


@pytest.fixture(scope="module")
def bundle(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`practica export` of a few cheap models of the smoke-trained home."""
    out = tmp_path_factory.mktemp("export") / "model.tar.gz"
    with ModelRegistry.from_settings(RegistrySettings(home=trained_home)) as registry:
        export_bundle(registry, out, BUNDLED)
    return out


@pytest.fixture(scope="module")
def container(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """One container serving the four bundled models, with no default model."""
    workdir = tmp_path_factory.mktemp("container")
    with serving(opt_ml(workdir, bundle), workdir) as started:
        yield started


def test_ping_is_503_while_loading_then_200_fast(container: Container) -> None:
    before = container.statuses_while_starting[:-1]
    assert 503 in before, before  # listening while the models load
    assert set(before) <= {0, 503}
    started = time.perf_counter()
    ping = httpx.get(f"{container.url}/ping")
    assert (ping.status_code, ping.content) == (200, b"")
    assert time.perf_counter() - started < 2  # SageMaker's budget for a health check


def test_same_routes_as_practica_serve_for_the_bundled_models(container: Container) -> None:
    predicted = httpx.post(
        f"{container.url}/v1/models/iris-pca/predict", json={"instances": [IRIS]}
    )
    assert predicted.status_code == 200
    assert httpx.get(f"{container.url}/readyz").json()["serving"].keys() == set(BUNDLED)
    paths = httpx.get(f"{container.url}/openapi.json").json()["paths"]
    assert {"/ping", "/invocations", "/v1/models/titanic-survival/predict"} <= paths.keys()
    assert "/v1/models/house-prices/predict" not in paths  # not in the bundle
    example = paths["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    assert example["example"]["instances"]


# ----------------------------------------------------------------- /invocations


def test_json_instances_answer_as_the_predict_route(container: Container) -> None:
    batch = container.invoke(
        json.dumps({"instances": [IRIS, IRIS]}), "application/json", **{TARGET: "iris-pca"}
    )
    assert batch.status_code == 200
    assert batch.headers["content-type"] == "application/json"
    predicted = httpx.post(
        f"{container.url}/v1/models/iris-pca/predict", json={"instances": [IRIS, IRIS]}
    )
    assert batch.json() == predicted.json()
    assert batch.json()["model"] == "iris-pca"

    single = container.invoke(
        json.dumps(IRIS), "application/json; charset=utf-8", **{TARGET: "iris-pca"}
    )
    assert single.status_code == 200
    [one] = single.json()["predictions"]
    assert one["components"] == pytest.approx(batch.json()["predictions"][0]["components"])


def test_csv_rows_in_schema_order_or_under_a_header(container: Container) -> None:
    headers = {TARGET: "titanic-survival", "accept": "text/csv"}
    in_order = 'pclass,name,sex,age,sibsp,parch,ticket,fare,cabin,embarked\n3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S\n1,"Cumings, Mrs. John Bradley",female,38,1,0,PC 17599,71.28,C85,C\n'
    without_header = in_order.split("\n", 1)[1]
    some_columns = 'sex,name,pclass\nfemale,"Cumings, Mrs. John Bradley",1\r\n'
    for body, rows in ((without_header, 2), (in_order, 2), (some_columns, 1)):
        answer = container.invoke(body, "text/csv", **headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        lines = answer.text.splitlines()
        assert lines[0] == "survived,probability"
        assert len(lines) == 1 + rows
        assert all(re.fullmatch(r"(true|false),0?\.?[0-9.e-]+", line) for line in lines[1:])

    as_json = container.invoke(without_header, "text/csv", **{TARGET: "titanic-survival"})
    assert [p["survived"] for p in as_json.json()["predictions"]] == [
        line.startswith("true")
        for line in container.invoke(without_header, "text/csv", **headers).text.splitlines()[1:]
    ]


def test_csv_answers_flatten_lists_and_objects(container: Container) -> None:
    iris = container.invoke(
        "5.1,3.5,1.4,0.2\n", "text/csv", accept="text/csv", **{TARGET: "iris-pca"}
    )
    assert iris.text.splitlines()[0] == "components.0,components.1"
    photo = container.invoke(
        image("PNG"), "image/png", accept="text/csv", **{TARGET: "cifar10-cnn"}
    )
    header = photo.text.splitlines()[0].split(",")
    assert header[0] == "label"
    assert "probabilities.airplane" in header


def test_raw_images_for_image_models(container: Container) -> None:
    for fmt, media_type in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        answer = container.invoke(image(fmt), media_type, **{TARGET: "cifar10-cnn"})
        assert answer.status_code == 200, answer.text
        [prediction] = answer.json()["predictions"]
        assert prediction["label"] in prediction["probabilities"]
    not_an_image = container.invoke(b"GIF89 not really", "image/png", **{TARGET: "cifar10-cnn"})
    assert (not_an_image.status_code, not_an_image.json()["code"]) == (415, "unsupported_image")
    to_a_table_model = container.invoke(image("PNG"), "image/png", **{TARGET: "iris-pca"})
    assert to_a_table_model.status_code == 415
    assert "takes no images" in to_a_table_model.json()["detail"]


def test_the_model_is_chosen_by_the_header_or_said_to_be_missing(container: Container) -> None:
    unchosen = container.invoke(json.dumps(IRIS), "application/json")
    assert (unchosen.status_code, unchosen.json()["code"]) == (400, "model_not_chosen")
    assert TARGET in unchosen.json()["detail"]
    assert "PRACTICA_DEFAULT_MODEL" in unchosen.json()["detail"]
    unknown = container.invoke(json.dumps(IRIS), "application/json", **{TARGET: "house-prices"})
    assert unknown.status_code == 404
    assert "iris-pca" in unknown.json()["detail"]  # says what is served
    hostile = container.invoke(json.dumps(IRIS), "application/json", **{TARGET: "../../etc"})
    assert (hostile.status_code, hostile.json()["code"]) == (422, "invalid_name")


def test_media_types_and_accept(container: Container) -> None:
    iris = {TARGET: "iris-pca"}
    wrong_type = container.invoke("5.1,3.5,1.4,0.2", "text/plain", **iris)
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (415, "unsupported_media_type")
    unanswerable = container.invoke(
        json.dumps(IRIS), "application/json", accept="application/xml", **iris
    )
    assert (unanswerable.status_code, unanswerable.json()["code"]) == (406, "not_acceptable")
    preferred = container.invoke(
        json.dumps(IRIS),
        "application/json",
        accept="application/xml, text/csv;q=0.5, application/json;q=0.1",
        **iris,
    )
    assert preferred.headers["content-type"].startswith("text/csv")
    anything = container.invoke(json.dumps(IRIS), "application/json", accept="*/*", **iris)
    assert anything.headers["content-type"] == "application/json"
    table_for_a_network = container.invoke("x", "text/csv", **{TARGET: "cifar10-cnn"})
    assert table_for_a_network.status_code == 415
    assert "image/jpeg" in table_for_a_network.json()["detail"]


def test_custom_attributes_are_tolerated(container: Container) -> None:
    answer = container.invoke(
        json.dumps(IRIS),
        "application/json",
        **{TARGET: "iris-pca", "X-Amzn-SageMaker-Custom-Attributes": "trace=abc; c000_x=1"},
    )
    assert answer.status_code == 200


def test_body_over_sagemakers_cap_is_413(container: Container) -> None:
    assert SAGEMAKER_MAX_BODY_BYTES == 6_291_456
    too_big = container.invoke(
        b"1" * (SAGEMAKER_MAX_BODY_BYTES + 1), "text/csv", **{TARGET: "iris-pca"}
    )
    assert (too_big.status_code, too_big.json()["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "content_type", "loc"),
    [
        (
            json.dumps({"instances": [{**PASSENGER, "pclass": 7}]}),
            "application/json",
            ["body", "instances", 0, "pclass"],
        ),
        (json.dumps({**PASSENGER, "sex": "x"}), "application/json", ["body", "sex"]),
        (json.dumps({"instances": []}), "application/json", ["body", "instances"]),
        (json.dumps({"instances": [PASSENGER] * 1001}), "application/json", ["body", "instances"]),
        (json.dumps([PASSENGER]), "application/json", ["body"]),
        ("{not json", "application/json", ["body"]),
        (
            '3,"Braund, Mr. Owen Harris",male,22,1,0,,7.25,,S\n3,"Allen, Mr. William",male,35\n',
            "text/csv",
            ["body", "line", 2],
        ),
        (
            'sex,name,pclass\nmale,"Allen, Mr. William",4\n',
            "text/csv",
            ["body", "line", 2, "pclass"],
        ),
        (",,,,,,,,,\n", "text/csv", ["body"]),
        (b"\xff\xfe,,", "text/csv", ["body"]),
    ],
    ids=[
        "field",
        "single",
        "empty",
        "too-many",
        "bare-list",
        "not-json",
        "csv-columns",
        "csv-field",
        "csv-no-rows",
        "csv-not-utf8",
    ],
)
def test_bad_instances_are_422_naming_the_field(
    container: Container, body: str | bytes, content_type: str, loc: list[object]
) -> None:
    answer = container.invoke(body, content_type, **{TARGET: "titanic-survival"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_input"
    assert answer.json()["detail"][0]["loc"] == loc


def test_the_only_model_of_a_bundle_needs_no_choosing(trained_home: Path) -> None:
    catalog = [get_spec("iris-pca")]
    app = create_app(ServiceSettings(home=trained_home, log_json=False), catalog=catalog)
    app.include_router(build_sagemaker_router(catalog))
    with TestClient(app) as client:
        answer = client.post(
            "/invocations", content="5.1,3.5,1.4,0.2", headers={"content-type": "text/csv"}
        )
    assert answer.status_code == 200
    assert answer.json()["model"] == "iris-pca"


# ----------------------------------------------------------------- default model, tarball, SIGTERM


def test_default_model_tarball_and_sigterm_drain(bundle: Path, tmp_path: Path) -> None:
    """model.tar.gz as is, PRACTICA_DEFAULT_MODEL, and a stop that answers what is in flight."""
    base_dir = opt_ml(tmp_path, bundle, unpack=False)
    with serving(base_dir, tmp_path, PRACTICA_DEFAULT_MODEL="titanic-survival") as container:
        by_default = container.invoke(json.dumps(PASSENGER), "application/json")
        assert by_default.json()["model"] == "titanic-survival"
        by_header = container.invoke(json.dumps(IRIS), "application/json", **{TARGET: "iris-pca"})
        assert by_header.json()["model"] == "iris-pca"

        body = json.dumps({"instances": [PASSENGER] * 50}).encode()
        first_part_sent, finish = threading.Event(), threading.Event()
        answers: list[httpx.Response] = []

        def slow_body() -> Iterator[bytes]:
            yield body[:20]
            first_part_sent.set()
            finish.wait(30)
            yield body[20:]

        def call() -> None:
            answers.append(container.invoke(slow_body(), "application/json"))

        caller = threading.Thread(target=call)
        caller.start()
        assert first_part_sent.wait(10)
        time.sleep(0.5)  # the request has reached the server
        container.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert container.process.poll() is None  # draining: the request is not answered yet
        with pytest.raises(httpx.TransportError):  # and the listener is closed
            httpx.get(f"{container.url}/ping", timeout=2)
        finish.set()
        caller.join(30)
        assert [a.status_code for a in answers] == [200]
        assert len(answers[0].json()["predictions"]) == 50
        assert container.process.wait(timeout=30) == 0, container.output()
    assert left_in_tmpdir(container) == []


# ----------------------------------------------------------------- refused bundles


def _traversal_tarball(bundle: Path, base_dir: Path) -> None:
    """The real bundle plus a member that would land beside the model folder."""
    tarball = base_dir / "model" / "model.tar.gz"
    with tarfile.open(bundle) as source, tarfile.open(tarball, "w:gz") as hostile:
        for member in source:
            hostile.addfile(member, source.extractfile(member))
        escape = tarfile.TarInfo("../escaped.txt")
        escape.size = 4
        hostile.addfile(escape, io.BytesIO(b"pwnd"))


def _tarball_with(member: tarfile.TarInfo, data: bytes = b"") -> Callable[[Path, Path], None]:
    def plant(bundle: Path, base_dir: Path) -> None:
        with_member(bundle, base_dir / "model" / "model.tar.gz", member, data)

    return plant


def _size_bomb(bundle: Path, base_dir: Path) -> None:
    size_bomb(base_dir / "model" / "model.tar.gz")


def _hard_linked_blob(bundle: Path, base_dir: Path) -> None:
    """An unpacked bundle whose first blob has a second name: it could be any file."""
    unpacked(bundle, base_dir)
    blob = next((base_dir / "model" / "blobs").iterdir())
    os.link(blob, base_dir / "second-name")


def _linked_blob(bundle: Path, base_dir: Path) -> None:
    """An unpacked bundle whose first blob is a link to a file elsewhere."""
    unpacked(bundle, base_dir)
    blob = next((base_dir / "model" / "blobs").iterdir())
    outside = base_dir / "outside"
    blob.rename(outside)
    blob.symlink_to(outside)


def _nothing(bundle: Path, base_dir: Path) -> None:
    pass


REFUSALS = {
    "path-traversal": (_traversal_tarball, {}, "escapes the bundle folder"),
    "absolute-path": (
        _tarball_with(tarfile.TarInfo("/tmp/practica-escaped.txt"), b"pwnd"),
        {},
        "escapes the bundle folder",
    ),
    "symlink-member": (
        _tarball_with(special("blobs/" + "a" * 64, tarfile.SYMTYPE, "/etc/passwd")),
        {},
        "is a link; links are refused",
    ),
    "hard-link-member": (
        _tarball_with(special("blobs/" + "b" * 64, tarfile.LNKTYPE, "practica-bundle.json")),
        {},
        "is a link; links are refused",
    ),
    "device-member": (
        _tarball_with(special("blobs/" + "c" * 64, tarfile.CHRTYPE)),
        {},
        "is a device or fifo",
    ),
    "size-bomb": (_size_bomb, {}, "larger than the allowed 8 GiB once unpacked"),
    "linked-blob": (_linked_blob, {}, "is missing or not a regular file"),
    "hard-linked-blob": (_hard_linked_blob, {}, "is a hard link; links are refused"),
    "no-bundle": (_nothing, {}, "no Practica bundle in"),
    "default-not-bundled": (
        unpacked,
        {"PRACTICA_DEFAULT_MODEL": "house-prices"},
        "PRACTICA_DEFAULT_MODEL is 'house-prices', which the bundle does not hold",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_unservable_bundles_are_refused_clearly_leaving_nothing(
    bundle: Path, tmp_path: Path, case: str
) -> None:
    plant, settings, message = REFUSALS[case]
    base_dir = tmp_path / "opt-ml"
    (base_dir / "model").mkdir(parents=True)
    plant(bundle, base_dir)
    container = start(base_dir, tmp_path, **settings)
    assert container.process.wait(timeout=120) == 1
    output = container.output()
    assert "error:" in output
    assert message in output, output
    assert "Traceback" not in output
    assert left_in_tmpdir(container) == []
    assert not (base_dir / "escaped.txt").exists()
    assert not Path("/tmp/practica-escaped.txt").exists()


def test_a_busy_port_is_refused_before_loading(bundle: Path, tmp_path: Path) -> None:
    base_dir = opt_ml(tmp_path, bundle)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        container = start(base_dir, tmp_path, SAGEMAKER_BIND_TO_PORT=str(port))
        assert container.process.wait(timeout=60) == 1
    assert f"cannot listen on 0.0.0.0:{port}" in container.output()
    assert "SAGEMAKER_BIND_TO_PORT" in container.output()


# ----------------------------------------------------------------- the Dockerfile


def test_dockerfile_serving_target_is_sagemakers_contract() -> None:
    stages = dockerfile_stages()
    assert {"serving", "trainer"} <= stages.keys()
    assert list(stages)[-1] == "serving"  # `docker build .` builds it
    serving = stages["serving"]
    assert json.loads(serving.last("ENTRYPOINT") or "null") == [
        "practica",
        "container",
    ]  # exec form
    assert json.loads(serving.last("CMD") or "null") == ["serve"]
    assert (serving.last("LABEL") or "").split() == [
        "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true",
        "com.amazonaws.sagemaker.capabilities.multi-models=true",
    ]
    assert serving.last("EXPOSE") == str(SageMakerEnvironment.model_fields["bind_to_port"].default)
    assert SageMakerEnvironment.model_fields["base_dir"].default == Path("/opt/ml")
    assert "python:3.11-slim" in (REPO / "Dockerfile").read_text()

    installs = [
        arg for stage in lineage(stages, "serving") for kw, arg in stage.instructions if kw == "RUN"
    ]
    assert any("pip install" in run for run in installs)
    for run in installs:
        assert not re.search(r"torch|transformers|train\.(txt|lock)|\[train\]", run), run


def test_serving_dependencies_leave_training_libraries_to_the_train_extra() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {
        re.split(r"[\[=<>]", requirement)[0].replace("-", "_")
        for requirement in project["dependencies"]
    }
    # What a server refuses to import (torchvision is no dependency at all), and the rest
    # of the training stack.
    training_only = (TRAINING_ONLY - {"torchvision"}) | {
        "onnx", "onnxscript", "safetensors", "matplotlib", "mlxtend",
    }  # fmt: skip
    assert not names & training_only
    train = {
        re.split(r"[\[=<>]", r)[0].replace("-", "_")
        for r in project["optional-dependencies"]["train"]
    }
    assert training_only <= train


def test_the_images_commands_exist() -> None:
    stages = dockerfile_stages()
    for target in ("serving", "trainer"):
        stage = stages[target]
        entrypoint = json.loads(stage.last("ENTRYPOINT") or "[]")
        command = json.loads(stage.last("CMD") or "[]")
        assert entrypoint[0] == "practica"
        shown = subprocess.run(
            [*practica_command(), *entrypoint[1:], *command, "--help"],
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, f"{shlex.join(entrypoint + command)}: {shown.stderr}"
        assert "Usage" in shown.stdout
