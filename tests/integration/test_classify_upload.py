"""`POST /classify/{model}`: image uploads through the one inference path, with a fake model."""

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from model_registry import ModelRegistry, RegistrySettings
from service import ServiceSettings, create_app
from tests.fakes import ImageShapeSpec, publish_fake_version


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    registry = ModelRegistry.from_settings(RegistrySettings(home=tmp_path))
    publish_fake_version(registry, ImageShapeSpec())
    registry.close()
    app = create_app(ServiceSettings(home=tmp_path, log_json=False), catalog=[ImageShapeSpec()])
    with TestClient(app) as opened:
        yield opened


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _upload(client: TestClient, data: bytes, content_type: str = "image/jpeg") -> dict[str, object]:
    response = client.post("/classify/image-shape", files={"file": ("photo", data, content_type)})
    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert isinstance(prediction, dict)
    return prediction


def test_jpeg_and_png_uploads_are_decoded(client: TestClient) -> None:
    red = Image.new("RGB", (40, 30), (250, 0, 0))
    for fmt in ("JPEG", "PNG"):
        answer = _upload(client, _encoded(red, fmt))
        assert (answer["width"], answer["height"]) == (40, 30)
        assert answer["top_left"][0] > 200  # type: ignore[index]


def test_grayscale_and_rgba_become_rgb(client: TestClient) -> None:
    assert _upload(client, _encoded(Image.new("L", (8, 8), 128), "PNG"))["top_left"] == [128] * 3
    transparent = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    assert _upload(client, _encoded(transparent, "PNG"))["top_left"] == [255, 255, 255]


def test_exif_orientation_is_applied(client: TestClient) -> None:
    wide = Image.new("RGB", (60, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    answer = _upload(client, _encoded(wide, "JPEG", exif=exif.tobytes()))
    assert (answer["width"], answer["height"]) == (20, 60)


def test_the_answer_matches_the_json_route(client: TestClient) -> None:
    png = _encoded(Image.new("RGB", (3, 2), (0, 255, 0)), "PNG")
    import base64

    body = {"instances": [{"image_base64": base64.b64encode(png).decode()}]}
    by_json = client.post("/v1/models/image-shape/predict", json=body).json()["predictions"]
    assert by_json == [_upload(client, png)]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"this is not an image at all", 415),
        (b"", 422),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, 422),  # a JPEG that stops after its signature
    ],
    ids=["garbage", "empty", "truncated-jpeg"],
)
def test_bad_uploads_get_a_json_error_and_no_500(
    client: TestClient, data: bytes, status: int
) -> None:
    response = client.post("/classify/image-shape", files={"file": ("x.jpg", data, "image/jpeg")})
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_a_truncated_image_in_json_is_a_422_naming_image_base64(client: TestClient) -> None:
    import base64

    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    jpeg = _encoded(Image.fromarray(noise), "JPEG")
    truncated = jpeg[: len(jpeg) // 2]  # the header is whole: only decoding finds the cut
    body = {"instances": [{"image_base64": base64.b64encode(truncated).decode()}]}
    response = client.post("/v1/models/image-shape/predict", json=body)
    assert response.status_code == 422, response.text
    [issue] = response.json()["detail"]
    assert issue["loc"] == ["body", "instances", "image_base64"]
    assert "truncated" in issue["msg"]


def test_oversized_dimensions_are_refused_before_decoding(client: TestClient) -> None:
    # A PNG header claiming 100,000 x 100,000 pixels, with no pixel data behind it.
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
    png += struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    response = client.post("/classify/image-shape", files={"file": ("bomb.png", png, "image/png")})
    assert response.status_code == 422
    assert "pixels" in response.json()["detail"]


def test_a_missing_file_field_is_named(client: TestClient) -> None:
    response = client.post("/classify/image-shape", data={"other": "x"})
    assert response.status_code == 422
    assert ["body", "file"] in [issue["loc"] for issue in response.json()["detail"]]
