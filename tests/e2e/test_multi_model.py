"""A multi-model endpoint: `practica container serve` with SAGEMAKER_MULTI_MODEL=true, driven
over HTTP as SageMaker drives it: load, list, describe, invoke, unload, by its own names.

SageMaker unpacks each model's tarball to `$SAGEMAKER_BASE_DIR/models/<name>/model`; the
tests lay the folders out the same way, one `practica export` of one model each.
"""

import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from model_registry import ModelRegistry, RegistrySettings, export_bundle
from tests.e2e.containers import (
    IRIS,
    TARGET,
    Container,
    image,
    left_in_tmpdir,
    serving,
    size_bomb,
    special,
    with_member,
)

pytestmark = pytest.mark.e2e

MODELS = ("iris-pca", "titanic-survival", "cifar10-cnn")


@pytest.fixture(scope="module")
def exports(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`practica export NAME` of each model: the tarballs an endpoint's S3 prefix holds."""
    folder = tmp_path_factory.mktemp("exports")
    with ModelRegistry.from_settings(RegistrySettings(home=trained_home)) as registry:
        for name in MODELS:
            export_bundle(registry, folder / f"{name}.tar.gz", [name])
    return {name: folder / f"{name}.tar.gz" for name in MODELS}


def place(base_dir: Path, key: str, tarball: Path, *, unpack: bool = True) -> str:
    """Put a tarball where SageMaker would for the model it calls `key`; the load's url."""
    folder = base_dir / "models" / key / "model"
    folder.mkdir(parents=True)
    if unpack:
        with tarfile.open(tarball) as tar:
            tar.extractall(folder, filter="data")
    else:
        (folder / "model.tar.gz").write_bytes(tarball.read_bytes())
    return str(folder)


@pytest.fixture(scope="module")
def endpoint(
    exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    workdir = tmp_path_factory.mktemp("multi-model")
    base_dir = workdir / "opt-ml"
    (base_dir / "models").mkdir(parents=True)
    with serving(base_dir, workdir, SAGEMAKER_MULTI_MODEL="true") as started:
        yield started


def base_dir_of(endpoint: Container) -> Path:
    return endpoint.tmpdir.parent / "opt-ml"


def load(endpoint: Container, name: str, url: str) -> httpx.Response:
    return httpx.post(f"{endpoint.url}/models", json={"model_name": name, "url": url}, timeout=120)


def invoke(endpoint: Container, name: str, body: bytes | str, content_type: str) -> httpx.Response:
    return httpx.post(
        f"{endpoint.url}/models/{name}/invoke",
        content=body,
        headers={"content-type": content_type, TARGET: f"{name}.tar.gz"},
        timeout=30,
    )


def loaded_names(endpoint: Container, limit: int = 100) -> list[str]:
    """Every loaded model's name, following nextPageToken page by page."""
    names: list[str] = []
    params: dict[str, str | int] = {"limit": limit}
    while True:
        page = httpx.get(f"{endpoint.url}/models", params=params).json()
        names += [model["modelName"] for model in page["models"]]
        if "nextPageToken" not in page:
            return names
        params["next_page_token"] = page["nextPageToken"]


# ----------------------------------------------------------------- the model API


def test_load_list_describe_invoke_and_unload(
    endpoint: Container, exports: dict[str, Path]
) -> None:
    base_dir = base_dir_of(endpoint)
    assert httpx.get(f"{endpoint.url}/ping").status_code == 200
    assert loaded_names(endpoint) == []

    url = place(base_dir, "iris-key", exports["iris-pca"])
    loaded = load(endpoint, "iris-key", url)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() | {"memoryBytes": 0} == {
        "modelName": "iris-key",
        "modelUrl": url,
        "model": "iris-pca",
        "version": loaded.json()["version"],
        "memoryBytes": 0,
    }
    assert loaded.json()["memoryBytes"] > 0
    again = load(endpoint, "iris-key", url)
    assert (again.status_code, again.json()["code"]) == (409, "model_already_loaded")

    described = httpx.get(f"{endpoint.url}/models/iris-key")
    assert described.json()["modelUrl"] == url

    as_json = invoke(
        endpoint, "iris-key", json.dumps({"instances": [IRIS, IRIS]}), "application/json"
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["model"] == "iris-pca"
    assert len(as_json.json()["predictions"]) == 2
    as_csv = httpx.post(
        f"{endpoint.url}/models/iris-key/invoke",
        content="5.1,3.5,1.4,0.2\n",
        headers={"content-type": "text/csv", "accept": "text/csv"},
    )
    assert as_csv.text.splitlines()[0] == "components.0,components.1"
    [row] = as_csv.text.splitlines()[1:]
    assert [float(x) for x in row.split(",")] == pytest.approx(
        as_json.json()["predictions"][0]["components"]
    )

    unloaded = httpx.delete(f"{endpoint.url}/models/iris-key")
    assert unloaded.status_code == 200
    for gone in (
        httpx.get(f"{endpoint.url}/models/iris-key"),
        httpx.delete(f"{endpoint.url}/models/iris-key"),
        invoke(endpoint, "iris-key", json.dumps(IRIS), "application/json"),
    ):
        assert (gone.status_code, gone.json()["code"]) == (404, "model_not_loaded")
    assert loaded_names(endpoint) == []
    assert left_registries(endpoint) == []  # its registry folder went with it


def left_registries(endpoint: Container) -> list[str]:
    """The hosted models' registry folders left in the container's temporary folder."""
    [work_dir] = [p for p in endpoint.tmpdir.iterdir() if p.name.startswith("practica-registry-")]
    return sorted(path.name for path in work_dir.iterdir())


def test_several_models_each_by_its_name_and_pages(
    endpoint: Container, exports: dict[str, Path]
) -> None:
    base_dir = base_dir_of(endpoint)
    keys = {"k-titanic": "titanic-survival", "k-photos": "cifar10-cnn", "k-iris": "iris-pca"}
    for key, name in keys.items():
        unpack = name != "titanic-survival"  # model.tar.gz left packed is read as it is
        assert (
            load(endpoint, key, place(base_dir, key, exports[name], unpack=unpack)).status_code
            == 200
        )
    try:
        assert loaded_names(endpoint, limit=2) == sorted(keys)  # two pages
        first = httpx.get(f"{endpoint.url}/models", params={"limit": 2}).json()
        assert len(first["models"]) == 2
        assert "nextPageToken" in first
        forged = httpx.get(f"{endpoint.url}/models", params={"next_page_token": "%%%"})
        assert (forged.status_code, forged.json()["code"]) == (400, "invalid_page_token")

        photo = invoke(endpoint, "k-photos", image("PNG"), "image/png")
        assert photo.status_code == 200, photo.text
        assert photo.json()["model"] == "cifar10-cnn"
        passenger = {"pclass": 1, "name": "Cumings, Mrs. John", "sex": "female", "age": 38}
        survived = invoke(endpoint, "k-titanic", json.dumps(passenger), "application/json")
        assert survived.json()["model"] == "titanic-survival"
        wrong_body = invoke(endpoint, "k-iris", image("PNG"), "image/png")
        assert (wrong_body.status_code, wrong_body.json()["code"]) == (
            415,
            "unsupported_media_type",
        )
        invalid = invoke(
            endpoint, "k-titanic", json.dumps({**passenger, "pclass": 9}), "application/json"
        )
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["body", "pclass"]
    finally:
        for key in keys:
            httpx.delete(f"{endpoint.url}/models/{key}")
    assert left_registries(endpoint) == []


# ----------------------------------------------------------------- refusals


def test_urls_outside_the_models_folder_or_through_links_are_refused(
    endpoint: Container, exports: dict[str, Path], tmp_path: Path
) -> None:
    base_dir = base_dir_of(endpoint)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with tarfile.open(exports["iris-pca"]) as tar:
        tar.extractall(elsewhere, filter="data")
    linked = base_dir / "models" / "linked" / "model"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(elsewhere)  # inside the models folder, but a link out of it
    inside = place(base_dir, "inside", exports["iris-pca"])
    for url in (
        str(elsewhere),
        str(linked),
        f"{inside}/../../../../{elsewhere.relative_to(elsewhere.anchor)}",
        "relative/model",
        str(base_dir / "models" / "missing" / "model"),
        str(base_dir / "models"),  # the folder itself holds no bundle
    ):
        refused = load(endpoint, "outside", url)
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_model_url"), url
    bad_name = load(endpoint, "../etc", inside)
    assert (bad_name.status_code, bad_name.json()["code"]) == (422, "invalid_name")
    assert loaded_names(endpoint) == []
    assert left_registries(endpoint) == []


def _hostile_folders(base_dir: Path, exports: dict[str, Path]) -> dict[str, str]:
    """Bundles SageMaker could unpack from a hostile tarball, each at its url."""
    urls = {}
    for key, member in {
        "symlink": special("blobs/" + "a" * 64, tarfile.SYMTYPE, "/etc/passwd"),
        "device": special("blobs/" + "c" * 64, tarfile.CHRTYPE),
        "traversal": tarfile.TarInfo("../escaped.txt"),
    }.items():
        folder = Path(place(base_dir, key, exports["iris-pca"], unpack=False))
        with_member(exports["iris-pca"], folder / "model.tar.gz", member, b"pwnd")
        urls[key] = str(folder)
    bomb = Path(place(base_dir, "bomb", exports["iris-pca"], unpack=False))
    size_bomb(bomb / "model.tar.gz")
    urls["bomb"] = str(bomb)

    hard = Path(place(base_dir, "hard-link", exports["iris-pca"]))
    blob = next((hard / "blobs").iterdir())
    os.link(blob, base_dir / "second-name")
    urls["hard-link"] = str(hard)
    soft = Path(place(base_dir, "soft-link", exports["iris-pca"]))
    manifest = soft / "practica-bundle.json"
    manifest.rename(base_dir / "manifest-elsewhere.json")
    manifest.symlink_to(base_dir / "manifest-elsewhere.json")
    urls["soft-link"] = str(soft)
    return urls


def test_hostile_bundles_are_refused_leaving_nothing(
    endpoint: Container, exports: dict[str, Path]
) -> None:
    base_dir = base_dir_of(endpoint)
    for key, url in _hostile_folders(base_dir, exports).items():
        refused = load(endpoint, key, url)
        assert refused.status_code in (400, 422), (key, refused.text)
        assert refused.json()["code"] in ("invalid_bundle", "invalid_model_url"), key
        assert "Traceback" not in refused.text
    assert loaded_names(endpoint) == []
    assert left_registries(endpoint) == []
    assert not (base_dir / "models" / "escaped.txt").exists()
    assert httpx.get(f"{endpoint.url}/ping").status_code == 200  # still serving


def test_a_load_beyond_the_memory_budget_is_507(exports: dict[str, Path], tmp_path: Path) -> None:
    base_dir = tmp_path / "opt-ml"
    (base_dir / "models").mkdir(parents=True)
    url = place(base_dir, "photos", exports["cifar10-cnn"])
    padding = bytes(2 * 2**20)  # the bundle's files now hold over 2 MiB
    (Path(url) / "blobs" / hashlib.sha256(padding).hexdigest()).write_bytes(padding)
    with serving(
        base_dir, tmp_path, SAGEMAKER_MULTI_MODEL="true", PRACTICA_MODEL_MEMORY_MB="1"
    ) as endpoint:
        refused = load(endpoint, "photos", url)
        assert (refused.status_code, refused.json()["code"]) == (507, "insufficient_memory")
        assert "PRACTICA_MODEL_MEMORY_MB" in refused.json()["detail"]
        assert loaded_names(endpoint) == []
        assert left_registries(endpoint) == []
    assert left_in_tmpdir(endpoint) == []
