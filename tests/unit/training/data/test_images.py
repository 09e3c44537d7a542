import base64
import io
import struct
import warnings
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from training.data.images import (
    ImageError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedImageError,
    decode_image,
    to_array,
)
from training.schemas import MAX_IMAGE_BASE64_CHARS, ImageInput, image_from_base64
from training.spec import PredictionError

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def halves(
    size: tuple[int, int] = (40, 20),
    left: tuple[int, int, int] = RED,
    right: tuple[int, int, int] = BLUE,
) -> Image.Image:
    """An image whose left half is `left` and right half `right`."""
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height but holds no pixel data at all."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def gif_header(width: int, height: int) -> bytes:
    """A GIF whose screen and only frame claim width x height, with one pixel of data."""
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b";"


def jpeg_header(width: int, height: int) -> bytes:
    """A baseline JPEG whose frame header claims width x height, with no scan data."""

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    tables = segment(0xDB, b"\x00" + bytes([1] * 64))
    frame = segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    huffman = b"".join(
        segment(0xC4, kind + bytes([1] + [0] * 15) + b"\x00") for kind in (b"\x00", b"\x10")
    )
    scan = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + tables + frame + huffman + scan + b"\xff\xd9"


def webp_header(width: int, height: int) -> bytes:
    """An animated WebP with one 4 x 4 frame on a canvas that claims width x height."""
    frames = [Image.new("RGB", (4, 4), colour) for colour in (RED, BLUE)]
    data = bytearray(encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]))
    canvas = data.index(b"VP8X") + 12  # after the chunk's name, length and flags
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    data[canvas : canvas + 6] = size
    return bytes(data)


def pixel(image: Image.Image, x: int, y: int) -> tuple[int, ...]:
    value = image.getpixel((x, y))
    assert isinstance(value, tuple)
    return value


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# ---- formats and modes ---------------------------------------------------------------------


def test_decode_jpeg_returns_rgb_with_its_colours() -> None:
    image = decode_image(encode(halves(), "JPEG", quality=95))
    assert image.mode == "RGB"
    assert image.size == (40, 20)
    assert close_to(pixel(image, 5, 10), RED)
    assert close_to(pixel(image, 35, 10), BLUE)


def test_decode_png_is_lossless() -> None:
    source = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8))
    image = decode_image(encode(source, "PNG"))
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), np.asarray(source))


def test_decode_grayscale_repeats_the_level_in_each_channel() -> None:
    image = decode_image(encode(Image.new("L", (8, 8), 77), "PNG"))
    assert image.mode == "RGB"
    assert pixel(image, 3, 3) == (77, 77, 77)


def test_decode_sixteen_bit_grayscale_scales_instead_of_clipping() -> None:
    levels = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    image = decode_image(encode(Image.fromarray(levels), "PNG"))
    assert np.asarray(image)[0, :, 0].tolist() == [0, 1, 128, 255]


def test_decode_palette_with_transparency_composites_onto_white() -> None:
    source = Image.new("P", (4, 4), 1)
    source.putpalette([*RED, *GREEN])
    source.putpixel((0, 0), 0)
    image = decode_image(encode(source, "PNG", transparency=0))
    assert image.mode == "RGB"
    assert pixel(image, 0, 0) == WHITE  # palette entry 0 is transparent, not red or black
    assert pixel(image, 2, 2) == GREEN


def test_decode_rgba_composites_onto_white_not_black() -> None:
    source = Image.new("RGBA", (3, 1), (*BLUE, 255))
    source.putpixel((0, 0), (*RED, 0))
    source.putpixel((1, 0), (0, 0, 0, 128))
    image = decode_image(encode(source, "PNG"))
    assert image.mode == "RGB"
    assert pixel(image, 0, 0) == WHITE
    assert close_to(pixel(image, 1, 0), (127, 127, 127), tolerance=1)  # half black on white
    assert pixel(image, 2, 0) == BLUE


def test_decode_grey_with_alpha_composites_onto_white() -> None:
    image = decode_image(encode(Image.new("LA", (2, 2), (0, 0)), "PNG"))
    assert pixel(image, 1, 1) == WHITE


def test_decode_cmyk_jpeg_gives_rgb() -> None:
    image = decode_image(encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"))
    assert image.mode == "RGB"
    assert close_to(pixel(image, 8, 8), RED)


def test_decode_webp() -> None:
    image = decode_image(encode(halves(), "WEBP", lossless=True))
    assert (image.mode, image.size) == ("RGB", (40, 20))
    assert pixel(image, 5, 10) == RED
    assert pixel(image, 35, 10) == BLUE


def test_decode_gif_keeps_only_the_first_frame() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in (GREEN, RED, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    image = decode_image(data)
    assert image.mode == "RGB"
    assert pixel(image, 5, 5) == GREEN


def test_decode_applies_exif_orientation() -> None:
    # Orientation 6: the camera was turned 90° clockwise; viewers rotate the stored pixels
    # 90° clockwise, so the stored left half (red) ends on top and width and height swap.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(halves((40, 20)), "JPEG", quality=95, exif=exif)
    assert Image.open(io.BytesIO(data)).size == (40, 20)
    image = decode_image(data)
    assert image.size == (20, 40)
    assert close_to(pixel(image, 10, 5), RED)
    assert close_to(pixel(image, 10, 35), BLUE)
    assert image.getexif().get(0x0112, 1) == 1  # applied once: not rotated again downstream


def test_decode_with_draft_size_shrinks_large_jpegs_but_not_below_it() -> None:
    data = encode(halves((800, 400)), "JPEG")
    assert decode_image(data).size == (800, 400)
    image = decode_image(data, draft_size=(100, 60))
    assert image.size == (200, 100)  # 1/4 scale: the smallest that covers 100 on both sides
    assert decode_image(data, draft_size=(150, 100)).size == (400, 200)
    assert decode_image(encode(halves((800, 400)), "PNG"), draft_size=(50, 50)).size == (800, 400)


# ---- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(100_000, 100_000), (10_000, 10_000), (7_000, 7_000)])
def test_decode_refuses_too_many_pixels_from_the_header_alone(size: tuple[int, int]) -> None:
    # The file has no pixel data: refusing it as too large (not as truncated) proves the
    # limit is read from the header before anything is decoded. 100000² is beyond Pillow's
    # own bomb error, 10000² within its warning (an error under pytest), 7000² only ours.
    max_pixels_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageTooLargeError) as caught:
        decode_image(png_header(*size))
    assert caught.value.kind == "invalid_image"
    assert "pixels" in caught.value.message
    assert max_pixels_before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("header", [gif_header, jpeg_header, webp_header])
@pytest.mark.parametrize("size", [(16_000, 16_000), (7_000, 7_000)])
def test_decode_refuses_too_many_pixels_in_every_format(
    header: Callable[[int, int], bytes], size: tuple[int, int]
) -> None:
    with pytest.raises(ImageTooLargeError, match="refused before decoding"):
        decode_image(header(*size))


def test_decode_refuses_too_many_pixels_when_warnings_are_not_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageTooLargeError):
            decode_image(png_header(10_000, 10_000))


def test_decode_honours_a_smaller_pixel_limit() -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageTooLargeError, match="100 x 100"):
        decode_image(data, max_pixels=9_999)
    assert decode_image(data, max_pixels=10_000).size == (100, 100)


def test_decode_refuses_too_many_bytes_before_opening() -> None:
    with pytest.raises(ImageTooLargeError, match="bytes"):
        decode_image(b"not an image at all" * 10, max_bytes=100)


@pytest.mark.parametrize(
    "data",
    [b"hello, world", b"\x00" * 64, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7"],
)
def test_decode_refuses_garbage_as_unsupported_media(data: bytes) -> None:
    with pytest.raises(UnsupportedImageError) as caught:
        decode_image(data)
    assert caught.value.kind == "unsupported_media"
    assert isinstance(caught.value, ValueError)
    assert "JPEG, PNG, WebP or GIF" in str(caught.value)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_decode_refuses_other_image_formats(fmt: str) -> None:
    with pytest.raises(UnsupportedImageError):
        decode_image(encode(Image.new("RGB", (4, 4)), fmt))


def test_decode_refuses_truncated_jpeg_as_invalid() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")
    for cut in (len(data) // 2, len(data) - 100):
        with pytest.raises(InvalidImageError, match="truncated") as caught:
            decode_image(data[:cut])
        assert caught.value.kind == "invalid_image"
        assert not isinstance(caught.value, ImageTooLargeError)


def test_decode_refuses_truncated_png_and_corrupt_headers() -> None:
    data = encode(Image.new("RGB", (64, 64), RED), "PNG")
    with pytest.raises(InvalidImageError):
        decode_image(data[: len(data) - 30])
    with pytest.raises(InvalidImageError, match="header"):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 8)


def test_decode_refuses_empty_bytes() -> None:
    with pytest.raises(InvalidImageError, match="empty"):
        decode_image(b"")


def test_error_messages_name_no_internals() -> None:
    for data in (b"junk", b"\x89PNG\r\n\x1a\njunk", png_header(10**5, 10**5)):
        with pytest.raises(ImageError) as caught:
            decode_image(data)
        assert "BytesIO" not in caught.value.message
        assert "0x" not in caught.value.message


# ---- arrays for models --------------------------------------------------------------------


def test_to_array_squash_gives_height_width_channels() -> None:
    array = to_array(halves((40, 20)), (8, 6), resize="squash")
    assert array.shape == (6, 8, 3)
    assert array.dtype == np.uint8
    assert tuple(array[3, 0]) == RED
    assert tuple(array[3, -1]) == BLUE


def test_to_array_center_crop_keeps_the_middle_of_the_longer_side() -> None:
    image = Image.new("RGB", (90, 30), RED)
    image.paste(GREEN, (30, 0, 60, 30))  # the central square
    array = to_array(image, (10, 10), resize="center_crop")
    assert array.shape == (10, 10, 3)
    assert (array == np.array(GREEN, dtype=np.uint8)).all()
    squashed = to_array(image, (9, 3), resize="squash")
    assert tuple(squashed[1, 0]) == RED


def test_to_array_crop_fraction_zooms_into_the_centre() -> None:
    image = Image.new("RGB", (100, 100), RED)
    image.paste(GREEN, (10, 10, 90, 90))
    assert (to_array(image, (16, 16), resize="center_crop", crop_fraction=0.8) == GREEN).all()


def test_to_array_composites_transparency_like_decode() -> None:
    array = to_array(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), (2, 2), resize="squash")
    assert (array == 255).all()


def test_to_array_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="size"):
        to_array(halves(), (0, 4), resize="squash")


# ---- base64 in JSON -----------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_image_input_keeps_the_string_and_decodes_on_demand() -> None:
    value = b64(encode(halves(), "PNG"))
    request = ImageInput(image_base64=value)
    assert request.image_base64 == value
    assert request.model_dump() == {"image_base64": value}
    image = request.image()
    assert (image.mode, image.size) == ("RGB", (40, 20))
    assert image_from_base64(value).tobytes() == image.tobytes()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not base64!", "base64"),
        (b64(b"\x89PNG\r\n\x1a\n")[:-2], "base64"),  # padding removed
        (b64(encode(Image.new("RGB", (4, 4)), "PNG"))[:20] + "\n" + "AAAA", "base64"),
        ("data:image/png;base64," + b64(encode(Image.new("RGB", (4, 4)), "PNG")), "prefix"),
        (b64(b"plain text, not an image"), "JPEG, PNG, WebP or GIF"),
        (b64(png_header(100_000, 100_000)), "pixels"),
        (b64(encode(Image.new("RGB", (64, 64)), "JPEG")[:300]), "header is truncated"),
        ("", "at least 1 character"),
        ("A" * (MAX_IMAGE_BASE64_CHARS + 4), "at most"),
    ],
)
def test_image_base64_errors_are_422_naming_the_field(value: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ImageInput(image_base64=value)
    (issue,) = caught.value.errors()
    assert issue["loc"] == ("image_base64",)
    assert reason in issue["msg"]


def test_a_truncated_image_passes_the_header_check_and_fails_its_decoding_naming_the_field() -> (
    None
):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    jpeg = encode(Image.fromarray(noise), "JPEG", quality=95)
    request = ImageInput(image_base64=b64(jpeg[: len(jpeg) // 2]))  # header whole, pixels cut
    with pytest.raises(PredictionError, match="truncated") as caught:
        request.image()
    assert caught.value.field == "image_base64"


def test_image_base64_schema_documents_its_limits() -> None:
    field = ImageInput.model_json_schema()["properties"]["image_base64"]
    assert field["maxLength"] == MAX_IMAGE_BASE64_CHARS == 6_666_668
    assert field["contentEncoding"] == "base64"
    assert "5,000,000 bytes" in field["description"]
