"""NumPy: an artifact dataclass of arrays stored as one `.npz`, loaded without pickle."""

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from model_registry.flavors import dump_npz, load_npz
from training.spec import ArtT, CfgT, DataT, InT, LoadContext, ModelSpec, OutT, snake_case


class NumpySpec(ModelSpec[InT, OutT, CfgT, DataT, ArtT]):
    """A model whose artifact is a dataclass of arrays (PCA axes, regression weights...)."""

    flavor: ClassVar[str] = "numpy"

    @property
    def artifact_file(self) -> str:
        """`Pca` → `pca.npz`."""
        return f"{snake_case(self.artifact_type.__name__)}.npz"

    def save(self, artifact: ArtT) -> dict[str, bytes]:
        arrays: dict[str, Any] = {
            field.name: getattr(artifact, field.name)
            for field in dataclasses.fields(artifact)  # type: ignore[arg-type]
        }
        return {self.artifact_file: dump_npz(arrays)}

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> ArtT:
        return self.artifact_type(**load_npz(files[self.artifact_file]))
