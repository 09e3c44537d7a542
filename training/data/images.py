"""Safe image decoding shared by training and serving: Pillow only, limits before pixels.

An upload is refused, in this order, when it has too many bytes (before Pillow sees it),
when its first bytes are not JPEG, PNG, WebP or GIF, when its header claims more pixels
than allowed (before any pixel data is decoded: decompression bombs), and when its pixel
data is truncated or corrupt. What comes back is always a plain RGB image: EXIF rotation
applied, transparency composited onto white, palettes, grey levels, CMYK and 16-bit
samples converted.

    ImageError (ValueError)          the message says what to send instead
     ├── UnsupportedImageError       kind "unsupported_media": not an image we read at all
     └── InvalidImageError           kind "invalid_image": an image, but unusable
          └── ImageTooLargeError     too many bytes or too many pixels

The HTTP layer maps `kind` to a status (415 and 422); this module knows nothing of HTTP.
Truncated data is refused as long as Pillow's global `ImageFile.LOAD_TRUNCATED_IMAGES`
keeps its default (False); nothing in this project sets it, and this module changes no
global of Pillow's.
"""

import contextlib
import io
from typing import ClassVar, Literal

import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "FORMATS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "ImageError",
    "ImageTooLargeError",
    "InvalidImageError",
    "UnsupportedImageError",
    "check_image",
    "decode_image",
    "to_array",
]

MAX_IMAGE_BYTES = 5_000_000
"""Encoded bytes: a 12-megapixel phone photo is 3-5 MB as JPEG."""
MAX_IMAGE_PIXELS = 40_000_000
"""Width x height: decoded, that is 120 MB of RGB, the most one request may cost."""
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
"""Pillow's names of the formats read; no other decoder is ever reached."""
WHITE = (255, 255, 255, 255)

ErrorKind = Literal["unsupported_media", "invalid_image"]


class ImageError(ValueError):
    """Bytes that cannot be used as an image; `message` says what to do instead."""

    kind: ClassVar[ErrorKind]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedImageError(ImageError):
    """Not a JPEG, PNG, WebP or GIF at all (HTTP: 415 Unsupported Media Type)."""

    kind: ClassVar[ErrorKind] = "unsupported_media"


class InvalidImageError(ImageError):
    """A supported format, but empty, truncated or corrupt (HTTP: 422)."""

    kind: ClassVar[ErrorKind] = "invalid_image"


class ImageTooLargeError(InvalidImageError):
    """Over the byte or pixel limit; refused before decoding any pixel (HTTP: 422)."""


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's signature (its first bytes), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_image(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> None:
    """Refuse `data` for every reason found without decoding pixels (an `ImageError`).

    Costs microseconds: what the event loop may do to a request. A truncated or corrupt
    pixel stream is found only by `decode_image`.
    """
    _open_header(bytes(data), max_bytes, max_pixels)


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> Image.Image:
    """The RGB image in `data` (first frame), upright, or an `ImageError` saying why not.

    `draft_size` (width, height), JPEG only: let libjpeg decode at 1/2, 1/4 or 1/8 scale
    while the image still covers that size on both sides (whatever its EXIF rotation);
    several times faster for a photo that a model shrinks anyway.
    """
    image, kind = _open_header(bytes(data), max_bytes, max_pixels)
    name = "WebP" if kind == "WEBP" else kind
    try:
        if draft_size is not None and kind == "JPEG":
            side = max(draft_size)  # square: covers the size whichever way EXIF rotates it
            image.draft(image.mode, (side, side))
        image.load()
    except Exception:
        raise InvalidImageError(
            f"the {name} data is truncated or corrupt and cannot be decoded: send the "
            "complete, unmodified file"
        ) from None
    with contextlib.suppress(Exception):  # unreadable EXIF is broken metadata: keep as is
        ImageOps.exif_transpose(image, in_place=True)
    try:
        return as_rgb(image)
    except Exception:  # a colour mode Pillow cannot convert: the request's fault, not a 500
        raise InvalidImageError(
            f"the {name} image's colour mode {image.mode!r} is not supported: save it as RGB"
        ) from None


def _open_header(data: bytes, max_bytes: int, max_pixels: int) -> tuple[Image.Image, str]:
    """The image with only its header read, and its format, once every limit is checked."""
    if not data:
        raise InvalidImageError("the image is empty (0 bytes): send the image file's bytes")
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"the image is {len(data):,} bytes, over the limit of {max_bytes:,}: "
            "re-encode it smaller (a JPEG of at most 2,000 pixels a side is plenty)"
        )
    kind = sniff_format(data)
    if kind is None:
        raise UnsupportedImageError(
            "the data is not a JPEG, PNG, WebP or GIF image (its first bytes match none of "
            "these formats): send the image file's own bytes in one of them"
        )
    name = "WebP" if kind == "WEBP" else kind
    try:
        # Reads the header only. Pillow's own bomb check runs here too, with its global
        # Image.MAX_IMAGE_PIXELS (left as it is): its error, and its warning where
        # warnings are errors, mean far more pixels than ours, so both are ours to report.
        image = Image.open(io.BytesIO(data), formats=[kind])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(None, max_pixels) from None
    except Exception:
        raise InvalidImageError(
            f"the {name} header is truncated or corrupt: send the complete, unmodified file"
        ) from None
    # No `with image:` here: closing would discard the pixels of an image returned as is.
    # The image holds an in-memory buffer, never a file, so nothing is left open.
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels((width, height), max_pixels)
    return image, kind


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> ImageTooLargeError:
    claimed = f"is {size[0]:,} x {size[1]:,} pixels" if size else "has far more pixels"
    return ImageTooLargeError(
        f"the image {claimed}, over the limit of {max_pixels:,} pixels, and was refused before "
        "decoding (a decompression bomb looks like this): downscale it before sending"
    )


def as_rgb(image: Image.Image) -> Image.Image:
    """`image` in RGB: transparency composited onto white, 16-bit samples scaled to 8 bits."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        image = _sixteen_bit_to_l(image)
    if image.mode == "RGB":
        return image
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba).convert("RGB")
    return image.convert("RGB")


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    """Grey levels 0-65535 to 0-255 (Pillow's own conversion clips at 255 instead)."""
    levels = np.asarray(image).astype(np.int64)
    grey = Image.fromarray((np.clip(levels, 0, 65535) >> 8).astype(np.uint8), mode="L")
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):
        alpha = np.where(levels == transparent, 0, 255).astype(np.uint8)
        return Image.merge("LA", (grey, Image.fromarray(alpha, mode="L")))
    return grey


def to_array(
    image: Image.Image,
    size: tuple[int, int],
    *,
    resize: Literal["squash", "center_crop"],
    resample: Image.Resampling = Image.Resampling.BICUBIC,
    crop_fraction: float = 1.0,
) -> np.ndarray:
    """A model's input: uint8 array height x width x 3 of `image` resized to `size`.

    `size` is (width, height), as Pillow takes it. `squash` stretches the whole image to
    it; `center_crop` first cuts the largest centred region of the target's aspect ratio
    (for a square target: a square of the shorter side), scaled by `crop_fraction` (0.875
    reproduces ImageNet's resize-to-256-then-crop-224), so nothing is distorted.
    """
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {size}")
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
    image = as_rgb(image)
    if resize == "center_crop":
        source_w, source_h = image.size
        crop_w = round(min(source_w, source_h * width / height) * crop_fraction)
        crop_h = round(min(source_h, source_w * height / width) * crop_fraction)
        left, top = (source_w - crop_w) // 2, (source_h - crop_h) // 2
        # Crop, then resize: the filter sees only the kept region, so nothing outside it
        # bleeds into the edges.
        image = image.crop((left, top, left + max(crop_w, 1), top + max(crop_h, 1)))
    elif resize != "squash":
        raise ValueError(f"resize must be 'squash' or 'center_crop', got {resize!r}")
    return np.array(image.resize(size, resample), dtype=np.uint8)
