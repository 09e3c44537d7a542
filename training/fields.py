"""Field types shared by several schemas, with the limits DESIGN.md section 4 documents."""

from typing import Annotated

from pydantic import Field, StringConstraints

MAX_TEXT_CHARS = 5_000

Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    Field(description=f"free text, 1 to {MAX_TEXT_CHARS:,} characters after trimming"),
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
