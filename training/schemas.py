"""Field types shared by several schemas, with the limits DESIGN.md section 4 documents."""

import binascii
from typing import Annotated, Self, cast

from PIL import Image
from pydantic import AfterValidator, Field, PrivateAttr, StringConstraints

from training.data.images import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageError,
    InvalidImageError,
    check_image,
    decode_image,
)
from training.spec import PredictionError, Schema

MAX_TEXT_CHARS = 5_000
NOT_BLANK = r"[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""JSON Schema `pattern` of a string that trimming leaves non-empty.

Validation trims what Unicode calls white space (the characters listed) before it counts
characters; a string of only those is refused like an empty one, and the schema says so.
"""

Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    Field(
        description=f"free text, 1 to {MAX_TEXT_CHARS:,} characters after trimming",
        json_schema_extra={"pattern": NOT_BLANK},
    ),
]
"""Non-empty text: whitespace-only input is refused like an empty string."""

Pixel = Annotated[int, Field(ge=0, le=255)]
Pixels = Annotated[
    list[Pixel],
    Field(
        min_length=784,
        max_length=784,
        description="a 28x28 grey-scale image: 784 integers 0-255, row-major, 0 = background",
    ),
]


MAX_IMAGE_BASE64_CHARS = 4 * -(-MAX_IMAGE_BYTES // 3)
"""Base64 of MAX_IMAGE_BYTES: 4 characters per 3 bytes, padded (6,666,668)."""
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![\s\S])"
"""JSON Schema `pattern` of what the strict decoder accepts: standard alphabet, padded.

It ends in "nothing follows" rather than `$`, which in Python also matches before a final
newline (that the decoder refuses).
"""


def image_from_base64(value: str, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """The RGB image of a base64 string (strict: standard alphabet, padded, one line).

    `draft_size`: see `decode_image` (lets a JPEG decode at a reduced scale).
    """
    return decode_image(_base64_bytes(value), draft_size=draft_size)


def _base64_bytes(value: str) -> bytes:
    if value.startswith("data:"):
        raise InvalidImageError(
            "send the bare base64 of the file, without the 'data:...;base64,' prefix"
        )
    try:
        # Exactly what BASE64 describes: strict mode refuses stray characters and misplaced
        # padding, and the length the padding after a complete group that it lets through.
        if len(value) % 4:
            raise binascii.Error("not a whole number of 4-character groups")
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError(
            "not valid base64: encode the file's bytes with the standard alphabet "
            "(A-Z, a-z, 0-9, +, /) and '=' padding, on one line without spaces"
        ) from None


def _check_image_base64(value: str) -> str:
    # Header and limits only (microseconds, on the event loop): the pixels are decoded
    # once, by the model, in its worker thread. An ImageError is a ValueError: a 422.
    check_image(_base64_bytes(value))
    return value


ImageBase64 = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_IMAGE_BASE64_CHARS),
    AfterValidator(_check_image_base64),
    Field(
        description=(
            "an image file (JPEG, PNG, WebP or GIF; first frame used), base64-encoded with "
            f"padding: at most {MAX_IMAGE_BYTES:,} bytes before encoding "
            f"({MAX_IMAGE_BASE64_CHARS:,} characters) and {MAX_IMAGE_PIXELS:,} pixels"
        ),
        json_schema_extra={
            "contentEncoding": "base64",
            "contentMediaType": "image/*",
            "pattern": BASE64,
        },
    ),
]
"""An image in JSON, checked up to its header; the schema keeps the string, not the pixels.

Validation refuses bad base64, unsupported formats and images over the limits; the model
decodes the pixels in its worker thread, where a truncated file is found and answered as
a 422 on `image_base64`.
"""


class ImageInput(Schema):
    """A request carrying one image as `image_base64`; a model's input schema derives it."""

    image_base64: ImageBase64
    _upload: bytes | None = PrivateAttr(None)

    @classmethod
    def from_upload(cls, data: bytes) -> Self:
        """An instance for an uploaded file, never re-encoded to base64.

        Decoding waits for `image()`, which the model calls in its worker thread: the event
        loop only reads the bytes. An upload that is not an image raises `ImageError` there.
        """
        instance = cast(Self, cls.model_construct(image_base64=""))
        instance._upload = data
        return instance

    def image(self, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
        """The decoded RGB image, upright.

        An upload that cannot be decoded raises its `ImageError` (the route's `file`); an
        instance's `image_base64` a `PredictionError` naming that field.
        """
        if self._upload is not None:
            return decode_image(self._upload, draft_size=draft_size)
        try:
            return image_from_base64(self.image_base64, draft_size=draft_size)
        except ImageError as error:
            raise PredictionError("image_base64", error.message) from None
