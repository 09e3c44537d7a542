"""What callers see of the registry: frozen pydantic records. ORM rows never leave the package."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FileRef(BaseModel):
    """One stored file of a version, addressed by its content."""

    model_config = ConfigDict(frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Signature(BaseModel):
    """JSON Schemas of what the model takes and returns (empty for report-only analyses)."""

    model_config = ConfigDict(frozen=True)

    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None


DIRTY_SUFFIX = "-dirty"


class Lineage(BaseModel):
    """Where a version came from: enough to reproduce it or to explain a regression.

    The version's `params` (training config) and `metrics` complete it. Fields added
    later default to unknown, so versions published before them still load.
    """

    model_config = ConfigDict(frozen=True)

    dataset_sha256: dict[str, str] = Field(
        default_factory=dict, description="sha256 of each dataset it trained on, by dataset name"
    )
    git_revision: str | None = Field(None, description="commit of the code that trained it")
    has_uncommitted_changes: bool | None = Field(
        None,
        description="tracked files differed from `git_revision`, so that commit alone "
        "does not reproduce the version (null: not trained from a git checkout)",
    )
    parent_version: int | None = Field(
        None,
        ge=1,
        description="the `production` version when this one was published: the champion "
        "it was compared against (null: there was none)",
    )
    library_versions: dict[str, str] = Field(default_factory=dict)
    python_version: str | None = None
    training_seconds: float | None = None
    profile: str | None = None
    report_files: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _split_dirty_suffix(cls, data: Any) -> Any:
        """Versions published before the flag existed marked a dirty tree `<commit>-dirty`."""
        if not isinstance(data, dict) or "has_uncommitted_changes" in data:
            return data
        revision = data.get("git_revision")
        if not isinstance(revision, str):
            return data
        is_dirty = revision.endswith(DIRTY_SUFFIX)
        return {
            **data,
            "git_revision": revision.removesuffix(DIRTY_SUFFIX),
            "has_uncommitted_changes": is_dirty,
        }


class ModelVersion(BaseModel):
    """An immutable trained artifact: numbered, hashed, with its lineage."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int = Field(ge=1)
    flavor: str
    created_at: datetime
    files: dict[str, FileRef]
    signature: Signature = Signature()
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    lineage: Lineage = Lineage()
    aliases: tuple[str, ...] = ()


class RegisteredModel(BaseModel):
    """A model name with its version count and alias pointers."""

    model_config = ConfigDict(frozen=True)

    name: str
    latest_version: int
    versions: tuple[int, ...]
    aliases: dict[str, int]
    created_at: datetime
