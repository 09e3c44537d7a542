"""What callers see of the registry: frozen pydantic records. ORM rows never leave the package."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class Lineage(BaseModel):
    """Where a version came from: enough to reproduce it or to explain a regression."""

    model_config = ConfigDict(frozen=True)

    dataset_sha256: dict[str, str] = Field(default_factory=dict)
    git_revision: str | None = None
    library_versions: dict[str, str] = Field(default_factory=dict)
    python_version: str | None = None
    training_seconds: float | None = None
    profile: str | None = None
    report_files: list[str] = Field(default_factory=list)


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
