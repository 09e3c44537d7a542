"""The alphabets of model names, aliases and artifact file names, and the version range.

Names reach URLs, SQL and bundle manifests, so they are checked once, here, against
narrow patterns rather than escaped wherever they are used.
"""

import re

from model_registry.errors import InvalidNameError

MODEL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# Logical file names inside a version, e.g. "model.skops" or "report/roc.png". They never
# become filesystem paths (blobs are stored by hash), but they are shown in URLs.
FILE_NAME = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}){0,3}$"
)

MAX_VERSION = 2**63 - 1
"""The largest version number: a signed 64-bit integer, what SQLite and BIGINT hold."""


def is_possible_version(version: int) -> bool:
    """Whether `version` could exist; a number beyond the range never reaches the database."""
    return 1 <= version <= MAX_VERSION


def check_model_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name):
        raise InvalidNameError(
            f"invalid model name {name!r}: use 1-64 lower-case letters, digits and inner hyphens"
        )
    return name


def check_alias(alias: str) -> str:
    if not ALIAS_NAME.fullmatch(alias):
        raise InvalidNameError(
            f"invalid alias {alias!r}: start with a letter; then letters, digits, '-' or '_'"
        )
    return alias


def check_file_name(name: str) -> str:
    if not FILE_NAME.fullmatch(name) or ".." in name.split("/"):
        raise InvalidNameError(f"invalid artifact file name {name!r}")
    return name
