"""Artifacts as dataclasses: one field holds the framework's object, the others are JSON.

A model's artifact is its own frozen dataclass (`SpamModel(estimator, search)`), so its
code reads `artifact.search.chosen`, not `meta["candidates"][meta["best_index"]]`. The
framework stores the object field in its own format and every other field, typed by the
dataclass annotations, in `meta.json`; loading validates that JSON back into those types.
A `RUNTIME` field (a compiled graph, see `compiled.py`) is neither: it is stored as a
file of its own and opened on load.
"""

import dataclasses
import typing
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter

from model_registry.errors import ArtifactIntegrityError
from model_registry.flavors import dump_json, load_json

META_FILE = "meta.json"
RUNTIME: Mapping[str, bool] = MappingProxyType({"runtime": True})
"""Metadata of an artifact field for what serving runs (`field(default=None, metadata=RUNTIME)`):
kept out of `meta.json`, stored and opened by the framework."""


def _field_types(artifact_type: type) -> dict[str, Any]:
    if not dataclasses.is_dataclass(artifact_type):
        raise TypeError(f"{artifact_type.__name__} must be a dataclass to be stored by a framework")
    hints = typing.get_type_hints(artifact_type)
    return {
        field.name: hints[field.name]
        for field in dataclasses.fields(artifact_type)
        if not field.metadata.get("runtime")
    }


def dump_meta(artifact: Any, object_field: str) -> bytes:
    """Every field but `object_field`, as JSON."""
    types = _field_types(type(artifact))
    return dump_json({
        name: TypeAdapter(kind).dump_python(getattr(artifact, name), mode="json")
        for name, kind in types.items() if name != object_field
    })  # fmt: skip


def rebuild(artifact_type: type, object_field: str, value: Any, files: Mapping[str, bytes]) -> Any:
    """The artifact from its framework object and `meta.json`, validated against its types."""
    types = _field_types(artifact_type)
    stored = load_json(files[META_FILE]) if META_FILE in files else {}
    for name, kind in types.items():
        # Versions saved before a group of fields became a dataclass of its own (a search
        # result's candidates and best index) stored those fields at the top level.
        if name not in stored and dataclasses.is_dataclass(kind):
            inner = {field.name for field in dataclasses.fields(kind)}
            if inner <= set(stored):
                stored[name] = {key: stored[key] for key in inner}
    missing = set(types) - {object_field} - set(stored)
    if missing:
        raise ArtifactIntegrityError(
            f"{META_FILE} lacks {sorted(missing)}: the version was saved by other code"
        )
    meta = {
        name: TypeAdapter(kind).validate_python(stored[name])
        for name, kind in types.items() if name != object_field
    }  # fmt: skip
    return artifact_type(**{object_field: value}, **meta)
