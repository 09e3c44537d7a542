"""JSON: an artifact dataclass (nested dataclasses allowed) stored as one validated JSON file."""

from collections.abc import Mapping
from typing import ClassVar

from pydantic import TypeAdapter

from training.spec import ArtT, CfgT, DataT, InT, LoadContext, ModelSpec, OutT, snake_case


class JsonSpec(ModelSpec[InT, OutT, CfgT, DataT, ArtT]):
    """A model whose whole artifact is data: tuned settings, test results, summaries."""

    flavor: ClassVar[str] = "json"
    artifact_name: ClassVar[str | None] = None
    """The file's stem; default: the artifact class in snake case (`Chi2Results` → chi2_results)."""

    @property
    def artifact_file(self) -> str:
        return f"{self.artifact_name or snake_case(self.artifact_type.__name__)}.json"

    def save(self, artifact: ArtT) -> dict[str, bytes]:
        return {self.artifact_file: TypeAdapter(self.artifact_type).dump_json(artifact)}

    def load(self, files: Mapping[str, bytes], context: LoadContext) -> ArtT:
        return TypeAdapter(self.artifact_type).validate_json(files[self.artifact_file])
