"""The model registry: immutable numbered versions, movable aliases, verified artifacts.

It knows nothing of FastAPI or of training: it stores bytes, metadata and pointers.
"""

from model_registry.artifact_store import ContentStore
from model_registry.bundle import export_bundle, import_bundle
from model_registry.errors import (
    AliasNotFoundError,
    ArtifactIntegrityError,
    ArtifactMissingError,
    InvalidNameError,
    ModelNotFoundError,
    RegistryError,
    RegistryUnavailableError,
    UnsafeBundleError,
    VersionConflictError,
    VersionNotFoundError,
)
from model_registry.names import MAX_VERSION
from model_registry.registry import ModelRegistry
from model_registry.settings import RegistrySettings
from model_registry.versions import FileRef, Lineage, ModelVersion, RegisteredModel, Signature

__all__ = [
    "MAX_VERSION",
    "AliasNotFoundError",
    "ArtifactIntegrityError",
    "ArtifactMissingError",
    "ContentStore",
    "FileRef",
    "InvalidNameError",
    "Lineage",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelVersion",
    "RegisteredModel",
    "RegistryError",
    "RegistrySettings",
    "RegistryUnavailableError",
    "Signature",
    "UnsafeBundleError",
    "VersionConflictError",
    "VersionNotFoundError",
    "export_bundle",
    "import_bundle",
]
